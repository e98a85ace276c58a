"""Errors the user can fix: one JSON ERROR line naming the path and what to do, exit code 2, fast.

Exit codes come from `python -m trainer.task` in a subprocess; a missing-credentials run used to
take ~48 s here (gcsfs probing the metadata server, then anonymous requests retried with backoff).
"""

import http.server
import json
import os
import subprocess
import sys
import threading
import time

import google.auth
import google.auth.credentials
import google.auth.exceptions
import pytest
from conftest import SAMPLE_EVAL, SAMPLE_TRAIN, TRAINING_DIR

from trainer import errors, fs, task

# A trainer process (importing torch and gcsfs included) that fails on its first storage request.
SUBPROCESS_SECONDS = 25
IN_PROCESS_SECONDS = 5


def run_cli(*args, env=None, cwd=TRAINING_DIR):
    """`python -m trainer.task ARGS` -> (CompletedProcess, JSON lines of stdout, seconds)."""
    environment = dict(os.environ)  # the conftest fixture has already removed Vertex/emulator variables
    environment.pop("PYTHONPATH", None)
    environment.update(env or {})
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "trainer.task", *map(str, args)], capture_output=True,
                            text=True, cwd=cwd, env=environment, timeout=300)  # fmt: skip
    seconds = time.monotonic() - started
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    return result, lines, seconds


def the_error(result, lines, *needles):
    """The one ERROR line (the last line), with every needle in it; nothing on stderr."""
    assert result.returncode == task.ERROR_EXIT_CODE, result.stdout + result.stderr
    assert [line["severity"] for line in lines].count("ERROR") == 1, lines
    assert lines[-1]["severity"] == "ERROR"
    assert result.stderr == "", result.stderr  # no traceback, no library noise
    message = lines[-1]["message"]
    for needle in needles:
        assert needle in message, message
    return message


def data_args(train=SAMPLE_TRAIN, eval=SAMPLE_EVAL, job_dir="unused-job-dir", epochs=1):
    return ["--train-files", train, "--eval-files", eval, "--job-dir", job_dir, "--num-epochs", epochs]


def test_missing_local_training_file(tmp_path):
    result, lines, seconds = run_cli(*data_args(train="nope.csv", job_dir=tmp_path / "job"))
    the_error(result, lines, "nope.csv: no such file", "check the path")
    assert seconds < SUBPROCESS_SECONDS
    assert not (tmp_path / "job").exists()


def test_missing_eval_file_is_found_before_any_data_is_read(tmp_path):
    result, lines, _ = run_cli(*data_args(eval=tmp_path / "eval.csv", job_dir=tmp_path / "job"))
    the_error(result, lines, f"{tmp_path / 'eval.csv'}: no such file")
    assert not any(line["message"].startswith("loaded") for line in lines)


def test_a_directory_instead_of_a_file(tmp_path):
    result, lines, _ = run_cli(*data_args(train=tmp_path, job_dir=tmp_path / "job"))
    the_error(result, lines, f"{tmp_path}: is a directory")


def test_gcs_without_credentials_fails_at_once_in_a_subprocess(tmp_path):
    # Explicit credentials that do not exist: google.auth raises DefaultCredentialsError on any machine.
    env = {"GOOGLE_APPLICATION_CREDENTIALS": str(tmp_path / "no-such-key.json")}
    result, lines, seconds = run_cli(*data_args(train="gs://some-bucket/data/train.csv"), env=env)
    the_error(result, lines, "gs://some-bucket/data/train.csv: no Google Cloud credentials found",
              "gcloud auth application-default login", "service account")  # fmt: skip
    assert seconds < SUBPROCESS_SECONDS


@pytest.fixture
def no_gcs(monkeypatch):
    """A fresh gs:// filesystem on the next use (and no emulator)."""
    monkeypatch.setattr(fs, "_gcs_filesystem", None)
    yield
    fs._gcs_filesystem = None


def run_cli_in_process(capsys, argv):
    capsys.readouterr()
    started = time.monotonic()
    with pytest.raises(SystemExit) as exit_info:
        task.cli([str(a) for a in argv])
    seconds = time.monotonic() - started
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert exit_info.value.code == task.ERROR_EXIT_CODE
    assert [line["severity"] for line in lines].count("ERROR") == 1 and lines[-1]["severity"] == "ERROR"
    return lines[-1]["message"], seconds


def test_gcs_without_credentials_in_process(no_gcs, monkeypatch, capsys):
    def no_credentials(*args, **kwargs):
        raise google.auth.exceptions.DefaultCredentialsError("Your default credentials were not found.")

    monkeypatch.setattr(google.auth, "default", no_credentials)
    message, seconds = run_cli_in_process(capsys, data_args(eval="gs://b/data/eval.csv"))
    assert message.startswith("gs://b/data/eval.csv: no Google Cloud credentials found")
    assert "gcloud auth application-default login" in message
    assert seconds < IN_PROCESS_SECONDS


class _Credentials(google.auth.credentials.Credentials):
    """Credentials whose refresh fails (revoked) or succeeds."""

    def __init__(self, fail):
        super().__init__()
        self.fail = fail
        self.service_account_email = "trainer@project.iam.gserviceaccount.com"

    def refresh(self, request):
        if self.fail:
            raise google.auth.exceptions.RefreshError("invalid_grant: Token has been expired or revoked.")
        self.token = "token"


