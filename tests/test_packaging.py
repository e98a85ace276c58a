"""The trainer's content hashes and its deterministic sdist (components/packaging.py)."""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from components import packaging
from components.packaging import TRAINING_DIR, build_sdist, context_hash, context_files, is_ignored

BUCKET_OBJECT = "gcp:storage/bucketObject:BucketObject"
IMAGE = "docker:index/image:Image"
# The trainer's data, benchmarks and run outputs are neither code nor small: leave them out of copies.
NOT_COPIED = shutil.ignore_patterns("data", "bench", "runs", "__pycache__", "*.egg-info")


@pytest.fixture
def trainer_copy(tmp_path: Path) -> Path:
    """A copy of training/ that a test may change."""
    copy = tmp_path / "training"
    shutil.copytree(TRAINING_DIR, copy, ignore=NOT_COPIED)
    return copy


def docker_hash(context: Path) -> str:
    return context_hash(context, context / "Dockerfile")


def touch_everything(root: Path, seconds: int) -> None:
    for path in root.rglob("*"):
        os.utime(path, (seconds, seconds))


# --- .dockerignore ------------------------------------------------------------------------

@pytest.mark.parametrize("patterns, path, ignored", [
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
])
def test_dockerignore_patterns_follow_docker(patterns, path, ignored):
    compiled = [p for p in map(packaging.compile_ignore_pattern, patterns) if p]
    assert is_ignored(path, compiled) is ignored


def test_build_context_is_what_the_dockerfile_copies():
    files = context_files(TRAINING_DIR)
    assert {"requirements.txt", "package-requirements.txt", "trainer/task.py"} <= set(files)
    assert not [f for f in files if f.startswith(("tests/", "data/", "bench/")) or "__pycache__" in f]


# --- the image tag ------------------------------------------------------------------------

def test_context_hash_changes_with_the_code(trainer_copy):
    before = docker_hash(trainer_copy)
    task = trainer_copy / "trainer" / "task.py"
    task.write_text(task.read_text() + "\n# changed\n")
    assert docker_hash(trainer_copy) != before


@pytest.mark.parametrize("change", ["dockerfile", "requirements", "new_module", "executable_bit", "rename"])
def test_context_hash_changes_with_what_the_image_contains(trainer_copy, change):
    before = docker_hash(trainer_copy)
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
    assert docker_hash(trainer_copy) != before


@pytest.mark.parametrize("ignored_file", [
    "trainer/__pycache__/task.cpython-311.pyc",
    "tests/test_new.py",
    "data/sample/extra.csv",
    "runs/local/checkpoint.pt",
    "trainer.egg-info/PKG-INFO",
])
def test_context_hash_ignores_dockerignored_files(trainer_copy, ignored_file):
    before = docker_hash(trainer_copy)
    path = trainer_copy / ignored_file
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"not part of the image")
    assert docker_hash(trainer_copy) == before


def test_context_hash_ignores_times_and_group_permissions(trainer_copy):
    before = docker_hash(trainer_copy)
    touch_everything(trainer_copy, 1_700_000_000)
    (trainer_copy / "trainer" / "model.py").chmod(0o664)
    assert docker_hash(trainer_copy) == before


def test_context_hash_counts_an_ignored_dockerfile(trainer_copy):
    (trainer_copy / ".dockerignore").write_text("Dockerfile\n")
    before = docker_hash(trainer_copy)
    (trainer_copy / "Dockerfile").write_text("FROM scratch\n")
    assert docker_hash(trainer_copy) != before


def test_image_tag_is_a_valid_docker_tag():
    tag = packaging.image_tag(TRAINING_DIR, TRAINING_DIR / "Dockerfile")
    assert len(tag) == packaging.SHORT_HASH_LENGTH and tag == docker_hash(TRAINING_DIR)[:len(tag)]
    assert all(c in "0123456789abcdef" for c in tag)


# --- the sdist ----------------------------------------------------------------------------

def test_sdist_bytes_are_reproducible(trainer_copy, tmp_path):
    first = build_sdist(trainer_copy, tmp_path / "cache-1")
    touch_everything(trainer_copy, 1_700_000_000)
    (trainer_copy / "trainer" / "model.py").chmod(0o664)
    (trainer_copy / "trainer" / "__pycache__").mkdir()
    (trainer_copy / "trainer" / "__pycache__" / "model.cpython-311.pyc").write_bytes(b"\0compiled")
    second = build_sdist(trainer_copy, tmp_path / "cache-2")
    assert first.path.read_bytes() == second.path.read_bytes()
    assert first.sha256 == second.sha256
    assert first.path.name == "trainer-0.1.0.tar.gz"
    assert first.path.parent.name == first.short_hash


