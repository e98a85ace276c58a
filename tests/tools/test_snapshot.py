"""The committed stack snapshots (snapshots/*.yaml) match what the program declares."""

import yaml

from tools import snapshot


def test_committed_snapshots_are_current():
    stale = snapshot.stale()
    assert not stale, (
        f"stale stack snapshots: {', '.join(stale)}. Refresh them with `{snapshot.REFRESH_COMMAND}` "
        "(python -m tools.snapshot), review the diff and commit it."
    )


def test_a_snapshot_is_deterministic_readable_yaml_with_secrets_redacted():
    first, second = (snapshot.render_example("dev-full") for _ in range(2))
    assert first == second
    body = yaml.safe_load(first)
    assert body["example"] == "dev-full" and body["config"] == snapshot.EXAMPLES["dev-full"]
    assert list(body["resources"]) == sorted(body["resources"])
    assert "__provider" not in first
    for entry in body["resources"].values():
        assert {"type", "name"} <= set(entry)
        assert entry.get("dependsOn", []) == sorted(entry.get("dependsOn", []))


def test_check_mode_lists_stale_files_and_fails(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(snapshot, "SNAPSHOT_DIR", tmp_path)
    monkeypatch.setattr(snapshot, "ROOT", tmp_path.parent)
    (tmp_path / "dev.yaml").write_text("outdated\n")
    (tmp_path / "gone.yaml").write_text("an example that no longer exists\n")
    assert snapshot.main(["--check"]) == 1
    message = capsys.readouterr().err
    assert "dev.yaml" in message and "dev-full.yaml" in message and "gone.yaml" in message
    assert snapshot.REFRESH_COMMAND in message
