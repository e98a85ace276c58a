"""tools/preflight.py: what `make up` checks before it installs or creates anything."""

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tools import preflight
from tools.render import ROOT

SCRIPT = ROOT / "tools" / "preflight.py"


def fake_executable(directory: Path, name: str, output: str = "") -> None:
    path = directory / name
    path.write_text(f"#!/bin/sh\necho '{output}'\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


@pytest.fixture
def bin_dir(tmp_path):
    directory = tmp_path / "bin"
    directory.mkdir()
    return directory


def run(args, env, cwd=ROOT):
    """The script as make runs it: with the system Python, no virtual environment."""
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-I", str(SCRIPT), *args], capture_output=True, text=True, env=env, cwd=cwd
    )
    return result, time.monotonic() - started


def test_without_the_pulumi_cli_it_says_so_at_once_and_installs_nothing(bin_dir):
    result, seconds = run(["--stack", "dev"], {"PATH": str(bin_dir), "GCP_PROJECT": "mlops-course-123"})
    assert result.returncode == 1 and seconds < 5
    assert "the Pulumi CLI is not installed" in result.stderr and preflight.INSTALL_PULUMI in result.stderr
    assert "Traceback" not in result.stderr


def test_without_a_project_it_says_how_to_set_one(bin_dir, tmp_path):
    fake_executable(bin_dir, "pulumi")
    fake_executable(bin_dir, "gcloud", "(unset)")
    with pytest.raises(preflight.PreflightError, match="GCP_PROJECT=YOUR_PROJECT_ID"):
        preflight.resolve_project("dev", {}, root=tmp_path, path=str(bin_dir))


def test_the_project_comes_from_the_environment_the_stack_file_or_gcloud(bin_dir, tmp_path):
    fake_executable(bin_dir, "gcloud", "from-gcloud-1")
    assert preflight.resolve_project("dev", {}, root=tmp_path, path=str(bin_dir)) == "from-gcloud-1"
    (tmp_path / "Pulumi.dev.yaml").write_text("config:\n  gcp:project: from-stack-file\n  gcp:region: europe-west1\n")
    assert preflight.resolve_project("dev", {}, root=tmp_path, path=str(bin_dir)) == "from-stack-file"
    # The stack file wins: GCP_PROJECT only sets up a stack that has no project yet.
    assert preflight.resolve_project("dev", {"GCP_PROJECT": "from-env-123"}, root=tmp_path, path=str(bin_dir)) == (
        "from-stack-file"
    )
    (tmp_path / "Pulumi.dev.yaml").unlink()
    assert preflight.resolve_project("dev", {"GCP_PROJECT": "from-env-123"}, root=tmp_path, path=str(bin_dir)) == (
        "from-env-123"
    )


def test_the_first_backend_is_recorded_and_kept(tmp_path):
    first = preflight.resolve_backend({}, root=tmp_path)
    assert first == f"file://{tmp_path}/.pulumi-state"
    assert (tmp_path / ".pulumi-backend").read_text().strip() == first
    # A later shell without PULUMI_BACKEND_URL keeps using the recorded backend.
    assert preflight.resolve_backend({}, root=tmp_path) == first


def test_an_explicit_backend_is_recorded_the_first_time(tmp_path):
    assert preflight.resolve_backend({"PULUMI_BACKEND_URL": "gs://state"}, root=tmp_path) == "gs://state"
    assert preflight.resolve_backend({}, root=tmp_path) == "gs://state"


def test_it_never_switches_backends_silently(tmp_path):
    (tmp_path / ".pulumi-backend").write_text("gs://team-state\n")
    with pytest.raises(preflight.PreflightError, match="live in gs://team-state") as raised:
        preflight.resolve_backend({"PULUMI_BACKEND_URL": f"file://{tmp_path}/.pulumi-state"}, root=tmp_path)
    assert "stack export" in str(raised.value)
    assert (tmp_path / ".pulumi-backend").read_text().strip() == "gs://team-state"


def test_the_script_prints_backend_and_project(bin_dir, tmp_path):
    fake_executable(bin_dir, "pulumi")
    env = {
        "PATH": f"{bin_dir}{os.pathsep}/usr/bin:/bin",
        "GCP_PROJECT": "mlops-course-123",
        "PULUMI_BACKEND_URL": "gs://s",
    }
    root_copy = tmp_path / "checkout"
    (root_copy / "tools").mkdir(parents=True)
    (root_copy / "tools" / "preflight.py").write_text(SCRIPT.read_text())
    result = subprocess.run([sys.executable, "-I", "tools/preflight.py", "--print", "project"], capture_output=True,
                            text=True, env=env, cwd=root_copy)  # fmt: skip
    assert result.returncode == 0 and result.stdout.strip() == "mlops-course-123", result.stderr
    result = subprocess.run([sys.executable, "-I", "tools/preflight.py"], capture_output=True, text=True, env=env,
                            cwd=root_copy)  # fmt: skip
    assert result.stdout.strip() == "gs://s" and (root_copy / ".pulumi-backend").read_text().strip() == "gs://s"
