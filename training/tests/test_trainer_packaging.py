"""Dockerfile lint, build context, sdist contents and declared dependencies."""

import ast
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import build
import pytest
import tomllib
from conftest import TRAINING_DIR

HADOLINT = Path(sys.executable).parent / "hadolint"


def hadolint(path):
    return subprocess.run([str(HADOLINT), "--no-color", str(path)], capture_output=True, text=True)


def test_dockerfile_is_lint_clean():
    result = hadolint(TRAINING_DIR / "Dockerfile")
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_check_does_fail_on_a_bad_dockerfile(tmp_path):
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install torch\nCMD python\n")
    assert hadolint(bad).returncode != 0


def test_dockerfile_shape():
    text = (TRAINING_DIR / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim", text, re.M)
    assert re.search(r"^ARG TORCH_INDEX_URL=https://download\.pytorch\.org/whl/cpu$", text, re.M)
    assert re.search(r"^USER (?!root|0\b)\S+", text, re.M)
    assert "--no-cache-dir" in text
    assert text.strip().splitlines()[-1] == 'ENTRYPOINT ["python", "-m", "trainer.task"]'


def test_dockerignore_lets_in_exactly_what_the_dockerfile_copies():
    patterns = [line.strip() for line in (TRAINING_DIR / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]  # fmt: skip
    assert patterns[0] == "*", "an allow-list: everything else stays out of the build context"
    allowed = {pattern[1:] for pattern in patterns if pattern.startswith("!")}
    copied = re.findall(r"^COPY (.+) \S+$", (TRAINING_DIR / "Dockerfile").read_text(), re.M)
    assert copied == ["requirements.txt", "pyproject.toml", "trainer/"]
    assert allowed == {"Dockerfile", *" ".join(copied).split()}


def third_party_imports():
    stdlib = set(sys.stdlib_module_names)
    found = set()
    for path in (TRAINING_DIR / "trainer").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                found.add(node.module.split(".")[0])
    return found - stdlib - {"trainer"}


def requirement_name(line):
    return re.split(r"[<>=!~\[; ]", line.strip())[0].lower()


def package_requirements():
    return tomllib.loads((TRAINING_DIR / "pyproject.toml").read_text())["project"]["dependencies"]


def image_pins():
    lines = (TRAINING_DIR / "requirements.txt").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def test_image_pins_torch_but_the_package_only_sets_a_floor():
    # In package mode Vertex AI's prebuilt image provides torch: the sdist must not replace it.
    assert image_pins() == ["torch==2.13.0"]
    (package_torch,) = [line for line in package_requirements() if requirement_name(line) == "torch"]
    assert "==" not in package_torch and ">=" in package_torch


def test_requirements_cover_every_import():
    declared = {requirement_name(line) for line in package_requirements()}
    assert {name.lower() for name in third_party_imports()} == declared


@pytest.fixture(scope="module")
def sdist(tmp_path_factory):
    """The sdist from a standard PEP 517 build of a copy (the build must not litter the checkout)."""
    source = tmp_path_factory.mktemp("src") / "training"
    shutil.copytree(TRAINING_DIR, source, ignore=shutil.ignore_patterns("__pycache__", "runs", "generated"))
    out = tmp_path_factory.mktemp("dist")
    return Path(build.ProjectBuilder(source).build("sdist", out))


def test_sdist_holds_the_package_but_not_tests_bench_or_data(sdist):
    with tarfile.open(sdist) as tar:
        names = {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}
        pkg_info = tar.extractfile(next(m for m in tar.getmembers() if m.name.endswith("/PKG-INFO"))).read().decode()
    assert {"trainer/task.py", "trainer/features.py", "trainer/predict.py", "pyproject.toml"} <= names
    assert "README.md" not in names, "a documentation edit must not make a new package (and training run)"
    assert not [n for n in names if n.startswith(("tests", "bench", "data", "runs")) or "__pycache__" in n]
    requires = {requirement_name(line.split(": ", 1)[1])
                for line in pkg_info.splitlines() if line.startswith("Requires-Dist:")}  # fmt: skip
    assert requires == {requirement_name(line) for line in package_requirements()}
    assert "Requires-Dist: torch>=2.4" in pkg_info
