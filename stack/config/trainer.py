"""The trainer's code: where it lies, which module runs, and how its image is built."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from providers.cloud_build_spec import MAX_BUILD_TIMEOUT_SECONDS
from stack import schema
from stack.config.reader import Reader, duration_seconds

IMAGE_BUILDERS = ("docker", "cloudbuild")
# The trainer this repository ships (the course's taxi classifier, with its model server).
BUNDLED_TRAINER = schema.PROJECT_DIR / "training"
PYTHON_MODULE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


@dataclass(frozen=True)
class TrainerSettings:
    source_dir: Path
    module: str
    image_builder: str
    build_timeout_seconds: int

    @property
    def is_bundled(self) -> bool:
        """The stack's own trainer: taxi flags, `--job-dir` and the model server apply only to it."""
        return self.source_dir == BUNDLED_TRAINER.resolve()


def read_trainer(read: Reader) -> TrainerSettings:
    text = read.value("trainerSource")
    source = Path(text).expanduser()
    source = (source if source.is_absolute() else schema.PROJECT_DIR / source).resolve()
    read.check(source.is_dir(), "trainerSource", text, f"no such directory ({source})")
    module = read.value("trainerModule")
    read.check(bool(PYTHON_MODULE.match(module)), "trainerModule", module, "a dotted module name such as trainer.task")
    builder = read.value("imageBuilder")
    read.check(builder in IMAGE_BUILDERS, "imageBuilder", builder, f"one of {', '.join(IMAGE_BUILDERS)}")
    timeout_text = read.value("imageBuildTimeout")
    timeout = duration_seconds(timeout_text)
    read.check(
        timeout is not None and 60 <= timeout <= MAX_BUILD_TIMEOUT_SECONDS, "imageBuildTimeout", timeout_text,
        "a duration between one minute and 24 hours such as 20m or 1h",
    )  # fmt: skip
    return TrainerSettings(source_dir=source, module=module, image_builder=builder, build_timeout_seconds=timeout or 0)


def check_trainer_files(read: Reader, trainer: TrainerSettings, builds_image: bool, builds_package: bool) -> None:
    """What the configuration builds must be there: a Dockerfile for an image, a pyproject.toml for a package."""
    if not trainer.source_dir.is_dir():
        return  # reported by read_trainer
    wanted = [("Dockerfile", "container mode and serving build", builds_image),
              ("pyproject.toml", "package mode builds an sdist from", builds_package)]  # fmt: skip
    for name, what, needed in wanted:
        path = trainer.source_dir / name
        if needed:
            read.check(
                path.is_file(), "trainerSource", read.value("trainerSource"), f"{what} {path}, which does not exist"
            )
