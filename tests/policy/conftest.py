"""The pack's modules import each other as top-level modules, as they do when Pulumi runs the pack."""

import sys

import pytest

from tools.render import ROOT, Rendered, render
from tools.snapshot import EXAMPLES

sys.path.insert(0, str(ROOT / "policy"))


@pytest.fixture(scope="session")
def examples() -> dict[str, Rendered]:
    return {name: render(overrides) for name, overrides in EXAMPLES.items()}
