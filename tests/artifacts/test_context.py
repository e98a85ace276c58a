"""The Docker build context: what `docker build` sends and its content hash (artifacts/context.py)."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from artifacts import context as build_context
from artifacts.context import context_archive, context_files, context_hash
from stack.schema import PROJECT_DIR

TRAINING_DIR = PROJECT_DIR / "training"

# The trainer's data, benchmarks and run outputs are neither code nor small: leave them out of copies.
NOT_COPIED = shutil.ignore_patterns("data", "bench", "runs", "__pycache__", "*.egg-info")


@pytest.fixture
def trainer_copy(tmp_path: Path) -> Path:
    """A copy of training/ that a test may change."""
    copy = tmp_path / "training"
    shutil.copytree(TRAINING_DIR, copy, ignore=NOT_COPIED)
    return copy


def touch_everything(root: Path, seconds: int) -> None:
    for path in root.rglob("*"):
        os.utime(path, (seconds, seconds))


# --- .dockerignore ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "patterns, path, ignored",
    [
        (["tests"], "tests/test_x.py", True),
        (["tests"], "trainer/tests/test_x.py", False),
        (["**/__pycache__"], "__pycache__/a.pyc", True),
        (["**/__pycache__"], "trainer/sub/__pycache__/a.pyc", True),
        (["**/*.py[cod]"], "trainer/task.pyc", True),
        (["**/*.py[cod]"], "trainer/task.py", False),
        (["*.md", "!README.md"], "README.md", False),
        (["*.md", "!README.md"], "NOTES.md", True),
        (["/build"], "build/x", True),
        (["trainer/*.txt"], "trainer/a/b.txt", False),
        (["# comment", ""], "anything", False),
    ],
)
def test_dockerignore_patterns_follow_docker(patterns, path, ignored, tmp_path):
    """The context keeps exactly the files Docker's matcher (docker-py's port of it) keeps."""
    (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / path).write_text("x")
    (tmp_path / ".dockerignore").write_text("\n".join(patterns) + "\n")
    assert (path not in context_files(tmp_path)) is ignored


def test_build_context_is_what_the_dockerfile_copies():
    files = context_files(TRAINING_DIR)
    assert {"requirements.txt", "pyproject.toml", "Dockerfile", "trainer/task.py"} <= set(files)
    # Nothing else: an edit to the README, the tests or the tool settings must not change the image's tag.
    assert not [
        f
        for f in files
        if not f.startswith("trainer/")
        and f not in ("requirements.txt", "pyproject.toml", "Dockerfile", ".dockerignore")
    ]


# --- the image tag ------------------------------------------------------------------------


def test_context_hash_changes_with_the_code(trainer_copy):
    before = context_hash(trainer_copy)
    task = trainer_copy / "trainer" / "task.py"
    task.write_text(task.read_text() + "\n# changed\n")
    assert context_hash(trainer_copy) != before


@pytest.mark.parametrize("change", ["dockerfile", "requirements", "new_module", "executable_bit", "rename"])
def test_context_hash_changes_with_what_the_image_contains(trainer_copy, change):
    before = context_hash(trainer_copy)
    if change == "dockerfile":
        (trainer_copy / "Dockerfile").write_text((trainer_copy / "Dockerfile").read_text() + "\nENV X=1\n")
    elif change == "requirements":
        (trainer_copy / "requirements.txt").write_text("torch==0.0.1\n")
    elif change == "new_module":
        (trainer_copy / "trainer" / "extra.py").write_text("VALUE = 1\n")
    elif change == "rename":
        (trainer_copy / "trainer" / "task.py").rename(trainer_copy / "trainer" / "main.py")
    else:
        (trainer_copy / "trainer" / "task.py").chmod(0o755)
    assert context_hash(trainer_copy) != before


@pytest.mark.parametrize(
    "ignored_file",
    [
        "trainer/__pycache__/task.cpython-311.pyc",
        "tests/test_new.py",
        "data/sample/extra.csv",
        "runs/local/checkpoint.pt",
        "trainer.egg-info/PKG-INFO",
        ".venv/lib/python3.11/site.py",
        "notes.txt",
    ],
)
def test_context_hash_ignores_dockerignored_files(trainer_copy, ignored_file):
    before = context_hash(trainer_copy)
    path = trainer_copy / ignored_file
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"not part of the image")
    assert context_hash(trainer_copy) == before


def test_context_hash_ignores_times_and_group_permissions(trainer_copy):
    before = context_hash(trainer_copy)
    touch_everything(trainer_copy, 1_700_000_000)
    (trainer_copy / "trainer" / "model.py").chmod(0o664)
    assert context_hash(trainer_copy) == before


def test_context_hash_counts_an_ignored_dockerfile(trainer_copy):
    (trainer_copy / ".dockerignore").write_text("Dockerfile\n")
    before = context_hash(trainer_copy)
    (trainer_copy / "Dockerfile").write_text("FROM scratch\n")
    assert context_hash(trainer_copy) != before


def test_image_tag_is_a_valid_docker_tag():
    tag = build_context.image_tag(TRAINING_DIR)
    assert len(tag) == build_context.SHORT_HASH_LENGTH and tag == context_hash(TRAINING_DIR)[: len(tag)]
    assert all(c in "0123456789abcdef" for c in tag)


# --- the archive a remote builder gets -------------------------------------------------------


def archive_members(archive: bytes) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        return {member.name: member for member in tar.getmembers()}


def copy_with_umask(source: Path, target: Path, umask: int) -> Path:
    previous = os.umask(umask)
    try:
        shutil.copytree(source, target, ignore=NOT_COPIED, copy_function=shutil.copyfile)
    finally:
        os.umask(previous)
    return target


def test_the_archive_is_the_same_bytes_wherever_and_whenever_the_context_was_checked_out(tmp_path):
    first = copy_with_umask(TRAINING_DIR, tmp_path / "a" / "training", 0o022)
    second = copy_with_umask(TRAINING_DIR, tmp_path / "elsewhere" / "deeper" / "training", 0o002)
    touch_everything(first, 1_700_000_000)
    touch_everything(second, 1_800_000_000)
    (second / "trainer" / "model.py").chmod(0o664)

    assert context_archive(first) == context_archive(second)


def test_the_archive_holds_exactly_the_hashed_files_with_normalised_headers(trainer_copy):
    (trainer_copy / "trainer" / "run.sh").write_text("#!/bin/sh\n")
    (trainer_copy / "trainer" / "run.sh").chmod(0o775)
    (trainer_copy / "trainer" / "entry.py").symlink_to("task.py")

    archive = context_archive(trainer_copy)
    members = archive_members(archive)

    assert sorted(members) == context_files(trainer_copy)
    assert list(members) == sorted(members)
    assert {(m.mtime, m.uid, m.gid, m.uname, m.gname) for m in members.values()} == {(315532800, 0, 0, "", "")}
    assert members["trainer/run.sh"].mode == 0o755 and members["trainer/task.py"].mode == 0o644
    assert members["trainer/entry.py"].issym() and members["trainer/entry.py"].linkname == "task.py"
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        assert tar.extractfile("trainer/task.py").read() == (trainer_copy / "trainer" / "task.py").read_bytes()
    # gzip header: no FNAME flag (bit 3) and a zero MTIME field.
    assert archive[3] & 0x08 == 0 and archive[4:8] == b"\0\0\0\0"


def test_the_archive_changes_with_a_file(trainer_copy):
    before = context_archive(trainer_copy)
    (trainer_copy / "requirements.txt").write_text("torch==0.0.1\n")
    assert context_archive(trainer_copy) != before


def test_the_archive_leaves_out_dockerignored_files(trainer_copy):
    before = context_archive(trainer_copy)
    for ignored in ("tests/test_new.py", "trainer/__pycache__/task.cpython-311.pyc", "data/extra.csv"):
        (trainer_copy / ignored).parent.mkdir(parents=True, exist_ok=True)
        (trainer_copy / ignored).write_bytes(b"not part of the image")

    assert context_archive(trainer_copy) == before
    assert not [name for name in archive_members(before) if name.startswith(("tests/", "data/"))]


def test_the_trainers_context_holds_only_files_git_tracks():
    """Caches and outputs in training/ (a ruff or pytest cache, a run) would change the image tag from one
    checkout to the next: .dockerignore must keep everything untracked out."""
    tracked = subprocess.run(["git", "ls-files", "-z", "training"], cwd=PROJECT_DIR, capture_output=True, text=True)
    if tracked.returncode != 0:
        pytest.skip("not a git checkout")
    in_git = {path.removeprefix("training/") for path in tracked.stdout.split("\0") if path}
    untracked = set(context_files(TRAINING_DIR)) - in_git
    assert not untracked, f"add these to training/.dockerignore: {sorted(untracked)}"
