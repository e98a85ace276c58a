"""The doctor's one way to call Google: read-only, short timeouts, at most one retry.

Every request is a GET or HEAD, or the POST of a `:testIamPermissions` (which only asks). Anything
else raises `WriteRefused` before it leaves the machine: the doctor must never change a project.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import urlsplit

import google.auth.credentials
import google.auth.exceptions
import requests
from google.auth.transport.requests import AuthorizedSession

from providers.google_errors import GoogleApiError, without_query
from providers.rest import TRANSPORT_ERRORS

T = TypeVar("T")

READ_METHODS = frozenset({"GET", "HEAD"})
ASKING_SUFFIXES = (":testIamPermissions",)
# A Docker registry answers a manifest HEAD for an image index or a single-platform manifest alike.
MANIFEST_TYPES = ", ".join(
    (
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    )
)
_RETRYABLE_STATUSES = frozenset({500, 502, 503, 504})


class WriteRefused(RuntimeError):
    """The doctor tried a request that could change something."""


class Unreachable(Exception):
    """No answer: a timeout or a connection failure, after the one retry."""


def is_read_only(method: str, url: str) -> bool:
    method = method.upper()
    return method in READ_METHODS or (method == "POST" and urlsplit(url).path.endswith(ASKING_SUFFIXES))


def within(seconds: float, work: Callable[[], T]) -> T:
    """`work()` in a daemon thread; TimeoutError if it has not returned after `seconds` (it is abandoned)."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = work()
        except BaseException as error:  # re-raised in the caller's thread
            outcome["error"] = error

    thread = threading.Thread(target=target, name="doctor-deadline", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise TimeoutError(f"no answer within {seconds:g} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


class GoogleClient:
    """Authenticated, read-only JSON calls. Raises GoogleApiError for error answers, Unreachable for none."""

    def __init__(
        self,
        credentials: google.auth.credentials.Credentials,
        *,
        identity: str,
        project: str | None,
        timeout_seconds: float = 10.0,
    ) -> None:
        self._session = AuthorizedSession(credentials, refresh_timeout=timeout_seconds)
        self.identity = identity
        self.project = project
        self.timeout = (min(5.0, timeout_seconds), timeout_seconds)

    def close(self) -> None:
        self._session.close()

    def get(self, url: str, params: Mapping[str, Any] | Sequence[tuple[str, str]] | None = None) -> dict[str, Any]:
        response = self._send("GET", url, params=params)
        return response.json() if response.content else {}

    def head(self, url: str, headers: Mapping[str, str] | None = None) -> int:
        """The status of a HEAD; only transport failures raise."""
        return self._send("HEAD", url, headers=headers, raise_for_status=False).status_code

    def test_permissions(self, url: str, permissions: Sequence[str]) -> list[str]:
        """POST `{"permissions": [...]}` to a `:testIamPermissions` URL; the ones the caller holds."""
        response = self._send("POST", url, json={"permissions": list(permissions)})
        return list((response.json() if response.content else {}).get("permissions", []))

    def _send(self, method: str, url: str, *, raise_for_status: bool = True, **kwargs: Any) -> requests.Response:
        if not is_read_only(method, url):
            raise WriteRefused(f"the doctor only reads: refused {method} {url}")
        response = None
        for attempt in (1, 2):
            try:
                response = self._session.request(method, url, timeout=self.timeout, **kwargs)
            except TRANSPORT_ERRORS as error:
                if attempt == 2:
                    raise Unreachable(f"{method} {without_query(url)}: {type(error).__name__}") from error
                continue
            if response.status_code not in _RETRYABLE_STATUSES or attempt == 2:
                break
        assert response is not None
        if raise_for_status and response.status_code >= 400:
            raise GoogleApiError.from_response(response, identity=self.identity, project=self.project)
        return response


def short(error: BaseException) -> str:
    """One line about a failed call, for a check's detail."""
    if isinstance(error, GoogleApiError):
        code = f"HTTP {error.http_status} " if error.http_status else ""
        text = f"{code}{error.status}: {error.api_message}".strip()
    else:
        text = str(error)
    text = " ".join(text.split())
    return text if len(text) <= 220 else text[:217] + "..."
