"""Shared fixtures: the program under the suite's one set of Pulumi mocks (see harness.py)."""

import pytest

from tests.harness import Rendered, render


@pytest.fixture(scope="session")
def dev_stack() -> Rendered:
    """The dev stack with nothing but gcp:project set: what a new user gets."""
    return render()


@pytest.fixture
def render_stack():
    return render
