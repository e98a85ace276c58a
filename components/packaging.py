"""Content-addressed trainer artefacts: the build context's hash and a deterministic sdist.

Both are computed while the Pulumi program runs. The image tag and the package's object name
are derived from the trainer's code only, so they change exactly when the code does: an
unchanged `training/` gives the same name, nothing is rebuilt or uploaded, and the training
job (whose inputs carry the name) is not run again.

- `context_hash` hashes what `docker build` would send: `.dockerignore` is honoured, file
  contents and the executable bit count, modification times and ignored files do not.
- `build_sdist` writes a source distribution whose bytes depend only on the package files:
  sorted entries, a fixed mtime, owner 0:0, plain ustar headers, gzip mtime 0.
- `TrainerPackage` uploads that sdist to the data bucket under `packages/<hash>/` for
  Vertex AI's Python-package training (a prebuilt PyTorch image runs `python -m MODULE`).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import re
import stat
import tarfile
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Optional

import pulumi
import pulumi_gcp as gcp

from components.storage import PREFIXES, DataBucket

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TRAINING_DIR = PROJECT_ROOT / "training"
# Built artefacts live here between runs (content-addressed, so concurrent runs never clash).
BUILD_CACHE = PROJECT_ROOT / ".pulumi-build"

DOCKERIGNORE = ".dockerignore"
# Hex digits of the SHA-256 used in image tags and object names (64 bits: collisions are moot).
SHORT_HASH_LENGTH = 16
# 1980-01-01T00:00:00Z: the earliest time a zip can hold, the usual reproducible-build epoch.
FIXED_MTIME = 315532800
# Never part of an sdist, whatever the package directory holds.
COMPILED_FILE = re.compile(r"(^|/)__pycache__(/|$)|\.py[cod]$")


def project_relative(path: Path) -> str:
    """`path` relative to the project root, Pulumi's working directory (absolute if outside it).

    Resource inputs that name local files use it, so that the stack's state does not depend on
    where the checkout lies.
    """
    resolved = path.resolve()
    if resolved.is_relative_to(PROJECT_ROOT):
        return resolved.relative_to(PROJECT_ROOT).as_posix()
    return str(resolved)


# --- the Docker build context -------------------------------------------------------------

@dataclass(frozen=True)
class IgnorePattern:
    """One `.dockerignore` line, compiled as Docker (moby/patternmatcher) compiles it."""

    text: str
    regex: re.Pattern[str]
    exclusion: bool

    def matches(self, path: str) -> bool:
        """Whether the pattern matches `path` or one of its parent directories."""
        parts = path.split("/")
        return any(self.regex.fullmatch("/".join(parts[:depth])) for depth in range(len(parts), 0, -1))


def compile_ignore_pattern(line: str) -> Optional[IgnorePattern]:
    """The pattern of one `.dockerignore` line, or None for blank lines and comments."""
    text = line.strip()
    if not text or text.startswith("#"):
        return None
    exclusion = text.startswith("!")
    pattern = os.path.normpath(text[1:].strip() if exclusion else text).replace(os.sep, "/").lstrip("/")
    return IgnorePattern(text, re.compile(_glob_to_regex(pattern)), exclusion)


def _glob_to_regex(pattern: str) -> str:
    regex, i = "", 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**", i):
            i += 2
            if pattern.startswith("/", i):
                i += 1
            # "**/" spans any number of directories (none included); a trailing "**" everything.
            regex += ".*" if i >= len(pattern) else "(?:.*/)?"
            continue
        if char == "*":
            regex += "[^/]*"
        elif char == "?":
            regex += "[^/]"
        elif char == "[":
            end = pattern.find("]", i + 1)
            if end < 0:
                regex += re.escape(char)
            else:
                body = pattern[i + 1:end]
                regex += "[" + ("^" + body[1:] if body.startswith("^") else body).replace("\\", "\\\\") + "]"
                i = end
        elif char == "\\" and i + 1 < len(pattern):
            i += 1
            regex += re.escape(pattern[i])
        else:
            regex += re.escape(char)
        i += 1
    return regex


def read_dockerignore(context: Path) -> list[IgnorePattern]:
    ignore_file = context / DOCKERIGNORE
    if not ignore_file.is_file():
        return []
    lines = ignore_file.read_text(encoding="utf-8").splitlines()
    return [pattern for pattern in map(compile_ignore_pattern, lines) if pattern]


def is_ignored(path: str, patterns: Iterable[IgnorePattern]) -> bool:
    """Docker's rule: the last pattern that matches decides; `!` patterns re-include."""
    ignored = False
    for pattern in patterns:
        if pattern.matches(path):
            ignored = not pattern.exclusion
    return ignored


