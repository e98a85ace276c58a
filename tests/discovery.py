"""Validate request bodies against Google's own discovery documents.

The documents ship with google-api-python-client. They carry no `required`
lists: a field whose description starts with "Required." is required, and one
that starts with "Output only." (or is marked readOnly) must not be sent.

    problems = validate("aiplatform.v1", "GoogleCloudAiplatformV1CustomJob", body)
    assert problems == []
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import googleapiclient

DOCUMENTS_DIR = Path(googleapiclient.__file__).parent / "discovery_cache" / "documents"

_DURATION = re.compile(r"^-?\d+(\.\d{1,9})?s$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
_INTEGER_TEXT = re.compile(r"^-?\d+$")
_INT32_RANGE = (-(2**31), 2**31 - 1)
_UINT32_RANGE = (0, 2**32 - 1)


@cache
def load_document(doc_name: str) -> dict[str, Any]:
    """`doc_name` is the file stem, e.g. "aiplatform.v1" or "compute.v1"."""
    return json.loads((DOCUMENTS_DIR / f"{doc_name}.json").read_text())


def request_schema_name(doc_name: str, method_id: str) -> str:
    """The request schema of a method, e.g. "aiplatform.projects.locations.customJobs.create"."""

    def methods(resources: dict[str, Any]):
        for resource in resources.values():
            yield from resource.get("methods", {}).values()
            yield from methods(resource.get("resources", {}))

    document = load_document(doc_name)
    for method in [*document.get("methods", {}).values(), *methods(document.get("resources", {}))]:
        if method.get("id") == method_id:
            return method["request"]["$ref"]
    raise KeyError(f"{method_id} not in {doc_name}")


def validate(doc_name: str, schema_name: str, body: Any) -> list[str]:
    """Problems of `body` as a request of `schema_name`, each as "path: what is wrong"; [] if valid."""
    schemas = load_document(doc_name)["schemas"]
    problems: list[str] = []
    _check(schemas, {"$ref": schema_name}, body, "", problems)
    return problems


def _is_output_only(field: dict[str, Any]) -> bool:
    return bool(field.get("readOnly")) or field.get("description", "").startswith("Output only.")


def _is_required(field: dict[str, Any]) -> bool:
    return field.get("description", "").startswith("Required.")


def _where(path: str) -> str:
    return path or "(body)"


def _check(schemas: dict[str, Any], schema: dict[str, Any], value: Any, path: str, problems: list[str]) -> None:
    if "$ref" in schema:
        schema = schemas[schema["$ref"]]
    kind = schema.get("type")
    if kind == "any":
        return
    if kind == "object":
        _check_object(schemas, schema, value, path, problems)
    elif kind == "array":
        if not isinstance(value, list):
            problems.append(f"{_where(path)}: expected an array, got {type(value).__name__}")
            return
        for index, item in enumerate(value):
            _check(schemas, schema.get("items", {"type": "any"}), item, f"{path}[{index}]", problems)
    else:
        _check_scalar(schema, value, path, problems)


def _check_object(schemas: dict[str, Any], schema: dict[str, Any], value: Any, path: str, problems: list[str]) -> None:
    if not isinstance(value, dict):
        problems.append(f"{_where(path)}: expected an object, got {type(value).__name__}")
        return
    properties: dict[str, Any] = schema.get("properties", {})
    map_values = schema.get("additionalProperties")
    prefix = f"{path}." if path else ""
    if map_values is not None and not properties:
        for key, item in value.items():
            _check(schemas, map_values, item, f"{prefix}{key}", problems)
        return
    for key, item in value.items():
        field = properties.get(key)
        if field is None:
            if properties:
                problems.append(f"{prefix}{key}: unknown field")
            continue
        if _is_output_only(field):
            problems.append(f"{prefix}{key}: output-only field must not be sent")
            continue
        _check(schemas, field, item, f"{prefix}{key}", problems)
    for key, field in properties.items():
        if _is_required(field) and value.get(key) in (None, "", [], {}):
            problems.append(f"{prefix}{key}: missing required field")


def _check_scalar(schema: dict[str, Any], value: Any, path: str, problems: list[str]) -> None:
    kind, number_format = schema.get("type"), schema.get("format")
    where = _where(path)
    if kind == "boolean":
        if not isinstance(value, bool):
            problems.append(f"{where}: expected a boolean, got {value!r}")
    elif kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            problems.append(f"{where}: expected an integer, got {value!r}")
            return
        low, high = _UINT32_RANGE if number_format == "uint32" else _INT32_RANGE
        if not low <= value <= high:
            problems.append(f"{where}: {value} out of {number_format or 'int32'} range")
    elif kind == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            problems.append(f"{where}: expected a number, got {value!r}")
    elif kind == "string" and number_format in ("int64", "uint64"):
        # proto3 JSON: 64-bit integers are strings, but numbers are accepted too.
        is_integral = (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, str) and _INTEGER_TEXT.match(value)
        )
        if not is_integral:
            problems.append(f"{where}: expected a 64-bit integer (string or number), got {value!r}")
    elif kind == "string":
        if not isinstance(value, str):
            problems.append(f"{where}: expected a string, got {value!r}")
            return
        _check_string(schema, value, where, problems)


def _check_string(schema: dict[str, Any], value: str, where: str, problems: list[str]) -> None:
    enum = schema.get("enum")
    if enum is not None:
        if value not in enum:
            problems.append(f"{where}: {value!r} is not one of {', '.join(enum)}")
        elif schema.get("enumDeprecated", [False] * len(enum))[enum.index(value)]:
            problems.append(f"{where}: {value!r} is deprecated")
    number_format = schema.get("format")
    if number_format == "google-duration" and not _DURATION.match(value):
        problems.append(f'{where}: {value!r} is not a duration like "3600s"')
    elif number_format == "google-datetime" and not _DATETIME.match(value):
        problems.append(f"{where}: {value!r} is not an RFC 3339 timestamp")
