"""The stack's configuration: `pulumi.Config` in, one frozen and validated `Settings` out.

Every key of `Pulumi.yaml`'s `config:` schema is read in this package and nowhere else; its
defaults come from that file (`stack.schema`), platform facts from `stack.catalog`. Each module
holds one concern's settings and their rules. All problems are collected and reported together
in one `ConfigError`, each naming the key, the value and the rule it breaks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from stack.config.ci import GithubSettings, read_github
from stack.config.project import (
    BucketSettings,
    RegistrySettings,
    read_bucket,
    read_encryption_key,
    read_labels,
    read_location,
    read_project,
    read_registry,
)
from stack.config.reader import ConfigError, Reader
from stack.config.training import TrainingSettings, read_training
from stack.config.workstation import VmSettings, read_vm

__all__ = [
    "BucketSettings", "ConfigError", "GithubSettings", "RegistrySettings", "Settings", "TrainingSettings",
    "VmSettings", "load_from_pulumi", "load_settings",
]  # fmt: skip


@dataclass(frozen=True)
class Settings:
    project: str
    region: str
    zone: str
    stack: str
    bucket: BucketSettings
    vm: VmSettings
    registry: RegistrySettings
    training: TrainingSettings
    github: GithubSettings
    encryption_key: str
    extra_labels: Mapping[str, str] = field(default_factory=dict)

    @property
    def uses_cmek(self) -> bool:
        return bool(self.encryption_key)


def load_settings(
    project_config: Callable[[str], str | None],
    gcp_config: Callable[[str], str | None],
    stack: str,
) -> Settings:
    """Validate the whole configuration; raise one `ConfigError` listing every problem.

    `project_config` and `gcp_config` return the raw string value of a key (or None), as
    `pulumi.Config(...).get` does; this keeps the package testable without the runtime.
    """
    read = Reader(project_config, [])
    project = read_project(read, gcp_config)
    region, zone = read_location(read, gcp_config)
    bucket = read_bucket(read, project, stack, region)
    settings = Settings(
        project=project,
        region=region,
        zone=zone,
        stack=stack,
        bucket=bucket,
        vm=read_vm(read),
        registry=read_registry(read),
        training=read_training(read, region),
        github=read_github(read),
        encryption_key=read_encryption_key(read, region, bucket.location),
        extra_labels=read_labels(read),
    )
    if read.problems:
        raise ConfigError(read.problems)
    return settings


def load_from_pulumi() -> Settings:
    """`load_settings` over the running program's configuration."""
    import pulumi

    return load_settings(pulumi.Config().get, pulumi.Config("gcp").get, pulumi.get_stack())