def _walk(root: Path) -> list[str]:
    """Every file and symlink under `root`, as sorted POSIX paths relative to it."""
    found = []
    for directory, dirnames, filenames in os.walk(root):
        relative = Path(directory).relative_to(root)
        found += [(relative / name).as_posix() for name in filenames]
        # Symlinked directories are sent by Docker as links, not followed.
        found += [(relative / name).as_posix() for name in dirnames if (Path(directory) / name).is_symlink()]
    return sorted(found)


def context_files(context: Path) -> list[str]:
    """The files of the build context that `docker build` would send, sorted."""
    patterns = read_dockerignore(context)
    return [path for path in _walk(context) if not is_ignored(path, patterns)]


def _normalised_mode(path: Path) -> int:
    # Only the executable bit is kept (as git does): permissions otherwise differ by umask
    # between checkouts of the same commit.
    return 0o755 if path.stat().st_mode & stat.S_IXUSR else 0o644


def _hash_entry(digest: "hashlib._Hash", name: str, path: Path) -> None:
    if path.is_symlink():
        kind, mode, content = "link", 0o777, os.readlink(path).encode()
    else:
        kind, mode, content = "file", _normalised_mode(path), path.read_bytes()
    # Length-prefixed, so no two different trees can produce the same byte stream.
    digest.update(f"{kind} {mode:o} {len(content)} {name}\0".encode())
    digest.update(content)


def context_hash(context: Path, dockerfile: Optional[Path] = None,
                 build_args: Optional[Mapping[str, str]] = None) -> str:
    """SHA-256 (hex) of the build context as `docker build` sees it, plus the Dockerfile and
    the build arguments (the same files built with other arguments are another image).

    The Dockerfile counts even when `.dockerignore` lists it: Docker always reads it.
    """
    digest = hashlib.sha256()
    for name in context_files(context):
        _hash_entry(digest, name, context / name)
    if dockerfile is not None:
        _hash_entry(digest, "\0dockerfile", dockerfile)
    for key, value in sorted((build_args or {}).items()):
        digest.update(f"\0arg\0{key}\0{value}\0".encode())
    return digest.hexdigest()


def image_tag(context: Path, dockerfile: Optional[Path] = None,
              build_args: Optional[Mapping[str, str]] = None) -> str:
    """The image tag for a build context: the start of its content hash."""
    return context_hash(context, dockerfile, build_args)[:SHORT_HASH_LENGTH]


# --- the source distribution --------------------------------------------------------------

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


@dataclass(frozen=True)
class _Project:
    """What an sdist needs from `pyproject.toml`."""

    name: str
    version: str
    summary: str
    requires_python: str
    files: tuple[str, ...]


def _named_files(value: object, plain_string: bool = False) -> list[str]:
    """The files a pyproject value names: `{file = "X"}`, `{file = ["X", "Y"]}` or, for readme, "X"."""
    if plain_string and isinstance(value, str):
        return [value]
    named = value.get("file", []) if isinstance(value, dict) else []
    return [named] if isinstance(named, str) else list(named)


def _read_project(source_dir: Path) -> _Project:
    pyproject = tomllib.loads((source_dir / "pyproject.toml").read_text(encoding="utf-8"))
    project = pyproject.get("project") or {}
    if "name" not in project or "version" not in project:
        raise ValueError(f"{source_dir / 'pyproject.toml'}: [project] needs a static name and version")
    setuptools_config = (pyproject.get("tool") or {}).get("setuptools") or {}

    # setuptools only warns about a missing readme; every other referenced file is required.
    optional = ["setup.cfg", "setup.py", "MANIFEST.in", *_named_files(project.get("readme"), plain_string=True)]
    referenced = ["pyproject.toml"] + [name for name in optional if (source_dir / name).is_file()]
    referenced += _named_files(project.get("license"))
    for dynamic in (setuptools_config.get("dynamic") or {}).values():
        referenced += _named_files(dynamic)
    missing = [name for name in referenced if not (source_dir / name).is_file()]
    if missing:
        raise FileNotFoundError(f"{source_dir}: pyproject.toml refers to missing file(s) {', '.join(missing)}")

    packages = setuptools_config.get("packages")
    if not isinstance(packages, list):
        # Automatic discovery, as setuptools' flat layout does it: top-level import packages.
        packages = sorted(p.name for p in source_dir.iterdir()
                          if (p / "__init__.py").is_file() and p.name not in ("tests", "test"))
    package_dirs = [package.replace(".", "/") for package in packages]
    package_files = {f"{directory}/{path}" for directory in package_dirs for path in _walk(source_dir / directory)}
    files = sorted(set(referenced) | {path for path in package_files if not COMPILED_FILE.search(path)})
    return _Project(
        name=project["name"], version=str(project["version"]), summary=project.get("description", ""),
        requires_python=project.get("requires-python", ""), files=tuple(files),
    )


