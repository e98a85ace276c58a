"""The configuration schema: `Pulumi.yaml`'s `config:` block is the one source of every project
key, its type, its default and its description.

The program reads the same file at run time so that there is no second copy of a default anywhere.
It sees the defaults twice over: `pulumi up` and `pulumi preview` hand the program every declared key,
the ones a stack does not set filled in from their defaults (`cli_config`), while the SDK on its own
(mocks, the automation API without a project file) passes only the keys a stack sets. The settings
must not depend on which: no rule may tell "set by the stack" from "present", only a value from its
default.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

PROJECT_DIR = Path(__file__).resolve().parent.parent
PROJECT_FILE = PROJECT_DIR / "Pulumi.yaml"
# Built artefacts live here between runs (content-addressed, so concurrent runs never clash).
BUILD_CACHE = PROJECT_DIR / ".pulumi-build"


@dataclass(frozen=True)
class Key:
    name: str
    default: Any
    description: str
    # The schema's `type`; None for structured keys (objects, or either an object or a list) and for
    # counts whose default is "unset" ("").
    type: str | None = None


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


def cli_rendering(name: str) -> str:
    """The default of `name` as the Pulumi CLI passes it to a program whose stack does not set the key.

    pulumi/pulumi sdk/go/common/workspace (mergeConfig, createConfigValue): a primitive default
    becomes Go's `%v` text ("false", "0", the string itself), a structured one its JSON.
    """
    value = default(name)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def cli_config(values: Mapping[str, str], namespace: str | None = None) -> dict[str, str]:
    """`values` (keys as `namespace:key`) plus every declared key it lacks at its default, as the CLI hands them."""
    namespace = namespace or project_name()
    return {**{f"{namespace}:{name}": cli_rendering(name) for name in keys()}, **values}


def suggestion(name: str) -> str | None:
    """The declared key closest to a misspelled `name` (case and one or two typos), or None."""
    by_lower = {key.lower(): key for key in keys()}
    if name.lower() in by_lower:
        return by_lower[name.lower()]
    close = difflib.get_close_matches(name, list(keys()), n=1, cutoff=0.75)
    return close[0] if close else None
