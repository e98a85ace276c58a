"""What a check found, and how the findings are printed: one line per check, or JSON."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class Status(Enum):
    OK = "ok"
    FAIL = "fail"
    WARN = "warn"  # could not tell, or works but will bite later
    SKIP = "skip"  # does not apply to this configuration, or needs what an earlier check found missing


SYMBOLS = {Status.OK: "✓", Status.FAIL: "✗", Status.WARN: "⚠", Status.SKIP: "–"}
ASCII_SYMBOLS = {Status.OK: "ok  ", Status.FAIL: "FAIL", Status.WARN: "warn", Status.SKIP: "skip"}


@dataclass(frozen=True)
class Result:
    check: str
    status: Status
    detail: str
    fix: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)


def ok(check: str, detail: str, **data: Any) -> Result:
    return Result(check, Status.OK, detail, data=data)


def fail(check: str, detail: str, fix: str = "", **data: Any) -> Result:
    return Result(check, Status.FAIL, detail, fix, data)


def warn(check: str, detail: str, fix: str = "", **data: Any) -> Result:
    return Result(check, Status.WARN, detail, fix, data)


def skip(check: str, detail: str) -> Result:
    return Result(check, Status.SKIP, detail)


class Skipped(Exception):
    """Raised by a check that cannot run without something an earlier check found missing."""

    def __init__(self, needs: str):
        super().__init__(needs)
        self.needs = needs


def exit_code(results: Iterable[Result]) -> int:
    return 1 if any(result.status is Status.FAIL for result in results) else 0


def _can_encode(text: str, encoding: str | None) -> bool:
    try:
        text.encode(encoding or "ascii")
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def as_text(results: Iterable[Result], encoding: str | None = "utf-8") -> str:
    """One line per check; words instead of symbols where the terminal cannot show them."""
    unicode = _can_encode("".join(SYMBOLS.values()) + "—", encoding)
    symbols, separator = (SYMBOLS, " — fix: ") if unicode else (ASCII_SYMBOLS, " -- fix: ")
    results = list(results)
    width = max((len(result.check) for result in results), default=0)
    lines = []
    for result in results:
        line = f"{symbols[result.status]} {result.check:<{width}}  {result.detail}"
        if result.fix:
            line += f"{separator}{result.fix}"
        lines.append(line)
    counts = {status: sum(result.status is status for result in results) for status in Status}
    lines.append(
        f"{counts[Status.OK]} passed, {counts[Status.FAIL]} failed, {counts[Status.WARN]} to look at, "
        f"{counts[Status.SKIP]} not applicable or not checked"
    )
    return "\n".join(lines)


def as_json(results: Iterable[Result]) -> str:
    results = list(results)
    return json.dumps(
        {
            "ok": exit_code(results) == 0,
            "checks": [
                {"check": r.check, "status": r.status.value, "detail": r.detail, "fix": r.fix, **dict(r.data)}
                for r in results
            ],
        },
        indent=2,
    )
