"""What the checks share: their preamble (the settings, and "not needed" when the feature is off) and
one way to ask Google that turns a call without an answer into the check's result."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import TypeVar

from providers.google_errors import GoogleApiError
from stack.config import Settings
from tools.doctor.context import Context
from tools.doctor.google_http import GoogleClient, Unreachable, short
from tools.doctor.report import Result, skip, warn

T = TypeVar("T")
FeatureCheck = Callable[[Context, Settings, str], Result]


def client_of(context: Context) -> GoogleClient:
    """The caller's client (the runner runs a check that calls Google only after the credentials check)."""
    assert context.client is not None
    return context.client


def settings_of(context: Context) -> Settings:
    """The validated settings (the runner runs a check that needs them only after the configuration check)."""
    assert context.settings is not None
    return context.settings


def only_when(name: str, needed: Callable[[Settings], bool], otherwise: str) -> Callable[[FeatureCheck], Callable]:
    """A check of `name` that applies only when `needed(settings)`; otherwise it is "– not needed: `otherwise`".

    The check is called as `check(context, settings, name)`."""

    def decorate(check: FeatureCheck) -> Callable[[Context], Result]:
        @wraps(check)
        def run(context: Context) -> Result:
            settings = settings_of(context)
            if not needed(settings):
                return skip(name, f"not needed: {otherwise}")
            return check(context, settings, name)

        return run

    return decorate


def consumer_of(error: GoogleApiError, default: str) -> str:
    """The project an API is disabled in (ErrorInfo metadata `consumer`: projects/NUMBER), else `default`."""
    consumer = error.error_info_metadata.get("consumer", "")
    return consumer.removeprefix("projects/") or default


def ask_google(
    context: Context,
    name: str,
    api: str,
    call: Callable[[], T],
    *,
    disabled: Callable[[str], Result] | None = None,
    known: Callable[[GoogleApiError], Result | None] | None = None,
    fix: str = "",
) -> T | Result:
    """`call()`'s answer, or check `name`'s result when Google answered with an error or not at all.

    `disabled(consumer)`: the result when `api` is not enabled in project `consumer` (without it, such an
    answer is like any other error); `known(error)`: the result for an error the check understands (None
    when it does not). Any other error is "could not tell" (⚠), no answer "could not reach `api`" (⚠), both
    with `fix`. A caller tells the two apart with `isinstance(answer, Result)`."""
    try:
        return call()
    except GoogleApiError as error:
        if disabled is not None and error.is_service_disabled:
            return disabled(consumer_of(error, context.project or ""))
        understood = known(error) if known is not None else None
        return understood or warn(name, f"could not tell ({short(error)})", fix)
    except Unreachable as error:
        return warn(name, f"could not reach {api}: {error}", fix)
