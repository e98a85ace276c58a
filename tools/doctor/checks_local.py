"""Checks of this machine: the Pulumi CLI, gcloud, the configuration, and a Docker that builds linux/amd64."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Sequence

from tools.doctor.common import settings_of
from tools.doctor.context import Context, load_configuration
from tools.doctor.report import Result, fail, ok, skip, warn

INSTALL_PULUMI = "curl -fsSL https://get.pulumi.com | sh (or see https://www.pulumi.com/docs/install/)"
INSTALL_GCLOUD = "https://cloud.google.com/sdk/docs/install"
INSTALL_DOCKER = "https://docs.docker.com/get-docker/"
USE_CLOUD_BUILD = "pulumi config set imageBuilder cloudbuild --stack {stack} (builds the image in Cloud Build)"
COMMAND_TIMEOUT_SECONDS = 15.0


def run_command(context: Context, argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
    """A local command with the doctor's environment and a timeout; never raises for a failing command."""
    try:
        return subprocess.run(
            list(argv), capture_output=True, text=True, timeout=COMMAND_TIMEOUT_SECONDS, env=dict(context.environ),
            check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(list(argv), 124, "", f"no answer within {COMMAND_TIMEOUT_SECONDS:g} s")
    except OSError as error:
        return subprocess.CompletedProcess(list(argv), 127, "", str(error))


def first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def check_pulumi(context: Context) -> Result:
    name = "Pulumi CLI"
    pulumi = context.which("pulumi")
    if pulumi is None:
        return fail(name, "`pulumi` is not on PATH", INSTALL_PULUMI)
    done = run_command(context, [pulumi, "version"])
    version = first_line(done.stdout)
    if done.returncode != 0 or not version:
        return fail(name, f"`pulumi version` failed: {first_line(done.stderr) or done.returncode}", INSTALL_PULUMI)
    major = re.match(r"v?(\d+)\.", version)
    if major and int(major.group(1)) < 3:
        return fail(name, f"{version} is too old: the stack needs Pulumi 3", INSTALL_PULUMI)
    context.facts.add("pulumi")
    return ok(name, f"{version} ({pulumi})", version=version)


def check_gcloud(context: Context) -> Result:
    name = "gcloud"
    gcloud = context.which("gcloud")
    if gcloud is None:
        return warn(
            name,
            "not on PATH: optional, but it is how you log in (gcloud auth application-default login) and what "
            "the fixes below use",
            INSTALL_GCLOUD,
        )
    return ok(name, gcloud)


def check_configuration(context: Context) -> Result:
    name = "configuration"
    load_configuration(context)
    where = context.stack_file.name if context.stack_file_found else f"defaults ({context.stack_file.name} not found)"
    if context.config_problems:
        only_project = all(problem.startswith("gcp:project") for problem in context.config_problems)
        return fail(
            name,
            f"stack {context.stack} ({where}): " + "; ".join(context.config_problems),
            f"pulumi config set gcp:project YOUR_PROJECT_ID --stack {context.stack} (or export GCP_PROJECT)"
            if only_project
            else f"pulumi config set KEY VALUE --stack {context.stack} for each key above (see Pulumi.yaml)",
            problems=context.config_problems,
        )
    settings = settings_of(context)
    return ok(
        name,
        f"stack {context.stack} ({where}): project {settings.project} (from {context.project_source}), "
        f"region {settings.region}",
    )


def _why_no_docker(context: Context) -> str:
    """Why this run needs no local Docker ("" when it does)."""
    settings = settings_of(context)
    if context.read_only:
        return "not checked: --read-only (a preview builds no image)"
    if not settings.builds_image:
        return "not needed: this configuration builds no image"
    if settings.trainer.image_builder != "docker":
        return f"not needed: imageBuilder is {settings.trainer.image_builder}"
    return ""


def check_docker(context: Context) -> Result:
    name = "Docker"
    why_not = _why_no_docker(context)
    if why_not:
        return skip(name, why_not)
    fix_cloud_build = USE_CLOUD_BUILD.format(stack=context.stack)
    docker = context.which("docker")
    if docker is None:
        return fail(name, "`docker` is not on PATH: make up builds the trainer image locally",
                    f"install Docker ({INSTALL_DOCKER}), or {fix_cloud_build}")  # fmt: skip
    done = run_command(context, [docker, "version", "--format", "{{.Server.Version}} {{.Server.Os}}/{{.Server.Arch}}"])
    if done.returncode != 0 or not done.stdout.strip():
        return fail(
            name,
            f"the Docker daemon does not answer: {first_line(done.stderr) or 'no server version'}",
            f"start Docker (Docker Desktop, or `sudo systemctl start docker`), or {fix_cloud_build}",
        )
    version, _, platform = done.stdout.strip().partition(" ")
    if platform in ("linux/amd64", "linux/x86_64"):
        return ok(name, f"daemon {version} on {platform}")
    builders = run_command(context, [docker, "buildx", "ls"])
    if builders.returncode == 0 and "linux/amd64" in builders.stdout:
        return ok(name, f"daemon {version} on {platform or 'an unknown platform'}; buildx builds linux/amd64")
    return fail(
        name,
        f"daemon {version} on {platform or 'an unknown platform'} cannot build linux/amd64 (not in `docker buildx ls`)",
        f"docker run --privileged --rm tonistiigi/binfmt --install amd64 (QEMU emulation), or {fix_cloud_build}",
    )
