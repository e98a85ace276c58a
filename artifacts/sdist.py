"""The trainer's source distribution: built through a standard PEP 517 build, then normalised
so that the same source always gives the same bytes.

The build backend is whatever the source's `pyproject.toml` names (hatchling for the stack's own
trainer). Backends differ in what they put in archive headers (times, owners, permissions), so
the sdist is re-packed with sorted entries, a fixed time, owner 0:0, the executable bit as the
only permission that counts and a gzip header without time or name: same files, same bytes,
same object name, and so no new training run.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import build
import build.env
import pyproject_hooks

from artifacts.context import SHORT_HASH_LENGTH, fixed_header, reproducible_tgz


class SdistError(Exception):
    """The source cannot be built into an sdist; the message says why and what to check."""


@dataclass(frozen=True)
class Sdist:
    """A built source distribution: where it lies and what it is."""

    path: Path
    sha256: str

    @property
    def filename(self) -> str:
        return self.path.name

    @property
    def short_hash(self) -> str:
        return self.sha256[:SHORT_HASH_LENGTH]


def _normalised_entry(member: tarfile.TarInfo) -> tarfile.TarInfo:
    entry = fixed_header(member.name)
    entry.type, entry.size, entry.linkname = member.type, member.size, member.linkname
    entry.mode = 0o755 if member.isdir() or member.mode & 0o100 else 0o644
    return entry


def normalise(sdist: bytes) -> bytes:
    """The same archive with every header field that depends on time, owner or umask fixed."""
    with tarfile.open(fileobj=io.BytesIO(sdist), mode="r:*") as source:
        members = sorted(source.getmembers(), key=lambda member: member.name)
        return reproducible_tgz(
            (_normalised_entry(member), source.extractfile(member) if member.isfile() else None) for member in members
        )


@contextlib.contextmanager
def _builder(source_dir: Path) -> Iterator[build.ProjectBuilder]:
    """A builder in this environment when it has the backend, else in an isolated one (PyPI)."""
    builder = build.ProjectBuilder(source_dir, runner=pyproject_hooks.quiet_subprocess_runner)
    if not builder.check_dependencies("sdist"):
        yield builder
        return
    with build.env.DefaultIsolatedEnv() as env:
        isolated = build.ProjectBuilder.from_isolated_env(
            env, source_dir, runner=pyproject_hooks.quiet_subprocess_runner
        )
        env.install(isolated.build_system_requires)
        env.install(isolated.get_requires_for_build("sdist"))
        yield isolated


def build_sdist(source_dir: Path, cache_dir: Path) -> Sdist:
    """Build `source_dir`'s sdist into `cache_dir/packages/<hash>/` and describe it."""
    if not (source_dir / "pyproject.toml").is_file():
        raise SdistError(f"{source_dir}: no pyproject.toml, so there is nothing to build a Python package from")
    try:
        with tempfile.TemporaryDirectory(prefix="sdist-") as out, _builder(source_dir) as builder:
            built = Path(builder.build("sdist", out))
            content = normalise(built.read_bytes())
            filename = built.name
    except (build.BuildException, build.BuildBackendException, build.env.FailedProcessError) as failed:
        raise SdistError(f"{source_dir}: the PEP 517 sdist build failed: {failed}") from failed

    sha256 = hashlib.sha256(content).hexdigest()
    target = cache_dir / "packages" / sha256[:SHORT_HASH_LENGTH] / filename
    if not (target.is_file() and target.read_bytes() == content):
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{filename}.{os.getpid()}.partial")
        partial.write_bytes(content)
        os.replace(partial, target)
    return Sdist(path=target, sha256=sha256)
