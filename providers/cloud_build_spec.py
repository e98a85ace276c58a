"""The Cloud Build image build's inputs, their rules, and its request and outputs as Cloud Build v1 has them.

Pure: no requests are made here (providers.cloud_build does that). Every rule is checked before the
first request, so a crafted value cannot steer a call elsewhere: the location and project go into
URL paths, `api_endpoint` decides where the credentials' token is sent.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, fields
from typing import Any

from pulumi.runtime import rpc

from providers import rest
from providers.dynamic_base import RestInputs, blocking_problems
from stack.naming import BUCKET_CHARS, PROJECT_ID

DEFAULT_ENDPOINT = "https://cloudbuild.googleapis.com"
# Cloud Build's own Docker builder; its workers (every machine type below is E2 or N1) are x86-64.
DOCKER_BUILDER = "gcr.io/cloud-builders/docker"
PLATFORM = "linux/amd64"
# Non-deprecated BuildOptions.machineType values of the discovery document (N1_* are deprecated there).
MACHINE_TYPES = ("E2_MEDIUM", "E2_STANDARD_2", "E2_HIGHCPU_8", "E2_HIGHCPU_32")
DEFAULT_BUILD_TIMEOUT_SECONDS = 1800
MAX_BUILD_TIMEOUT_SECONDS = 86400
DEFAULT_WAIT_TIMEOUT_SECONDS = 2400.0
# The longest build Cloud Build runs, plus an hour in its queue.
MAX_WAIT_TIMEOUT_SECONDS = MAX_BUILD_TIMEOUT_SECONDS + 3600.0
CREATE_TOKEN_PREFIX = "pulumi-create-"

TERMINAL_STATUSES = frozenset({"SUCCESS", "FAILURE", "INTERNAL_ERROR", "TIMEOUT", "CANCELLED", "EXPIRED"})

# LOCATION-docker.pkg.dev/PROJECT/REPOSITORY/IMAGE:TAG (a multi-region such as `europe` or a region).
ARTIFACT_REGISTRY_IMAGE = re.compile(
    r"^(?P<untagged>(?:[a-z]+|[a-z]+-[a-z]+[0-9]+)-docker\.pkg\.dev"
    r"/[a-z][a-z0-9-]{4,28}[a-z0-9]"
    r"/[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?"
    r"/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*)"
    r":(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})$"
)
SERVICE_ACCOUNT_EMAIL = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}@[a-z0-9][a-z0-9.-]*\.gserviceaccount\.com$")
# Cloud Build answers INVALID_ARGUMENT 'invalid build tag "…": must match format "^[\w][\w.-]{0,127}$"'.
BUILD_TAG = re.compile(r"^[\w][\w.-]{0,127}$", re.ASCII)
BUILD_ARG_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
CONTEXT_PATH_PART = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
SOURCE_ARCHIVE = re.compile(r"^[^\s/][^\r\n]{0,1000}\.(?:tar\.gz|tgz)$")
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
GENERATION = re.compile(r"^[1-9][0-9]{0,18}$")

REQUIRED_KEYS = ("project", "location", "source_bucket", "source_object", "image", "service_account")
INPUT_KEYS = (
    "project",
    "location",
    "source_bucket",
    "source_object",
    "source_generation",
    "image",
    "dockerfile",
    "build_args",
    "service_account",
    "machine_type",
    "timeout_seconds",
    "tags",
    "wait_timeout_seconds",
    "api_endpoint",
)
# What is built: a change in any of these is another image, so a new build. The object name is the
# context's content hash, so its generation is not here: re-uploading the same context builds nothing.
REPLACING_KEYS = ("project", "location", "source_bucket", "source_object", "image", "dockerfile", "build_args")
OUTPUT_ONLY_KEYS = (
    "name",
    "build_id",
    "status",
    "status_detail",
    "log_url",
    "log_command",
    "digest",
    "image_digest_ref",
    "create_token",
)


def _is_absent(value: Any) -> bool:
    return value is None or value == ""


def _is_unknown(value: Any) -> bool:
    return value == rpc.UNKNOWN


def _whole_number(value: Any) -> Any:
    # Pulumi carries every number as a double.
    return int(value) if isinstance(value, float) and value.is_integer() else value


def is_context_path(path: str) -> bool:
    """A relative path inside the build context, without `..` (and not read as a flag)."""
    parts = path.split("/")
    return all(CONTEXT_PATH_PART.fullmatch(part) and part not in (".", "..") for part in parts)


def _number_problem(key: str, value: Any, low: float, high: float) -> list[tuple[str, str]]:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low < value <= high:
        return [(key, f"{key} must be a number of seconds above {low:g} and at most {high:g}, got {value!r}")]
    return []


def _is_generation(value: Any) -> bool:
    return not isinstance(value, bool) and bool(GENERATION.fullmatch(str(_whole_number(value))))


def _matches(pattern: re.Pattern[str]) -> Callable[[Any], bool]:
    # fullmatch: `$` alone would let a trailing newline through into a URL path.
    return lambda value: isinstance(value, str) and pattern.fullmatch(value) is not None


# input -> (rule, what a valid value is)
_RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "project": (_matches(PROJECT_ID), "a project ID"),
    "location": (_matches(rest.REGION_NAME), "a region name such as europe-west1"),
    "source_bucket": (
        lambda value: _matches(BUCKET_CHARS)(value) and 3 <= len(value) <= 222,
        "a Cloud Storage bucket name",
    ),
    "source_object": (_matches(SOURCE_ARCHIVE), "the name of a gzipped tar object (.tar.gz or .tgz)"),
    "source_generation": (_is_generation, "an object generation number"),
    "image": (
        _matches(ARTIFACT_REGISTRY_IMAGE),
        "an Artifact Registry image with a tag: LOCATION-docker.pkg.dev/PROJECT/REPOSITORY/IMAGE:TAG",
    ),
    "dockerfile": (lambda value: isinstance(value, str) and is_context_path(value), "a path inside the context"),
    "service_account": (
        _matches(SERVICE_ACCOUNT_EMAIL),
        "a service account email (NAME@PROJECT.iam.gserviceaccount.com)",
    ),
    "machine_type": (lambda value: value in MACHINE_TYPES, f"one of {', '.join(MACHINE_TYPES)}"),
}


def _problems_of(key: str, value: Any) -> list[tuple[str, str]]:
    """The problems of one known, present input."""
    if key in _RULES:
        valid, expected = _RULES[key]
        return [] if valid(value) else [(key, f"{key} must be {expected}, got {value!r}")]
    if key == "api_endpoint":
        return rest.endpoint_problems(None, value)
    if key == "timeout_seconds":
        return _number_problem(key, value, 0, MAX_BUILD_TIMEOUT_SECONDS)
    if key == "wait_timeout_seconds":
        return _number_problem(key, value, 0, MAX_WAIT_TIMEOUT_SECONDS)
    if key == "build_args":
        return _build_args_problems(value)
    if key == "tags":
        return _tags_problems(value)
    return []


def _build_args_problems(value: Any) -> list[tuple[str, str]]:
    if not isinstance(value, Mapping):
        return [("build_args", f"build_args must be a mapping of names to strings, got {value!r}")]
    return [
        ("build_args", f"build_args: {name!r} must be a NAME ([A-Za-z_][A-Za-z0-9_]*) with a string value")
        for name, text in value.items()
        if not _matches(BUILD_ARG_NAME)(name) or not isinstance(text, str)
    ]


def _tags_problems(value: Any) -> list[tuple[str, str]]:
    if not isinstance(value, (list, tuple)):
        return [("tags", f"tags must be a list of build tags, got {value!r}")]
    problems = []
    for tag in value:
        if _is_unknown(tag):
            continue
        if not isinstance(tag, str) or not BUILD_TAG.fullmatch(tag):
            problems.append(("tags", f"tags: {tag!r} must match {BUILD_TAG.pattern} (letters, digits, _ . -)"))
        elif tag.startswith(CREATE_TOKEN_PREFIX):
            problems.append(("tags", f"tags: {tag!r}: tags starting {CREATE_TOKEN_PREFIX} are the provider's"))
    return problems


def check_inputs(props: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(property, problem) pairs worth failing `pulumi preview` for; unknown (preview) values are skipped."""
    problems = [(key, f"{key} is required") for key in REQUIRED_KEYS if _is_absent(props.get(key))]
    for key in INPUT_KEYS:
        value = props.get(key)
        if not _is_absent(value) and not _is_unknown(value):
            problems.extend(_problems_of(key, value))
    return problems


