"""`make lint`'s Python half runs in the suite too, so CI fails on what ruff finds."""

import subprocess
import sys
from pathlib import Path

from tools.render import ROOT

RUFF = Path(sys.executable).parent / "ruff"
PROGRAM_DIRS = ("stack", "components", "providers", "artifacts", "tools", "policy", "training/trainer")
MAX_MODULE_LINES = 400


def ruff(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(RUFF), *args], capture_output=True, text=True, cwd=ROOT)


def test_ruff_check_passes():
    result = ruff("check", "--no-cache", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_check_passes():
    result = ruff("format", "--check", "--no-cache", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_does_fail_on_a_defect(tmp_path):
    (tmp_path / "bad.py").write_text("import os\n")
    result = subprocess.run([str(RUFF), "check", "--no-cache", "--config", str(ROOT / "pyproject.toml"), "bad.py"],
                            capture_output=True, text=True, cwd=tmp_path)  # fmt: skip
    assert result.returncode == 1 and "F401" in result.stdout


def test_no_module_of_the_program_is_over_400_lines():
    modules = [ROOT / "__main__.py", *(path for d in PROGRAM_DIRS for path in (ROOT / d).rglob("*.py"))]
    long = {str(p.relative_to(ROOT)): n for p in modules if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES}
    assert not long, f"split these modules (at most {MAX_MODULE_LINES} lines): {long}"


def test_tools_import_nothing_from_tests():
    for path in (ROOT / "tools").rglob("*.py"):
        text = path.read_text()
        assert "from tests" not in text and "import tests" not in text, path
