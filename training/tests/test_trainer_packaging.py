"""Dockerfile lint, build context, sdist contents and declared dependencies."""

import ast
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
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


def test_dockerignore_keeps_context_to_what_the_image_needs():
    ignored = {line.strip() for line in (TRAINING_DIR / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")}  # fmt: skip
    assert {"tests", "bench", "data", "runs", "**/__pycache__"} <= ignored
    copied = re.findall(r"^COPY (.+) \S+$", (TRAINING_DIR / "Dockerfile").read_text(), re.M)
    assert copied == ["requirements.txt package-requirements.txt", "trainer/"]
    assert not ignored & {"trainer", "trainer/", "requirements.txt", "package-requirements.txt"}


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


def requirement_lines(name: str = "requirements.txt") -> list[str]:
    """The requirement lines of a file, following `-r` includes as pip does."""
    lines = []
    for line in (TRAINING_DIR / name).read_text().splitlines():
        line = line.strip()
        if line.startswith("-r "):
            lines += requirement_lines(line.split(None, 1)[1])
        elif line and not line.startswith("#"):
            lines.append(line)
    return lines


def requirement_names(name: str = "requirements.txt"):
    return {re.split(r"[<>=!~\[; ]", line)[0].lower() for line in requirement_lines(name)}


def test_image_pins_torch_but_the_package_only_sets_a_floor():
    # In package mode Vertex AI's prebuilt image provides torch: the sdist must not replace it.
    assert "torch==2.13.0" in requirement_lines()
    package_torch = [line for line in requirement_lines("package-requirements.txt") if line.startswith("torch")]
    assert package_torch and "==" not in package_torch[0]


def test_requirements_cover_every_import():
    assert third_party_imports() == {"torch", "numpy", "pyarrow", "fsspec", "gcsfs"}
    assert third_party_imports() <= requirement_names()


@pytest.fixture(scope="module")
def sdist(tmp_path_factory):
    """Build the sdist from a copy (the build must not litter the checkout)."""
    source = tmp_path_factory.mktemp("src") / "training"
    shutil.copytree(TRAINING_DIR, source, ignore=shutil.ignore_patterns("__pycache__", "runs", "generated"))
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-c", f"from setuptools import build_meta; build_meta.build_sdist({str(out)!r})"],
                   cwd=source, check=True, capture_output=True)  # fmt: skip
    (archive,) = out.glob("*.tar.gz")
    return archive


def test_sdist_holds_the_package_but_not_tests_bench_or_data(sdist):
    with tarfile.open(sdist) as tar:
        names = {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}
        pkg_info = tar.extractfile(next(m for m in tar.getmembers() if m.name.endswith("/PKG-INFO"))).read().decode()
    assert {"trainer/task.py", "trainer/data.py", "trainer/predict.py", "requirements.txt", "pyproject.toml"} <= names
    assert not [n for n in names if n.startswith(("tests", "bench", "data", "runs")) or "__pycache__" in n]
    requires = {re.split(r"[<>=!~ ]", line.split(": ", 1)[1])[0].lower()
                for line in pkg_info.splitlines() if line.startswith("Requires-Dist:")}  # fmt: skip
    assert requires == requirement_names("package-requirements.txt")
    assert "Requires-Dist: torch>=2.4" in pkg_info