def test_revoked_credentials_fail_at_once(no_gcs, monkeypatch, capsys):
    monkeypatch.setattr(google.auth, "default", lambda *a, **k: (_Credentials(fail=True), "project"))
    message, seconds = run_cli_in_process(capsys, data_args(train="gs://b/train.csv"))
    assert message.startswith("gs://b/train.csv: the Google Cloud credentials could not be refreshed")
    assert "expired or revoked" in message and "gcloud auth application-default login" in message
    assert seconds < IN_PROCESS_SECONDS


def test_working_credentials_name_the_identity(no_gcs, monkeypatch):
    monkeypatch.setattr(google.auth, "default", lambda *a, **k: (_Credentials(fail=False), "project"))
    fs._gcs()
    assert fs._gcs_identity == "service account trainer@project.iam.gserviceaccount.com"
    error = errors.storage_error("gs://bkt/data/train.csv", OSError("Forbidden: bkt/o/data\nno access"),
                                 identity=fs._gcs_identity)  # fmt: skip
    assert str(error) == (
        "gs://bkt/data/train.csv: permission denied (HTTP 403); the identity the trainer runs as (service account "
        "trainer@project.iam.gserviceaccount.com) needs roles/storage.objectViewer on the bucket gs://bkt to read "
        "it (roles/storage.objectUser if it also writes there)"
    )


class _FakeStorage(http.server.BaseHTTPRequestHandler):
    """Answers every Cloud Storage JSON API request with `statuses` (one each, the last one repeated)."""

    statuses = [403]
    requests = 0

    def _answer(self):
        index = min(type(self).requests, len(self.statuses) - 1)
        type(self).requests += 1
        code = self.statuses[index]
        body = json.dumps({"error": {"code": code, "message": f"fake status {code}"}}).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = _answer

    def log_message(self, *args):
        pass


@pytest.fixture
def fake_storage(monkeypatch):
    """A local server standing in for Cloud Storage (via STORAGE_EMULATOR_HOST); set `.statuses`."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _FakeStorage)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}"
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", url)
    monkeypatch.setattr(fs, "_gcs_filesystem", None)
    _FakeStorage.statuses, _FakeStorage.requests = [403], 0
    yield _FakeStorage
    fs._gcs_filesystem = None
    server.shutdown()
    server.server_close()


def test_permission_denied_names_the_role_and_the_bucket_in_a_subprocess(fake_storage):
    result, lines, seconds = run_cli(*data_args(train="gs://private-bucket/data/train.csv"),
                                     env={"STORAGE_EMULATOR_HOST": os.environ["STORAGE_EMULATOR_HOST"]})  # fmt: skip
    the_error(result, lines, "gs://private-bucket/data/train.csv: permission denied (HTTP 403)",
              "roles/storage.objectViewer on the bucket gs://private-bucket")  # fmt: skip
    assert seconds < SUBPROCESS_SECONDS
    assert fake_storage.requests <= 4  # no retries: 403 is final


def test_permission_denied_on_writing_asks_for_the_write_role(fake_storage):
    started = time.monotonic()
    with pytest.raises(errors.TrainerError) as error:
        fs.write_bytes_atomic("gs://out-bucket/job/checkpoints/checkpoint-epoch-0001.pt", b"data")
    assert str(error.value).startswith("gs://out-bucket/job/checkpoints/checkpoint-epoch-0001.pt: permission denied")
    assert "needs roles/storage.objectUser on the bucket gs://out-bucket to write it" in str(error.value)
    assert time.monotonic() - started < IN_PROCESS_SECONDS


def test_transient_errors_are_retried_visibly(fake_storage):
    fake_storage.statuses = [503, 404]
    retries = []
    fs.report_retries(retries.append)
    with pytest.raises(errors.TrainerError, match="gs://bkt/data/train.csv: not found"):
        fs.read_bytes("gs://bkt/data/train.csv")
    assert retries and all(r.startswith("Cloud Storage request failed, retrying: ") for r in retries)
    assert "503" in retries[0]


def test_unknown_errors_are_not_disguised():
    assert errors.storage_error("local.csv", RuntimeError("bug")) is None
    with pytest.raises(RuntimeError, match="bug"), errors.translating("local.csv"):
        raise RuntimeError("bug")


def test_defaults_are_the_course_command():
    # `gcloud ai-platform jobs submit training ... -- --num-epochs 10 --batch-size 100 --learning-rate 0.001`:
    # the stack passes these flags only when a user sets them, so a change here changes every job.
    args = task.parse_args(["--train-files", "t.csv", "--eval-files", "e.csv", "--job-dir", "j"])
    assert (args.num_epochs, args.batch_size, args.learning_rate) == (10, 100, 0.001)
    assert isinstance(args.num_epochs, int) and isinstance(args.batch_size, int)
    assert isinstance(args.learning_rate, float)


@pytest.mark.parametrize("path, error, expected", [
    ("/gcs/bkt/data/train.csv", PermissionError(13, "Permission denied"),
     "/gcs/bkt/data/train.csv: permission denied (reading); the identity the trainer runs as needs "
     "roles/storage.objectViewer on the bucket gs://bkt to read it"),
    ("/gcs/bkt/data/train.csv", FileNotFoundError(2, "No such file"),
     "/gcs/bkt/data/train.csv: not found: /gcs/BUCKET/... is Cloud Storage mounted by Vertex AI"),
    ("data/train.csv", PermissionError(13, "Permission denied"), "data/train.csv: permission denied (reading)"),
])  # fmt: skip
def test_fuse_and_local_errors(path, error, expected):
    assert str(errors.storage_error(path, error)).startswith(expected)
