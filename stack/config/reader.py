"""Reading raw configuration values: types checked against the schema, problems collected, not raised."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from typing import Any

import pulumi

from stack import schema

MACHINE_TYPE = re.compile(r"^[a-z][a-z0-9]*-[a-z0-9-]+$")
DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")

_KIND = {bool: "true or false", int: "a whole number", dict: "an object (YAML mapping)", str: "a string"}


class ConfigError(pulumi.RunError):
    """Every problem of a configuration, reported together.

    A `pulumi.RunError`: Pulumi's language host prints its message alone, where any other exception
    comes with "Program failed with an unhandled exception" and a traceback.
    """

    def __init__(self, problems: Sequence[str]):
        self.problems = list(problems)
        lines = "\n".join(f"  - {problem}" for problem in self.problems)
        super().__init__(
            f"The stack configuration has {len(self.problems)} problem(s); fix them with "
            f"`pulumi config set KEY VALUE` (project keys) or in Pulumi.<stack>.yaml:\n{lines}"
        )


class Reader:
    """Reads raw values with their types checked, collecting problems instead of raising."""

    def __init__(self, raw: Callable[[str], str | None], problems: list[str]):
        self._raw = raw
        self.problems = problems
        # Keys already reported as unusable (wrong type, malformed): never judged again by another rule.
        self._reported: set[str] = set()

    def count(self, key: str) -> int | None:
        """A count whose default is "" (unset: someone else's count applies): None, or a whole number."""
        text = self._raw(key)
        if text is None or not text.strip():
            return None
        number = as_number(text)
        if isinstance(number, int) and not isinstance(number, bool):
            return number
        self.problems.append(f"{key} {text!r}: must be a whole number (or empty for the default)")
        self._reported.add(key)
        return None

    def structured(self, key: str) -> Any:
        """A key without a schema type (an object or a list): its parsed value, or the default."""
        text = self._raw(key)
        if text is None:
            return schema.default(key)
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return text

    def value(self, key: str) -> Any:
        default = schema.default(key)
        text = self._raw(key)
        if text is None:
            return default
        expected = type(default)
        if expected is str:
            return text
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError:
            parsed = text
        if isinstance(parsed, expected) and (expected is bool or not isinstance(parsed, bool)):
            return parsed
        self.problems.append(f"{key} {text!r}: must be {_KIND[expected]}")
        self._reported.add(key)
        return default

    def check_final(self, ok: bool, key: str, value: Any, rule: str) -> bool:
        """`check`, and when it fails no other rule judges `key` (its value means nothing to them)."""
        if not self.check(ok, key, value, rule):
            self._reported.add(key)
        return ok

    def check(self, ok: bool, key: str, value: Any, rule: str) -> bool:
        if key in self._reported:
            return False
        if not ok:
            self.problems.append(f"{key} {value!r}: {rule}")
        return ok


def as_number(value: Any) -> float | None:
    """A JSON number, or a string holding one (`pulumi config set --path` stores "0.01" as a string)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
        return int(number) if number.is_integer() and "." not in value and "e" not in value.lower() else number
    return None


def duration_seconds(text: str) -> int | None:
    match = DURATION.match(text.strip()) if text.strip() else None
    if not match or not any(match.groups()):
        return None
    days, hours, minutes, seconds = (int(part or 0) for part in match.groups())
    return ((days * 24 + hours) * 60 + minutes) * 60 + seconds
