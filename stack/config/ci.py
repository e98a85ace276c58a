"""Keyless CI's settings: the GitHub repository allowed to deploy."""

from __future__ import annotations

import re
from dataclasses import dataclass

from stack.config.reader import Reader

GITHUB_REPOSITORY = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")
GIT_REF = re.compile(r"^refs/(heads|tags)/[A-Za-z0-9._/-]+$")


@dataclass(frozen=True)
class GithubSettings:
    repository: str
    repository_id: str
    deploy_ref: str

    @property
    def enabled(self) -> bool:
        return bool(self.repository)


def read_github(read: Reader) -> GithubSettings:
    repository = read.value("githubRepository")
    read.check(
        not repository or bool(GITHUB_REPOSITORY.match(repository)),
        "githubRepository",
        repository,
        "OWNER/NAME of a GitHub repository (empty disables the CI identity)",
    )
    repository_id = read.value("githubRepositoryId")
    read.check(
        not repository_id or repository_id.isdigit(),
        "githubRepositoryId",
        repository_id,
        "the repository's numeric id (gh api repos/OWNER/NAME --jq .id)",
    )
    read.check(
        not repository_id or bool(repository),
        "githubRepositoryId",
        repository_id,
        "only meaningful together with githubRepository",
    )
    deploy_ref = read.value("githubDeployRef")
    read.check(
        bool(GIT_REF.match(deploy_ref)),
        "githubDeployRef",
        deploy_ref,
        "a full git ref such as refs/heads/main or refs/tags/v1",
    )
    return GithubSettings(repository=repository, repository_id=repository_id, deploy_ref=deploy_ref)
