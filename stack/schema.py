"""The configuration schema: `Pulumi.yaml`'s `config:` block is the one source of every project
key, its type, its default and its description.

The Pulumi CLI applies these defaults itself, but the SDK (and so the program under test) sees
only the keys a stack sets; the program reads the same file at run time so that there is no
second copy of a default anywhere.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

PROJECT_DIR = Path(__file__).resolve().parent.parent
PROJECT_FILE = PROJECT_DIR / "Pulumi.yaml"
# Built artefacts live here between runs (content-addressed, so concurrent runs never clash).
BUILD_CACHE = PROJECT_DIR / ".pulumi-build"

# Pulumi's schema types, and the Python type of a value of each.
_PYTHON_TYPES = {"string": str, "integer": int, "boolean": bool, "array": list}


@dataclass(frozen=True)
class Key:
    name: str
    default: Any
    description: str
    # The schema's `type`; None for structured keys (objects, or either an object or a list).
    type: str | None = None

    @property
    def python_type(self) -> type | None:
        return _PYTHON_TYPES.get(self.type or "")


@cache
def project() -> dict[str, Any]:
    return yaml.safe_load(PROJECT_FILE.read_text(encoding="utf-8"))


def project_name() -> str:
    return project()["name"]


@cache
def keys() -> dict[str, Key]:
    declared = project().get("config") or {}
    return {
        name: Key(
            name=name, default=spec.get("default"), description=spec.get("description", ""), type=spec.get("type")
        )
        for name, spec in declared.items()
    }


def default(name: str) -> Any:
    return keys()[name].default


def suggestion(name: str) -> str | None:
    """The declared key closest to a misspelled `name` (case and one or two typos), or None."""
    by_lower = {key.lower(): key for key in keys()}
    if name.lower() in by_lower:
        return by_lower[name.lower()]
    close = difflib.get_close_matches(name, list(keys()), n=1, cutoff=0.75)
    return close[0] if close else None
