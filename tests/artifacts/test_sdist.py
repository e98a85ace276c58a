"""The trainer sdist: a standard PEP 517 build, normalised so that the same source gives the same bytes
(artifacts/sdist.py)."""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from artifacts.context import ARCHIVE_MTIME
from artifacts.sdist import SdistError, build_sdist, normalise
from stack.schema import PROJECT_DIR

TRAINING_DIR = PROJECT_DIR / "training"
NOT_COPIED = shutil.ignore_patterns("data", "bench", "runs", "__pycache__", "*.egg-info")


def copy_of_trainer(where: Path) -> Path:
    copy = where / "training"
    shutil.copytree(TRAINING_DIR, copy, ignore=NOT_COPIED)
    return copy


def touch_everything(root: Path, seconds: int) -> None:
    for path in root.rglob("*"):
        os.utime(path, (seconds, seconds))


def members(sdist_path: Path) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(sdist_path) as tar:
        return {member.name: member for member in tar.getmembers()}


def test_same_source_same_bytes_in_other_directories_at_other_times(tmp_path):
    first_source = copy_of_trainer(tmp_path / "checkout-1")
    second_source = copy_of_trainer(tmp_path / "checkout-2")
    touch_everything(second_source, 1_700_000_000)
    (second_source / "trainer" / "model.py").chmod(0o664)
    (second_source / "trainer" / "__pycache__").mkdir()
    (second_source / "trainer" / "__pycache__" / "model.cpython-311.pyc").write_bytes(b"\0compiled")
    first = build_sdist(first_source, tmp_path / "cache-1")
    second = build_sdist(second_source, tmp_path / "cache-2")
    assert first.path.read_bytes() == second.path.read_bytes()
    assert first.sha256 == second.sha256 and first.filename == "trainer-0.1.0.tar.gz"
    assert first.path.parent.name == first.short_hash


def test_a_code_change_is_another_sdist(tmp_path):
    source = copy_of_trainer(tmp_path)
    before = build_sdist(source, tmp_path / "cache")
    (source / "trainer" / "model.py").write_text((source / "trainer" / "model.py").read_text() + "\n")
    after = build_sdist(source, tmp_path / "cache")
    assert after.sha256 != before.sha256 and after.path != before.path and before.path.is_file()


def test_headers_carry_no_time_owner_or_local_name(tmp_path):
    sdist = build_sdist(TRAINING_DIR, tmp_path)
    raw = sdist.path.read_bytes()
    assert raw[4:8] == b"\0\0\0\0", "gzip header mtime"
    assert raw[3] & 0x08 == 0, "gzip header file name"
    entries = members(sdist.path)
    assert list(entries) == sorted(entries)
    assert {(m.mtime, m.uid, m.gid, m.uname, m.gname) for m in entries.values()} == {(ARCHIVE_MTIME, 0, 0, "", "")}
    assert {m.mode for m in entries.values() if m.isfile()} <= {0o644, 0o755}
    with gzip.open(sdist.path) as archive:
        assert archive.read()  # a complete, valid gzip stream


def test_the_sdist_holds_the_package_and_its_metadata_but_no_tests_or_data(tmp_path):
    sdist = build_sdist(TRAINING_DIR, tmp_path)
    names = {name.split("/", 1)[1] for name in members(sdist.path) if "/" in name}
    assert {"PKG-INFO", "pyproject.toml", "trainer/__init__.py", "trainer/task.py"} <= names
    assert not [n for n in names if n.startswith(("tests/", "data/", "bench/", "runs/")) or "__pycache__" in n]
    with tarfile.open(sdist.path) as tar:
        pkg_info = tar.extractfile("trainer-0.1.0/PKG-INFO").read().decode()
    assert "Requires-Dist: torch>=2.4" in pkg_info


def test_normalise_is_idempotent_and_keeps_contents(tmp_path):
    sdist = build_sdist(TRAINING_DIR, tmp_path)
    raw = sdist.path.read_bytes()
    assert normalise(raw) == raw
    with tarfile.open(sdist.path) as tar:
        assert (
            tar.extractfile("trainer-0.1.0/trainer/task.py").read()
            == (TRAINING_DIR / "trainer" / "task.py").read_bytes()
        )


def test_any_pep517_backend_gives_a_reproducible_sdist(tmp_path):
    """A user's trainer may use setuptools (whose sdists carry file times): normalised, it is reproducible."""

    def project(where: Path, seconds: int) -> Path:
        source = where / "mytrainer"
        (source / "mytrainer").mkdir(parents=True)
        (source / "mytrainer" / "__init__.py").write_text("")
        (source / "mytrainer" / "train.py").write_text("print('training')\n")
        (source / "pyproject.toml").write_text(
            '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n'
            '[project]\nname = "mytrainer"\nversion = "1.0"\n'
        )
        touch_everything(source, seconds)
        return source

    first = build_sdist(project(tmp_path / "a", 1_600_000_000), tmp_path / "cache-a")
    second = build_sdist(project(tmp_path / "b", 1_700_000_000), tmp_path / "cache-b")
    assert first.sha256 == second.sha256 and first.filename == "mytrainer-1.0.tar.gz"
    assert "mytrainer-1.0/mytrainer/train.py" in members(first.path)


def test_a_source_without_pyproject_is_refused_by_name(tmp_path):
    with pytest.raises(SdistError, match="no pyproject.toml"):
        build_sdist(tmp_path, tmp_path / "cache")


def test_a_broken_pyproject_is_reported_not_raised_as_a_traceback(tmp_path):
    source = copy_of_trainer(tmp_path)
    (source / "pyproject.toml").write_text((source / "pyproject.toml").read_text().replace('version = "0.1.0"\n', ""))
    with pytest.raises(SdistError, match="sdist build failed"):
        build_sdist(source, tmp_path / "cache")


def pip(python: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(python), "-m", "pip", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )


def test_the_sdist_installs_with_pip(tmp_path):
    """pip builds a wheel from the sdist and installs it: what Vertex AI does with the package.

    The project's venv (which has the build backend) builds the wheel without isolation, so that no
    index is needed; a throwaway venv installs it.
    """
    sdist = build_sdist(TRAINING_DIR, tmp_path / "cache")
    built = pip(
        Path(sys.executable),
        "wheel",
        "--no-index",
        "--no-deps",
        "--no-build-isolation",
        "--wheel-dir",
        str(tmp_path / "wheels"),
        str(sdist.path),
    )
    assert built.returncode == 0, built.stdout + built.stderr
    wheel = next((tmp_path / "wheels").glob("trainer-0.1.0-*.whl"))

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
    python = venv / "bin" / "python"
    installed = pip(python, "install", "--no-index", "--no-deps", str(wheel))
    assert installed.returncode == 0, installed.stdout + installed.stderr
    found = subprocess.run(
        [
            str(python),
            "-c",
            "import importlib.util, trainer; print(trainer.__file__); "
            "print(importlib.util.find_spec('trainer.task').origin)",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=True,
    ).stdout.split()
    assert len(found) == 2 and all(path.startswith(str(venv)) for path in found), found
