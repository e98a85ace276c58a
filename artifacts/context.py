"""The Docker build context: which files `docker build` sends, a content hash of them, and an archive of them.

The image tag is derived from the context only, so it changes exactly when what the image is
built from does: unchanged code keeps the tag (nothing is rebuilt or pushed, the training job is
not run again), changed code gives a new tag. `.dockerignore` is read with docker-py's
`PatternMatcher` (a port of Docker's own matcher); file contents, symlink targets and the
executable bit count, modification times, owners and other permission bits do not.
`context_archive` packs exactly those files, normalised the same way, for a remote builder.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import stat
import tarfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO

from docker.utils.build import PatternMatcher

DOCKERIGNORE = ".dockerignore"
# Hex digits of the SHA-256 used in image tags and object names (64 bits: collisions are moot).
SHORT_HASH_LENGTH = 16
# 1980-01-01T00:00:00Z: the earliest time a zip can hold, the usual reproducible-build epoch.
ARCHIVE_MTIME = 315532800


def project_relative(path: Path, root: Path) -> str:
    """`path` relative to `root` (absolute if outside it), as a POSIX path.

    Resource inputs that name local files use it, so that a stack's state does not depend on
    where the checkout lies.
    """
    resolved = path.resolve()
    if resolved.is_relative_to(root.resolve()):
        return resolved.relative_to(root.resolve()).as_posix()
    return resolved.as_posix()


def ignore_patterns(context: Path) -> list[str]:
    """The `.dockerignore` lines that are patterns (Docker skips blank lines and comments)."""
    ignore_file = context / DOCKERIGNORE
    if not ignore_file.is_file():
        return []
    lines = (line.strip() for line in ignore_file.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def context_files(context: Path, dockerfile: str = "Dockerfile") -> list[str]:
    """The files (and symlinks) of the build context that `docker build` would send, sorted.

    As docker-py does, the Dockerfile and `.dockerignore` are always part of the context.
    """
    matcher = PatternMatcher([*ignore_patterns(context), f"!{dockerfile}"])
    files = []
    for relative in matcher.walk(str(context)):
        path = context / relative
        if path.is_symlink() or not path.is_dir():
            files.append(Path(relative).as_posix())
    return sorted(files)


def normalised_mode(path: Path) -> int:
    # Only the executable bit is kept (as git does): permissions otherwise differ by umask
    # between checkouts of the same commit.
    return 0o755 if path.stat().st_mode & stat.S_IXUSR else 0o644


def _hash_entry(digest: hashlib._Hash, name: str, path: Path) -> None:
    if path.is_symlink():
        kind, mode, content = "link", 0o777, os.readlink(path).encode()
    else:
        kind, mode, content = "file", normalised_mode(path), path.read_bytes()
    # Length-prefixed, so no two different trees can produce the same byte stream.
    digest.update(f"{kind} {mode:o} {len(content)} {name}\0".encode())
    digest.update(content)


def context_hash(context: Path, dockerfile: str = "Dockerfile", build_args: Mapping[str, str] | None = None) -> str:
    """SHA-256 (hex) of the build context as `docker build` sees it, plus the build arguments
    (the same files built with other arguments are another image)."""
    digest = hashlib.sha256()
    for name in context_files(context, dockerfile):
        _hash_entry(digest, name, context / name)
    for key, value in sorted((build_args or {}).items()):
        digest.update(f"\0arg\0{key}\0{value}\0".encode())
    return digest.hexdigest()


def image_tag(context: Path, dockerfile: str = "Dockerfile", build_args: Mapping[str, str] | None = None) -> str:
    """The image tag for a build context: the start of its content hash."""
    return context_hash(context, dockerfile, build_args)[:SHORT_HASH_LENGTH]


def fixed_header(name: str) -> tarfile.TarInfo:
    """A tar header for `name` with the fixed time and owner 0:0 of every reproducible archive here."""
    entry = tarfile.TarInfo(name)
    entry.mtime, entry.uid, entry.gid, entry.uname, entry.gname = ARCHIVE_MTIME, 0, 0, "", ""
    return entry


def reproducible_tgz(entries: Iterable[tuple[tarfile.TarInfo, IO[bytes] | None]]) -> bytes:
    """`entries` (fixed headers, in order, with their content) as a gzipped tar that depends on nothing else."""
    archive = io.BytesIO()
    # PAX headers only where a name needs them (long or non-ASCII): no times, no owners.
    with tarfile.open(fileobj=archive, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for entry, content in entries:
            tar.addfile(entry, content)
    compressed = io.BytesIO()
    # No file name and time 0 in the gzip header, so it does not vary either.
    with gzip.GzipFile(filename="", mode="wb", fileobj=compressed, mtime=0) as gz:
        gz.write(archive.getvalue())
    return compressed.getvalue()


def _archive_entry(name: str, path: Path) -> tuple[tarfile.TarInfo, IO[bytes] | None]:
    entry = fixed_header(name)
    if path.is_symlink():
        entry.type, entry.linkname, entry.mode = tarfile.SYMTYPE, os.readlink(path), 0o777
        return entry, None
    content = path.read_bytes()
    entry.size, entry.mode = len(content), normalised_mode(path)
    return entry, io.BytesIO(content)


def context_archive(context: Path, dockerfile: str = "Dockerfile") -> bytes:
    """The build context as a gzipped tar (what Cloud Build takes as a storage source): the same
    files the hash covers, sorted, with a fixed time, owner 0:0 and normalised modes, so the same
    context gives the same bytes.

    Only files and symlinks are stored, like the hash; extracting creates their directories.
    Name uploads after `context_hash`, not after these bytes: another zlib may compress differently.
    """
    return reproducible_tgz(_archive_entry(name, context / name) for name in context_files(context, dockerfile))
