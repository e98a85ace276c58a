"""tools/admin_guard.py: a CI deploy that would change an identity, a role or a grant stops before `up`."""

import json

from stack.permissions import ADMIN_TYPES
from tools import admin_guard

STACK_URN = "urn:pulumi:dev::gcp-mlops::"


def step(op, type_, name, parent="gcp-mlops:iam:Identities"):
    return {"op": op, "urn": f"{STACK_URN}pulumi:pulumi:Stack${parent}${type_}::{name}"}


def write(tmp_path, steps):
    path = tmp_path / "preview.json"
    path.write_text(json.dumps({"steps": steps, "changeSummary": {}}))
    return path


def test_a_code_only_change_passes(tmp_path, capsys):
    steps = [
        step("same", "gcp:serviceaccount/account:Account", "trainer"),
        step("same", "gcp:projects/iAMMember:IAMMember", "project-trainer-logging-logwriter"),
        step("replace", "pulumi-python:dynamic/vertex:CustomJob", "job", parent="gcp-mlops:training:TrainingJob"),
        step("update", "docker:index/image:Image", "trainer", parent="gcp-mlops:registry:TrainerImage"),
    ]
    assert admin_guard.main([str(write(tmp_path, steps))]) == 0
    assert "changes nothing that needs an admin" in capsys.readouterr().out


def test_a_change_to_a_grant_or_an_account_stops_the_deploy(tmp_path, capsys):
    steps = [
        step(
            "create",
            "gcp:storage/bucketIAMMember:BucketIAMMember",
            "bucket-server-read",
            "gcp-mlops:storage:DataBucket",
        ),
        step("delete", "gcp:serviceaccount/account:Account", "builder"),
        step("update", "gcp:projects/iAMCustomRole:IAMCustomRole", "deployer", "gcp-mlops:iam:CiRoles"),
        step("same", "gcp:iam/workloadIdentityPool:WorkloadIdentityPool", "pool", "gcp-mlops:ci:Identity"),
    ]
    assert admin_guard.main([str(write(tmp_path, steps)), "--stack", "prod"]) == 1
    err = capsys.readouterr().err
    assert "create gcp:storage/bucketIAMMember:BucketIAMMember bucket-server-read" in err
    assert "delete gcp:serviceaccount/account:Account builder" in err
    assert "update gcp:projects/iAMCustomRole:IAMCustomRole deployer" in err
    assert "WorkloadIdentityPool" not in err, "an unchanged admin resource is no reason to stop"
    assert "make up STACK=prod" in err


def test_an_unreadable_preview_is_an_error_not_a_pass(tmp_path, capsys):
    (tmp_path / "preview.json").write_text("not json")
    assert admin_guard.main([str(tmp_path / "preview.json")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_every_iam_type_the_stack_can_declare_is_admin_owned():
    from tools.render import render
    from tools.snapshot import EXAMPLES

    for overrides in EXAMPLES.values():
        for resource in render(overrides).resources:
            if not resource.custom:
                continue  # components hold no access of their own
            name = resource.type.lower()
            if any(word in name for word in ("iam", "account:account", "identity", "customrole", "kms/")):
                assert resource.type in ADMIN_TYPES, resource.type
