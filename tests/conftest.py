"""Shared fixtures: the program under the one set of Pulumi mocks (tools/render.py)."""

import pytest

from tools.render import Rendered, render


@pytest.fixture(scope="session")
def dev_stack() -> Rendered:
    """The dev stack with nothing but gcp:project set: what a new user gets."""
    return render()


@pytest.fixture
def render_stack():
    return render
