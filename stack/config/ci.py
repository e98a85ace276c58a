"""Keyless CI's settings: the GitHub repository, and which of its jobs may deploy."""

from __future__ import annotations

import re
from dataclasses import dataclass

from stack.config.reader import Reader

GITHUB_REPOSITORY = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")
GIT_REF = re.compile(r"^refs/(heads|tags)/[A-Za-z0-9._/-]+$")
# Stricter than GitHub (which also allows spaces): the name goes verbatim into a token subject.
GITHUB_ENVIRONMENT = re.compile(r"^[A-Za-z0-9._-]{1,100}$")


@dataclass(frozen=True)
class GithubSettings:
    repository: str
    repository_id: str
    owner_id: str
    deploy_ref: str
    environment: str

    @property
    def enabled(self) -> bool:
        return bool(self.repository)

    @property
    def deploy_subject_suffix(self) -> str:
        """What follows `repo:OWNER/NAME` in the `sub` claim of the jobs that may deploy."""
        return f"environment:{self.environment}" if self.environment else f"ref:{self.deploy_ref}"

    def deploy_subjects(self) -> list[str]:
        """The deploying job's `sub` claim, in GitHub's classic form and (with both ids known) in the
        immutable form that repositories created since 2026-07-15 use by default."""
        subjects = [f"repo:{self.repository}:{self.deploy_subject_suffix}"]
        if self.repository_id and self.owner_id:
            owner, name = self.repository.split("/")
            subjects.append(f"repo:{owner}@{self.owner_id}/{name}@{self.repository_id}:{self.deploy_subject_suffix}")
        return subjects


def read_github(read: Reader) -> GithubSettings:
    repository = read.value("githubRepository")
    read.check(
        not repository or bool(GITHUB_REPOSITORY.match(repository)), "githubRepository", repository,
        "OWNER/NAME of a GitHub repository (empty disables the CI identities)",
    )  # fmt: skip
    ids = {}
    for key, how in (("githubRepositoryId", ".id"), ("githubOwnerId", ".owner.id")):
        value = ids[key] = read.value(key)
        read.check(not value or value.isdigit(), key, value, f"a numeric id (gh api repos/OWNER/NAME --jq {how})")
        read.check(not value or bool(repository), key, value, "only meaningful together with githubRepository")
    deploy_ref = read.value("githubDeployRef")
    read.check(
        bool(GIT_REF.match(deploy_ref)), "githubDeployRef", deploy_ref,
        "a full git ref such as refs/heads/main or refs/tags/v1",
    )  # fmt: skip
    environment = read.value("githubEnvironment")
    read.check(
        not environment or bool(GITHUB_ENVIRONMENT.match(environment)), "githubEnvironment", environment,
        "a GitHub environment name of letters, digits, '.', '_' and '-' (empty: pin githubDeployRef instead)",
    )  # fmt: skip
    return GithubSettings(
        repository=repository,
        repository_id=ids["githubRepositoryId"],
        owner_id=ids["githubOwnerId"],
        deploy_ref=deploy_ref,
        environment=environment,
    )
