"""Google API errors: the error JSON of a failed call (or a failed long-running operation)
turned into one `GoogleApiError` that says what went wrong and what to do about it."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import requests

_TYPE_ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"
_TYPE_QUOTA_FAILURE = "type.googleapis.com/google.rpc.QuotaFailure"
_TYPE_BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest"

# google.rpc.Code numbers, as found in long-running operation errors.
_GRPC_CODE_NAMES = {
    1: "CANCELLED",
    2: "UNKNOWN",
    3: "INVALID_ARGUMENT",
    4: "DEADLINE_EXCEEDED",
    5: "NOT_FOUND",
    6: "ALREADY_EXISTS",
    7: "PERMISSION_DENIED",
    8: "RESOURCE_EXHAUSTED",
    9: "FAILED_PRECONDITION",
    10: "ABORTED",
    11: "OUT_OF_RANGE",
    12: "UNIMPLEMENTED",
    13: "INTERNAL",
    14: "UNAVAILABLE",
    15: "DATA_LOSS",
    16: "UNAUTHENTICATED",
}

_RETRYABLE_HTTP_STATUSES = frozenset({500, 502, 503})
# A 429 is retried only when it is rate limiting; an exhausted quota will not
# recover within a retry window and must be reported (AIP-194).
_RATE_LIMIT_REASONS = frozenset({"RATE_LIMIT_EXCEEDED", "rateLimitExceeded", "userRateLimitExceeded"})


class GoogleApiError(Exception):
    """A failed Google API call, with the parsed error and a hint about what to do."""

    def __init__(
        self,
        *,
        http_status: int | None,
        status: str,
        message: str,
        details: list[dict[str, Any]] | None = None,
        request: str = "",
        identity: str = "",
        project: str | None = None,
        legacy_reasons: Iterable[str] = (),
    ) -> None:
        self.http_status = http_status
        self.status = status
        self.api_message = message
        self.details = details or []
        self.request = request
        self.identity = identity
        self.project = project
        self.legacy_reasons = tuple(legacy_reasons)
        super().__init__(self._describe())

    @classmethod
    def from_response(
        cls, response: requests.Response, *, identity: str = "", project: str | None = None
    ) -> GoogleApiError:
        try:
            error = response.json().get("error", {})
        except ValueError:
            error = {}
        if not isinstance(error, dict):  # OAuth endpoints answer {"error": "invalid_grant", ...}
            error = {"message": str(error)}
        return cls(
            http_status=response.status_code,
            status=str(error.get("status", "")),
            message=str(error.get("message") or response.reason or response.text[:500]),
            details=[d for d in error.get("details", []) if isinstance(d, dict)],
            request=f"{response.request.method} {without_query(response.url)}",
            identity=identity,
            project=project,
            legacy_reasons=[e.get("reason", "") for e in error.get("errors", []) if isinstance(e, dict)],
        )

    @classmethod
    def from_status(
        cls, status: Mapping[str, Any], *, request: str, identity: str = "", project: str | None = None
    ) -> GoogleApiError:
        """From a google.rpc.Status, e.g. the `error` of a long-running operation."""
        code = status.get("code")
        return cls(
            http_status=None,
            status=_GRPC_CODE_NAMES.get(code, str(code)) if isinstance(code, int) else str(code or ""),
            message=str(status.get("message", "")),
            details=[d for d in status.get("details", []) if isinstance(d, dict)],
            request=request,
            identity=identity,
            project=project,
        )

    # --- parsed details ---------------------------------------------------

    def _details_of_type(self, type_url: str) -> list[dict[str, Any]]:
        return [d for d in self.details if d.get("@type") == type_url]

    @property
    def reasons(self) -> list[str]:
        return [d.get("reason", "") for d in self._details_of_type(_TYPE_ERROR_INFO)] + list(self.legacy_reasons)

    @property
    def error_info_metadata(self) -> dict[str, str]:
        merged: dict[str, str] = {}
        for info in self._details_of_type(_TYPE_ERROR_INFO):
            merged.update(info.get("metadata") or {})
        return merged

    @property
    def is_not_found(self) -> bool:
        return self.http_status == 404 or self.status == "NOT_FOUND"

    @property
    def is_rate_limited(self) -> bool:
        return bool(_RATE_LIMIT_REASONS.intersection(self.reasons))

    @property
    def is_service_disabled(self) -> bool:
        return "SERVICE_DISABLED" in self.reasons or (
            self.status == "PERMISSION_DENIED" and "has not been used in project" in self.api_message
        )

    @property
    def retryable(self) -> bool:
        if self.http_status in _RETRYABLE_HTTP_STATUSES:
            return True
        return self.http_status == 429 and self.is_rate_limited

    @property
    def quota_names(self) -> list[str]:
        names: list[str] = []
        for failure in self._details_of_type(_TYPE_QUOTA_FAILURE):
            for violation in failure.get("violations", []):
                name = violation.get("quotaMetric") or violation.get("quotaId") or violation.get("subject")
                described = " ".join(
                    part
                    for part in (name, f"({violation['description']})" if violation.get("description") else "")
                    if part
                )
                if described:
                    names.append(described)
        metadata = self.error_info_metadata
        for key in ("quota_metric", "quota_limit", "quota_id"):
            if metadata.get(key) and not any(metadata[key] in n for n in names):
                names.append(metadata[key])
        return names

    @property
    def field_violations(self) -> list[str]:
        return [
            f"`{violation.get('field', '?')}`: {violation.get('description', '')}".rstrip(": ")
            for bad_request in self._details_of_type(_TYPE_BAD_REQUEST)
            for violation in bad_request.get("fieldViolations", [])
        ]

    @property
    def missing_permission(self) -> str | None:
        permission = self.error_info_metadata.get("permission")
        if permission:
            return permission
        match = re.search(r"[Pp]ermission[s]? ['\"`]?([a-z][A-Za-z0-9]*(?:\.[A-Za-z0-9]+){2,})", self.api_message)
        return match.group(1) if match else None

    # --- message ----------------------------------------------------------

    def _hint(self) -> str:
        project = self.project or "PROJECT"
        if self.is_service_disabled:
            metadata = self.error_info_metadata
            service = metadata.get("service") or _service_from_message(self.api_message) or "the API"
            return (
                f"The {service} API is not enabled in project {project}. Enable it with "
                f"`gcloud services enable {service} --project {project}` "
                "(or a google_project_service resource) and retry after a minute."
            )
        if self.http_status == 403 or self.status == "PERMISSION_DENIED":
            permission = self.missing_permission or "(permission not named in the response)"
            return (
                f"Permission denied: {self.identity or 'the caller'} lacks {permission} in project {project}. "
                "Grant that identity a role containing it."
            )
        if self.http_status == 429 or self.status == "RESOURCE_EXHAUSTED":
            quotas = ", ".join(self.quota_names) or "(quota not named in the response)"
            if self.is_rate_limited:
                return f"Rate limit still exceeded after retries: {quotas}. Retry later."
            return (
                f"Quota exhausted: {quotas}. Request an increase at "
                f"https://console.cloud.google.com/iam-admin/quotas?project={project} "
                "or choose a smaller machine, fewer accelerators or another region."
            )
        if self.http_status == 400 or self.status in ("INVALID_ARGUMENT", "FAILED_PRECONDITION"):
            violations = self.field_violations
            if violations:
                return "Invalid request: " + "; ".join(violations)
        if self.http_status == 401 or self.status == "UNAUTHENTICATED":
            return (
                f"The credentials of {self.identity or 'the caller'} were rejected: run "
                "`gcloud auth application-default login` or set GOOGLE_APPLICATION_CREDENTIALS."
            )
        return ""

    def _describe(self) -> str:
        code = f"HTTP {self.http_status} " if self.http_status is not None else ""
        head = f"{self.request}: {code}{self.status}: {self.api_message}".strip()
        hint = self._hint()
        return f"{head}\n{hint}" if hint else head


def _service_from_message(message: str) -> str | None:
    match = re.search(r"\b([a-z0-9-]+\.googleapis\.com)\b", message)
    return match.group(1) if match else None


def without_query(url: str) -> str:
    return url.split("?", 1)[0]