def _pkg_info(project: _Project) -> bytes:
    lines = ["Metadata-Version: 2.1", f"Name: {project.name}", f"Version: {project.version}"]
    lines += [f"Summary: {project.summary}"] if project.summary else []
    lines += [f"Requires-Python: {project.requires_python}"] if project.requires_python else []
    return ("\n".join(lines) + "\n").encode()


def _tar_entry(name: str, content: bytes, mode: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(content), mode, FIXED_MTIME
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def sdist_bytes(source_dir: Path) -> tuple[str, bytes]:
    """The file name and the bytes of `source_dir`'s sdist; the same files give the same bytes."""
    project = _read_project(source_dir)
    # PEP 625 file name: the normalised project name, then the version.
    base = f"{re.sub(r'[-_.]+', '_', project.name).lower()}-{project.version}"
    entries = [(f"{base}/PKG-INFO", _pkg_info(project), 0o644)]
    entries += [(f"{base}/{name}", (source_dir / name).read_bytes(), _normalised_mode(source_dir / name))
                for name in project.files]

    archive = io.BytesIO()
    # ustar: no pax headers, which would carry access and change times.
    with tarfile.open(fileobj=archive, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, content, mode in sorted(entries):
            tar.addfile(_tar_entry(name, content, mode), io.BytesIO(content))
    compressed = io.BytesIO()
    # No file name and mtime 0 in the gzip header.
    with gzip.GzipFile(filename="", mode="wb", fileobj=compressed, mtime=0) as gz:
        gz.write(archive.getvalue())
    return f"{base}.tar.gz", compressed.getvalue()


def build_sdist(source_dir: Path, cache_dir: Path = BUILD_CACHE) -> Sdist:
    """Build `source_dir`'s sdist into `cache_dir/packages/<hash>/` and describe it."""
    filename, content = sdist_bytes(source_dir)
    sha256 = hashlib.sha256(content).hexdigest()
    target = cache_dir / "packages" / sha256[:SHORT_HASH_LENGTH] / filename
    if not (target.is_file() and target.read_bytes() == content):
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{filename}.{os.getpid()}.partial")
        partial.write_bytes(content)
        os.replace(partial, target)
    return Sdist(path=target, sha256=sha256)


# --- the uploaded package -----------------------------------------------------------------

@dataclass
class TrainerPackageArgs:
    bucket: DataBucket
    # The prebuilt Vertex AI image that installs and runs the package (settings.training.executor_image).
    executor_image: str
    source_dir: Path = TRAINING_DIR
    python_module: str = "trainer.task"
    cache_dir: Path = BUILD_CACHE


class TrainerPackage(pulumi.ComponentResource):
    """The trainer as a Python package for Vertex AI (`trainingMode: package`).

    The sdist is built while the program runs (also on preview) and uploaded as
    `gs://BUCKET/packages/<hash>/<name>-<version>.tar.gz`: a code change gives a new object
    name, so the object is replaced and the job that uses `package_uri` runs again; unchanged
    code keeps the name and nothing happens. Old objects stay noncurrent in the versioned
    bucket until its lifecycle rules remove them.
    """

    sdist: Sdist
    object: gcp.storage.BucketObject
    package_uri: pulumi.Output[str]
    executor_image: str
    python_module: str

    def __init__(self, name: str, args: TrainerPackageArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("gcp-mlops:training:TrainerPackage", name, None, opts)
        self.sdist = build_sdist(args.source_dir, args.cache_dir)
        self.object_name = f"{PREFIXES['packages']}{self.sdist.short_hash}/{self.sdist.filename}"
        self.object = gcp.storage.BucketObject(
            "sdist",
            bucket=args.bucket.name,
            name=self.object_name,
            source=pulumi.FileAsset(project_relative(self.sdist.path)),
            content_type="application/gzip",
            metadata={"sha256": self.sdist.sha256},
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.package_uri = pulumi.Output.concat("gs://", self.object.bucket, "/", self.object.name)
        self.executor_image = args.executor_image
        self.python_module = args.python_module
        self.register_outputs({
            "package_uri": self.package_uri,
            "sha256": self.sdist.sha256,
            "executor_image": self.executor_image,
            "python_module": self.python_module,
        })