def escape_substitutions(text: str) -> str:
    # Cloud Build substitutes $NAME and ${NAME} in step arguments; $$ is a literal $.
    return text.replace("$", "$$")


@dataclass(frozen=True)
class BuildInputs(RestInputs):
    LOCATION_FIELD = "location"

    project: str
    location: str
    source_bucket: str
    source_object: str
    image: str
    service_account: str
    source_generation: str | None = None
    dockerfile: str = "Dockerfile"
    build_args: dict[str, str] | None = None
    machine_type: str | None = None
    timeout_seconds: int = DEFAULT_BUILD_TIMEOUT_SECONDS
    tags: list[str] | None = None
    wait_timeout_seconds: float = DEFAULT_WAIT_TIMEOUT_SECONDS
    api_endpoint: str | None = None

    @classmethod
    def from_props(cls, props: Mapping[str, Any]) -> BuildInputs:
        """From the provider's property bag (inputs, or outputs that carry them); absent == None."""
        problems = blocking_problems(check_inputs(props), cls.LOCATION_FIELD)
        if problems:
            raise ValueError("; ".join(problems))
        present = {key: props[key] for key in INPUT_KEYS if not _is_absent(props.get(key))}
        if "source_generation" in present:
            present["source_generation"] = str(_whole_number(present["source_generation"]))
        if "timeout_seconds" in present:
            present["timeout_seconds"] = int(present["timeout_seconds"])
        if "build_args" in present:
            present["build_args"] = dict(present["build_args"]) or None
        if "tags" in present:
            present["tags"] = list(present["tags"]) or None
        return cls(**present)

    @property
    def default_endpoint(self) -> str:
        return DEFAULT_ENDPOINT

    @property
    def untagged_image(self) -> str:
        match = ARTIFACT_REGISTRY_IMAGE.fullmatch(self.image)
        assert match, "checked in from_props"
        return match["untagged"]

    def request_body(self, create_token: str) -> dict[str, Any]:
        """The Build to create (Cloud Build v1 `Build`, camelCase)."""
        args = ["build", f"--platform={PLATFORM}", "--file", self.dockerfile, "--tag", self.image]
        for name, value in sorted((self.build_args or {}).items()):
            args += ["--build-arg", f"{name}={escape_substitutions(value)}"]
        storage_source: dict[str, Any] = {"bucket": self.source_bucket, "object": self.source_object}
        if self.source_generation:
            storage_source["generation"] = self.source_generation
        # A user-managed service account cannot write to the default logs bucket: logs go to Cloud Logging.
        options: dict[str, Any] = {"logging": "CLOUD_LOGGING_ONLY"}
        if self.machine_type:
            options["machineType"] = self.machine_type
        return {
            "source": {"storageSource": storage_source},
            "steps": [{"name": DOCKER_BUILDER, "args": [*args, "."]}],
            "images": [self.image],
            "serviceAccount": f"projects/{self.project}/serviceAccounts/{self.service_account}",
            "options": options,
            "timeout": f"{self.timeout_seconds}s",
            "tags": [*(self.tags or []), create_token],
        }


