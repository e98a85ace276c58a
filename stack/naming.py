"""Names of cloud resources: one place for the rules Google enforces and the stack's conventions."""

from __future__ import annotations

import hashlib
import ipaddress
import re

PROJECT_ID = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
BUCKET_CHARS = re.compile(r"^[a-z0-9][a-z0-9._-]*[a-z0-9]$")


def is_project_id(value: str) -> bool:
    return bool(PROJECT_ID.match(value))


def _short_hash(*parts: str, length: int = 6) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:length]


def slug(text: str, separator: str = "-", keep: str = "") -> str:
    """`text` in lowercase letters and digits (and the characters in `keep`), every other run of
    characters one `separator`, none at the ends."""
    allowed = "a-z0-9" + re.escape(keep + separator)
    collapsed = re.sub(f"[^{allowed}]+", separator, text.lower())
    return re.sub(f"{re.escape(separator)}+", separator, collapsed).strip(separator)


def label_value(text: str) -> str:
    """`text` as a label value: lowercase letters, digits, '_' and '-', at most 63 characters."""
    return slug(text, keep="_")[:63]


def default_bucket_name(project: str, stack: str) -> str:
    """`{project}-{stack}-mlops`: project IDs are globally unique, so this name is too.

    Shortened with a stable hash when it would pass the 63-character limit.
    """
    name = f"{slug(project)}-{slug(stack) or 'stack'}-mlops"
    if len(name) > 63:
        name = f"{name[:55].rstrip('-')}-{_short_hash(project, stack)}"
    return name


def bucket_name_problem(name: str) -> str | None:
    """Why `name` is not a valid Cloud Storage bucket name, or None."""
    rule = (
        "bucket names use lowercase letters, digits, '-', '_' and '.', start and end with a letter "
        "or digit, have 3-63 characters (up to 222 with dots, 63 per dot-separated part), are not "
        "IP addresses and neither start with 'goog' nor contain 'google'"
    )
    if not BUCKET_CHARS.match(name) or len(name) < 3:
        return rule
    if "." in name:
        if len(name) > 222 or any(not part or len(part) > 63 for part in name.split(".")):
            return rule
    elif len(name) > 63:
        return rule
    if name.startswith("goog") or "google" in name or ".." in name:
        return rule
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return None
    return rule


def service_account_id(stack: str, role: str) -> str:
    """`{role}-{stack}` within the 6-30 character limit of service account ids."""
    account = f"{role}-{slug(stack) or 'stack'}"
    if len(account) > 30:
        account = f"{account[:23].rstrip('-')}-{_short_hash(stack, role)}"
    return account if len(account) >= 6 else f"{account}-sa"[:30]


def resource_id(stack: str, base: str, limit: int = 63) -> str:
    """A lowercase `{base}-{stack}` id for resources whose names are unique per project."""
    name = f"{base}-{slug(stack) or 'stack'}"
    if len(name) > limit:
        name = f"{name[: limit - 7].rstrip('-')}-{_short_hash(stack, base)}"
    return name
