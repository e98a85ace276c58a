"""The stack's configuration: `pulumi.Config` in, one frozen and validated `Settings` out.

Every key of `Pulumi.yaml`'s `config:` schema is read in this package and nowhere else; its
defaults come from that file (`stack.schema`), platform facts from `stack.catalog`. Each module
holds one concern's settings and their rules. All problems are collected and reported together
in one `ConfigError`, each naming the key, the value and the rule it breaks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from stack import schema
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
from stack.config.serving import ServingSettings, read_serving
from stack.config.trainer import TrainerSettings, check_trainer_files, read_trainer
from stack.config.training import TrainingSettings, read_training
from stack.config.workstation import VmSettings, read_vm

__all__ = [
    "BucketSettings", "ConfigError", "GithubSettings", "RegistrySettings", "ServingSettings", "Settings",
    "TrainerSettings", "TrainingSettings", "VmSettings", "load_from_pulumi", "load_settings",
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
    trainer: TrainerSettings
    training: TrainingSettings
    serving: ServingSettings
    github: GithubSettings
    encryption_key: str
    extra_labels: Mapping[str, str] = field(default_factory=dict)

    @property
    def uses_cmek(self) -> bool:
        return bool(self.encryption_key)

    @property
    def builds_image(self) -> bool:
        """The trainer image: what container-mode training and the model server run."""
        return (self.training.enabled and self.training.mode == "container") or self.serving.enabled

    @property
    def builds_package(self) -> bool:
        return self.training.enabled and self.training.mode == "package"

    @property
    def image_trains_on_gpus(self) -> bool:
        """Whether the trainer image runs GPU training (then it is built with CUDA torch; serving alone is CPU)."""
        return self.training.enabled and self.training.mode == "container" and bool(self.training.gpu_type)

    @property
    def uses_cloud_build(self) -> bool:
        return self.builds_image and self.trainer.image_builder == "cloudbuild"

    @property
    def service_accounts(self) -> tuple[str, ...]:
        """The accounts the configuration needs (components/identities.py says what each one does)."""
        wanted = {
            "trainer": self.training.enabled,
            "workstation": self.vm.enabled,
            "server": self.serving.enabled,
            "builder": self.uses_cloud_build,
            "deployer": self.github.enabled,
            "previewer": self.github.enabled,
        }
        return tuple(role for role, needed in wanted.items() if needed)


def load_settings(
    project_config: Callable[[str], str | None],
    gcp_config: Callable[[str], str | None],
    stack: str,
    set_keys: Iterable[str] = (),
) -> Settings:
    """Validate the whole configuration; raise one `ConfigError` listing every problem.

    `project_config` and `gcp_config` return the raw string value of a key (or None), as
    `pulumi.Config(...).get` does; `set_keys` are the project keys the stack sets (the Pulumi CLI
    accepts keys its schema does not declare, so the program must catch a misspelling).
    """
    read = Reader(project_config, [])
    _check_known(read, set_keys)
    project = read_project(read, gcp_config)
    region, zone = read_location(read, gcp_config)
    bucket = read_bucket(read, project, stack, region)
    trainer = read_trainer(read)
    training = read_training(read, region, trainer.is_bundled)
    serving = read_serving(read, training.enabled, trainer.is_bundled)
    settings = Settings(
        project=project,
        region=region,
        zone=zone,
        stack=stack,
        bucket=bucket,
        vm=read_vm(read),
        registry=read_registry(read),
        trainer=trainer,
        training=training,
        serving=serving,
        github=read_github(read),
        encryption_key=read_encryption_key(read, region, bucket.location),
        extra_labels=read_labels(read),
    )
    check_trainer_files(read, trainer, settings.builds_image, settings.builds_package)
    if read.problems:
        raise ConfigError(read.problems)
    return settings


def _check_known(read: Reader, set_keys: Iterable[str]) -> None:
    for key in sorted(set(set_keys) - set(schema.keys())):
        close = schema.suggestion(key)
        hint = (
            f"did you mean {close}? (`pulumi config rm {key}` and set {close})" if close else "not a key of this stack"
        )
        read.problems.append(f"{key}: unknown configuration key; {hint} — the keys are listed in Pulumi.yaml")


def load_from_pulumi() -> Settings:
    """`load_settings` over the running program's configuration."""
    import pulumi
    from pulumi.runtime.config import CONFIG

    # Every key the stack sets (the SDK offers no public enumeration; CONFIG is what Config reads).
    prefix = f"{pulumi.get_project()}:"
    set_keys = [key.removeprefix(prefix) for key in CONFIG.get() if key.startswith(prefix)]
    return load_settings(pulumi.Config().get, pulumi.Config("gcp").get, pulumi.get_stack(), set_keys)
