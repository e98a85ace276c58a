"""A strict reader of workload identity provider attribute conditions (CEL).

Only one shape is accepted, because only it can be judged by reading it:

    condition := term ( "&&" term )*
    term      := clause | "(" condition ")"
    clause    := "assertion." CLAIM "==" STRING
    CLAIM     := [a-z_][a-z0-9_]*
    STRING    := '…' or "…" without backslashes, quotes of the other kind allowed inside

Anything else (`||`, `!`, `!=`, `in`, `? :`, method calls such as `.startsWith(`, indexing, literals
on the left, bare `true`) is refused, so a condition passes only when every clause must hold. A
conjunction of exact clauses is at most as wide as any one of its clauses, so one clause that pins
a repository pins the whole condition.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

TOKEN = re.compile(
    r"""(?P<and>&&)|(?P<open>\()|(?P<close>\))|(?P<equals>==)
    |assertion\.(?P<claim>[a-z_][a-z0-9_]*)
    |'(?P<single>[^'\\\n]*)'|"(?P<double>[^"\\\n]*)"
    """,
    re.VERBOSE,
)
REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
REPOSITORY_ID = re.compile(r"^[0-9]+$")
# GitHub's `sub`: repo:OWNER/NAME:… or, in the immutable form, repo:OWNER@OWNER_ID/NAME@REPO_ID:…
REPOSITORY_SUBJECT = re.compile(r"^repo:[A-Za-z0-9_.-]+(?:@[0-9]+)?/[A-Za-z0-9_.-]+(?:@[0-9]+)?:.+$")


class ConditionError(ValueError):
    """The condition is not a conjunction of exact clauses; the message says where."""


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    value: str
    position: int


def tokens(condition: str) -> list[Token]:
    found: list[Token] = []
    position = 0
    while position < len(condition):
        if condition[position].isspace():
            position += 1
            continue
        match = TOKEN.match(condition, position)
        if not match:
            raise ConditionError(f"unexpected {condition[position : position + 12]!r} at {position}")
        kind = match.lastgroup or ""
        value = match.group(kind) or ""
        found.append(Token("string" if kind in ("single", "double") else kind, match.group(0), value, position))
        position = match.end()
    return found


class _Parser:
    def __init__(self, condition: str) -> None:
        self.tokens = tokens(condition)
        self.index = 0

    def peek(self) -> Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self, kind: str, wanted: str) -> Token:
        token = self.peek()
        if token is None or token.kind != kind:
            where = f"{token.text!r} at {token.position}" if token else "the end"
            raise ConditionError(f"expected {wanted}, found {where}")
        self.index += 1
        return token

    def condition(self) -> list[tuple[str, str]]:
        clauses = self.term()
        while (token := self.peek()) is not None and token.kind == "and":
            self.index += 1
            clauses += self.term()
        return clauses

    def term(self) -> list[tuple[str, str]]:
        token = self.peek()
        if token is not None and token.kind == "open":
            self.index += 1
            clauses = self.condition()
            self.take("close", "')'")
            return clauses
        claim = self.take("claim", "assertion.<claim>")
        self.take("equals", "'=='")
        literal = self.take("string", "a quoted string")
        return [(claim.value, literal.value)]


def clauses(condition: str) -> list[tuple[str, str]]:
    """The (claim, literal) pairs of a conjunction of `assertion.<claim> == '<literal>'` clauses."""
    parser = _Parser(condition)
    found = parser.condition()
    if parser.peek() is not None:
        raise ConditionError(f"expected '&&' or the end, found {parser.peek().text!r} at {parser.peek().position}")
    return found


def pins_repository(found: list[tuple[str, str]]) -> bool:
    """Whether one clause names exactly one GitHub repository (by name, id, or a token subject)."""
    return any(
        (claim == "repository" and REPOSITORY.match(value))
        or (claim == "repository_id" and REPOSITORY_ID.match(value))
        or (claim == "sub" and REPOSITORY_SUBJECT.match(value))
        for claim, value in found
    )