def test_sdist_changes_with_the_code(trainer_copy, tmp_path):
    before = build_sdist(trainer_copy, tmp_path / "cache")
    (trainer_copy / "trainer" / "model.py").write_text((trainer_copy / "trainer" / "model.py").read_text() + "\n")
    after = build_sdist(trainer_copy, tmp_path / "cache")
    assert after.sha256 != before.sha256 and after.path != before.path and before.path.is_file()


def test_sdist_headers_carry_no_time_owner_or_local_name(trainer_copy, tmp_path):
    sdist = build_sdist(trainer_copy, tmp_path)
    raw = sdist.path.read_bytes()
    assert raw[4:8] == b"\0\0\0\0", "gzip header mtime"
    assert raw[3] & 0x08 == 0, "gzip header file name"
    with tarfile.open(sdist.path) as tar:
        members = tar.getmembers()
        assert [m.name for m in members] == sorted(m.name for m in members)
        assert {(m.mtime, m.uid, m.gid, m.uname, m.gname) for m in members} == {
            (packaging.FIXED_MTIME, 0, 0, "", "")}
        assert not any(m.pax_headers for m in members)
        names = {m.name.split("/", 1)[1] for m in members}
    assert {"PKG-INFO", "pyproject.toml", "package-requirements.txt", "trainer/__init__.py", "trainer/task.py"} <= names
    assert not [n for n in names if n.startswith(("tests/", "data/", "bench/")) or "__pycache__" in n]
    with gzip.open(sdist.path) as archive:
        assert archive.read()  # a complete, valid gzip stream


def test_sdist_refuses_a_missing_dependency_file(trainer_copy, tmp_path):
    (trainer_copy / "package-requirements.txt").unlink()
    with pytest.raises(FileNotFoundError, match="package-requirements.txt"):
        build_sdist(trainer_copy, tmp_path)


def pip(python: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(python), "-m", "pip", *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"})


def test_sdist_installs_with_pip(tmp_path):
    """pip builds a wheel from the sdist and installs it: what Vertex AI does with the package.

    Offline, pip cannot fetch the build backend into an isolated environment, and a new venv's
    own setuptools may be older than the `setuptools>=68` the trainer asks for. So the project's
    venv (whose setuptools qualifies) builds the wheel without isolation, and a throwaway venv
    installs it; neither step may reach an index.
    """
    sdist = build_sdist(TRAINING_DIR, tmp_path / "cache")
    built = pip(Path(sys.executable), "wheel", "--no-index", "--no-deps", "--no-build-isolation",
                "--wheel-dir", str(tmp_path / "wheels"), str(sdist.path))
    assert built.returncode == 0, built.stdout + built.stderr
    wheel = next((tmp_path / "wheels").glob("trainer-0.1.0-*.whl"))

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
    python = venv / "bin" / "python"
    installed = pip(python, "install", "--no-index", "--no-deps", str(wheel))
    assert installed.returncode == 0, installed.stdout + installed.stderr
    found = subprocess.run(
        [str(python), "-c", "import importlib.util, trainer; print(trainer.__file__); "
         "print(importlib.util.find_spec('trainer.task').origin)"],
        capture_output=True, text=True, cwd=tmp_path, check=True).stdout.split()
    assert len(found) == 2 and all(path.startswith(str(venv)) for path in found), found


# --- package mode in the stack ------------------------------------------------------------

@pytest.fixture(scope="module")
def package_stack():
    from tests.harness import render
    return render({"trainingMode": "package"})


def test_package_mode_uploads_the_sdist_named_by_its_hash(package_stack):
    sdist = build_sdist(TRAINING_DIR)
    upload = package_stack.one(BUCKET_OBJECT)
    assert upload.inputs["name"] == f"packages/{sdist.short_hash}/trainer-0.1.0.tar.gz"
    assert upload.inputs["bucket"] == package_stack.outputs["bucket_name"]
    assert upload.inputs["source"]["path"] == packaging.project_relative(sdist.path)
    assert (packaging.PROJECT_ROOT / upload.inputs["source"]["path"]).read_bytes() == sdist.path.read_bytes()
    assert package_stack.outputs["package_uri"] == (
        f"gs://{package_stack.outputs['bucket_name']}/packages/{sdist.short_hash}/trainer-0.1.0.tar.gz")
    assert package_stack.outputs["executor_image"].endswith("/pytorch-cpu.2-4.py310:latest")
    component = package_stack.by_urn(upload.parent)
    assert component.type == "gcp-mlops:training:TrainerPackage"


def test_package_mode_builds_no_image(package_stack):
    assert package_stack.of_type(IMAGE) == []
    assert "image" not in package_stack.outputs
    assert package_stack.of_type("gcp:artifactregistry/repository:Repository")


def test_container_mode_uploads_no_package(dev_stack):
    assert not [o for o in dev_stack.of_type(BUCKET_OBJECT) if o.inputs["name"].startswith("packages/")]
    assert "package_uri" not in dev_stack.outputs
