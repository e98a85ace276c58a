"""What the checks share: the stack's configuration as `make up` will see it, and what earlier
checks found out (credentials, the project number, the API states)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from stack import schema
from stack.config import ConfigError, Settings, load_settings
from tools import preflight
from tools.doctor.endpoints import Endpoints
from tools.doctor.google_http import GoogleClient

# Facts a check can require; the runner skips a check whose facts an earlier check did not establish.
SETTINGS, CREDENTIALS, PROJECT = "settings", "credentials", "project"
NEEDS_TEXT = {
    SETTINGS: "a valid stack configuration",
    CREDENTIALS: "Google credentials",
    PROJECT: "a reachable, active project",
}


@dataclass
class Context:
    stack: str
    root: Path
    environ: Mapping[str, str]
    endpoints: Endpoints
    timeout_seconds: float = 10.0
    # --read-only: check for the CI previewer (a preview with refresh) instead of for `make up`.
    read_only: bool = False
    stack_config: dict[str, str] = field(default_factory=dict)
    stack_file_found: bool = False
    project: str | None = None
    project_source: str = ""
    settings: Settings | None = None
    config_problems: list[str] = field(default_factory=list)
    credentials: Any = None
    client: GoogleClient | None = None
    identity: str = ""
    member: str = ""
    project_number: str | None = None
    facts: set[str] = field(default_factory=set)

    @property
    def path(self) -> str | None:
        return self.environ.get("PATH")

    def which(self, program: str) -> str | None:
        return shutil.which(program, path=self.path)

    @property
    def stack_file(self) -> Path:
        return self.root / f"Pulumi.{self.stack}.yaml"

    @property
    def quotas_url(self) -> str:
        return f"https://console.cloud.google.com/iam-admin/quotas?project={self.project}"

    def project_keys_set(self) -> list[str]:
        prefix = f"{schema.project_name()}:"
        return [key.removeprefix(prefix) for key in self.stack_config if key.startswith(prefix)]


def read_stack_config(stack_file: Path) -> dict[str, str]:
    """The stack file's `config:` as Pulumi hands it to the program: namespaced keys, string values.

    Bare keys belong to the project; secure (encrypted) values are left out: no stack key needs one.
    """
    document = yaml.safe_load(stack_file.read_text(encoding="utf-8")) or {}
    config: dict[str, str] = {}
    for key, value in (document.get("config") or {}).items():
        if isinstance(value, dict) and "secure" in value:
            continue
        name = key if ":" in key else f"{schema.project_name()}:{key}"
        config[name] = value if isinstance(value, str) else json.dumps(value)
    return config


def resolve_project(context: Context) -> None:
    """The project `make up` deploys to: the stack's gcp:project, else GCP_PROJECT, else gcloud's."""
    from_stack = context.stack_config.get("gcp:project")
    from_env = context.environ.get("GCP_PROJECT")
    if from_stack:
        context.project, context.project_source = from_stack, f"gcp:project in {context.stack_file.name}"
    elif from_env:
        context.project, context.project_source = from_env, "GCP_PROJECT"
    else:
        found = preflight.gcloud_project(context.path)
        if found:
            context.project, context.project_source = found, "gcloud config get-value project"


def load_configuration(context: Context) -> None:
    """Fill the stack configuration, the project and the validated settings (or the problems)."""
    context.stack_file_found = context.stack_file.is_file()
    if context.stack_file_found:
        context.stack_config = read_stack_config(context.stack_file)
    resolve_project(context)
    prefix = f"{schema.project_name()}:"
    # As `pulumi up` hands them to the program: unset project keys at their defaults.
    values = schema.cli_config(context.stack_config)
    if context.project:
        values["gcp:project"] = context.project
    try:
        context.settings = load_settings(
            lambda key: values.get(prefix + key),
            lambda key: values.get(f"gcp:{key}"),
            context.stack,
            context.project_keys_set(),
        )
    except ConfigError as error:
        context.config_problems = error.problems
        return
    context.facts.add(SETTINGS)