def comparable_inputs(props: Mapping[str, Any]) -> dict[str, Any]:
    # Values may still be unknown (preview), so no validation here: only defaults, number types and empties.
    defaults = {field.name: field.default for field in fields(BuildInputs) if field.default is not MISSING}
    comparable = {}
    for key in INPUT_KEYS:
        value = props.get(key)
        value = defaults.get(key) if _is_absent(value) or value in ({}, []) else _whole_number(value)
        comparable[key] = str(value) if key == "source_generation" and value is not None else value
    return comparable


# --- what a build reports ------------------------------------------------------------------------


def pushed_digest(build: Mapping[str, Any], inputs: BuildInputs) -> str | None:
    """The digest Cloud Build pushed `inputs.image` with (results.images[].digest), if it did."""
    images = (build.get("results") or {}).get("images") or []
    for wanted in (inputs.image, inputs.untagged_image):
        for image in images:
            if image.get("name") == wanted and DIGEST.fullmatch(str(image.get("digest", ""))):
                return str(image["digest"])
    return None


def build_outputs(inputs: BuildInputs, build: Mapping[str, Any], create_token: str | None) -> dict[str, Any]:
    build_id = str(build["id"])
    digest = pushed_digest(build, inputs) if build.get("status") == "SUCCESS" else None
    return {
        **inputs.to_props(),
        "name": f"{inputs.parent}/builds/{build_id}",
        "build_id": build_id,
        "status": build.get("status"),
        "status_detail": build.get("statusDetail"),
        "log_url": build.get("logUrl"),
        "log_command": f"gcloud builds log {build_id} --region={inputs.location} --project={inputs.project}",
        "digest": digest,
        "image_digest_ref": f"{inputs.untagged_image}@{digest}" if digest else None,
        "create_token": create_token,
    }


def _failure_hint(failure_type: str, inputs: BuildInputs) -> str:
    account = inputs.service_account
    repository = inputs.untagged_image.rsplit("/", 1)[0]
    hints = {
        "PUSH_NOT_AUTHORIZED": f"{account} needs roles/artifactregistry.writer on {repository}.",
        "PUSH_FAILED": f"Check that {repository} exists and {account} may write to it.",
        "FETCH_SOURCE_FAILED": (
            f"Check that gs://{inputs.source_bucket}/{inputs.source_object} exists and that {account} "
            "may read it (roles/storage.objectViewer on the bucket)."
        ),
        "LOGGING_FAILURE": f"{account} needs roles/logging.logWriter: the build logs to Cloud Logging only.",
        "USER_BUILD_STEP": "`docker build` failed: the log says which Dockerfile step.",
    }
    return hints.get(failure_type, "")


def failure_message(inputs: BuildInputs, build: Mapping[str, Any], outputs: Mapping[str, Any]) -> str:
    failure = build.get("failureInfo") or {}
    failure_type = str(failure.get("type", ""))
    reason = ": ".join(part for part in (failure_type, failure.get("detail"), build.get("statusDetail")) if part)
    lines = [
        f"Cloud Build build {outputs['build_id']} of {inputs.image} ended {build.get('status')}"
        + (f": {reason}" if reason else ""),
        _failure_hint(failure_type, inputs),
        f"Logs: {build.get('logUrl') or '(no log URL reported)'}",
        f"Or: {outputs['log_command']}",
    ]
    return "\n".join(line for line in lines if line)
