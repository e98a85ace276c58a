"""Loading never runs code from a file (weights_only), and the package Vertex AI installed is checked."""

import contextlib
import hashlib
import io
import json
import os
import random
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import TRAINING_DIR, run_trainer
from test_trainer_errors import data_args, run_cli, the_error

from trainer import checkpoint, errors, fs, predict, task

REPO_ROOT = TRAINING_DIR.parent


class Exploit:
    """Unpickling this runs a shell command that creates `marker`."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.fixture(scope="module")
def model_job(tmp_path_factory):
    """A 1-epoch run: its job dir (model and checkpoint) is copied by the tests that tamper with it."""
    job_dir = tmp_path_factory.mktemp("job")
    with contextlib.redirect_stdout(io.StringIO()):
        task.main(list(map(str, data_args(job_dir=job_dir))))
    return job_dir


def test_checkpoints_and_models_load_with_plain_weights_only(model_job):
    state = torch.load(model_job / "checkpoints" / "checkpoint-epoch-0001.pt", weights_only=True)
    assert state["epoch"] == 1 and state["history"][0]["epoch"] == 1
    assert set(state["rng"]) >= {"torch", "numpy", "python"}
    model = torch.load(model_job / "model" / "model.pt", weights_only=True)
    assert all(isinstance(v, torch.Tensor) for v in model.values())


def test_rng_state_round_trips_through_a_weights_only_checkpoint(tmp_path):
    torch.manual_seed(1), np.random.seed(2), random.seed(3)
    np.random.standard_normal()  # leaves a cached gaussian in numpy's state
    random.gauss(0, 1)  # and in python's
    checkpoint.save(str(tmp_path), {"epoch": 1, "rng": checkpoint.rng_state()})
    expected = (torch.rand(3), np.random.rand(3), np.random.standard_normal(), random.random(), random.gauss(0, 1))
    torch.manual_seed(9), np.random.seed(9), random.seed(9)
    checkpoint.set_rng_state(checkpoint.load(checkpoint.latest(str(tmp_path)))["rng"])
    again = (torch.rand(3), np.random.rand(3), np.random.standard_normal(), random.random(), random.gauss(0, 1))
    assert torch.equal(expected[0], again[0]) and np.array_equal(expected[1], again[1])
    assert expected[2:] == again[2:]


def _poison_checkpoint(job_dir, payload):
    (job_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
    torch.save(payload, job_dir / "checkpoints" / "checkpoint-epoch-0001.pt")


def test_a_malicious_checkpoint_is_refused_and_never_run(tmp_path):
    marker = tmp_path / "pwned"
    _poison_checkpoint(tmp_path / "job", {"epoch": 1, "model": Exploit(marker)})
    result, lines, _ = run_cli(*data_args(job_dir=tmp_path / "job", epochs=2))
    message = the_error(result, lines, "checkpoint-epoch-0001.pt: refused to load", "arbitrary code",
                        "new --job-dir", str(tmp_path / "job" / "checkpoints"))  # fmt: skip
    assert "not resumed" in message
    assert not marker.exists()
    assert not (tmp_path / "job" / "model").exists()


def test_an_older_trainers_checkpoint_is_refused_with_advice(tmp_path, capsys):
    # The previous format: numpy's RNG state with an ndarray, which only full unpickling can load.
    old = {"epoch": 1, "rng": {"torch": torch.get_rng_state(), "numpy": np.random.get_state(),
                               "python": random.getstate()}}  # fmt: skip
    _poison_checkpoint(tmp_path / "job", old)
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        task.cli(list(map(str, data_args(job_dir=tmp_path / "job", epochs=2))))
    assert exit_info.value.code == task.ERROR_EXIT_CODE
    (error,) = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"ERROR"' in line]
    assert "older trainer's file" in error["message"] and "Start a fresh run with a new --job-dir" in error["message"]


def test_a_poisoned_model_file_is_refused_by_predict_load(model_job, tmp_path):
    model_dir = tmp_path / "model"
    shutil.copytree(model_job / "model", model_dir)
    marker = tmp_path / "pwned"
    torch.save({"weights": Exploit(marker)}, model_dir / "model.pt")
    with pytest.raises(errors.UnsafeFileError, match=r"model\.pt: refused to load: .*arbitrary code"):
        predict.load(str(model_dir))
    assert not marker.exists()
    # The same file through plain full unpickling would have run the command: the test is real.
    torch.load(model_dir / "model.pt", weights_only=False)
    assert marker.exists()


def test_the_readme_prediction_example_runs_from_the_repository_root(model_job):
    readme = (TRAINING_DIR / "README.md").read_text()
    (example,) = [b for b in re.findall(r"```python\n(.*?)```", readme, re.S) if "from trainer import predict" in b]
    code, count = re.subn(r"predict\.load\([^)]*\)", f"predict.load({str(model_job / 'model')!r})", example)
    assert count == 1, example
    code += "\nassert all(0 < p < 1 for p in predictor.predict_rows([{'fare': 9.5}, {}]))\n"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # the venv's editable install, not sys.path
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                            timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stderr


@pytest.fixture
def package(tmp_path):
    path = tmp_path / "trainer-0.1.0.tar.gz"
    path.write_bytes(b"the sdist the stack uploaded")
    return path, hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_replaced_package_stops_the_run_before_any_data_is_read(package, tmp_path):
    path, digest = package
    path.write_bytes(b"something else")
    env = {task.PACKAGE_URI_ENV: str(path), task.PACKAGE_SHA256_ENV: digest}
    result, lines, _ = run_cli(*data_args(job_dir=tmp_path / "job"), env=env)
    actual = hashlib.sha256(b"something else").hexdigest()
    the_error(result, lines, f"the package at {path} is not the one the stack uploaded: sha256 {actual}, "
              f"expected {digest}")  # fmt: skip
    assert not any(line["message"].startswith("loaded") for line in lines)


def test_the_uploaded_package_is_verified_then_training_runs(package, tmp_path, capsys, monkeypatch):
    path, digest = package
    monkeypatch.setenv(task.PACKAGE_URI_ENV, str(path))
    monkeypatch.setenv(task.PACKAGE_SHA256_ENV, digest.upper())
    lines = run_trainer(capsys, epochs=1, job_dir=tmp_path / "job")
    messages = [line["message"] for line in lines]
    verified = [line for line in lines if line["message"] == f"package {path} verified: sha256 {digest}"]
    assert len(verified) == 1 and verified[0]["severity"] == "INFO"
    assert messages.index(verified[0]["message"]) < next(i for i, m in enumerate(messages) if m.startswith("loaded"))


def test_package_check_needs_both_variables(monkeypatch):
    said = []
    monkeypatch.setenv(task.PACKAGE_URI_ENV, "gs://bucket/packages/x/trainer-0.1.0.tar.gz")
    task.verify_package(lambda *args, **fields: said.append(args))
    assert said == [("WARNING", f"package not verified: set both {task.PACKAGE_URI_ENV} and {task.PACKAGE_SHA256_ENV}")]
    monkeypatch.delenv(task.PACKAGE_URI_ENV)
    task.verify_package(lambda *args, **fields: said.append(args))
    assert len(said) == 1  # neither set (local runs): nothing to say


def test_a_missing_package_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setenv(task.PACKAGE_URI_ENV, str(tmp_path / "trainer-0.1.0.tar.gz"))
    monkeypatch.setenv(task.PACKAGE_SHA256_ENV, "0" * 64)
    with pytest.raises(errors.TrainerError, match="trainer-0.1.0.tar.gz: no such file"):
        task.verify_package(lambda *args, **fields: None)


def test_a_file_torch_did_not_write_is_damaged_not_malicious(tmp_path):
    (tmp_path / "model.pt").write_bytes(b"not a torch file")
    with pytest.raises(errors.TrainerError, match=r"model\.pt: not a torch file") as raised:
        fs.torch_load(str(tmp_path / "model.pt"))
    assert not isinstance(raised.value, errors.UnsafeFileError)


def test_a_truncated_checkpoint_is_an_error_not_a_traceback(model_job, tmp_path):
    data = (model_job / "checkpoints" / "checkpoint-epoch-0001.pt").read_bytes()
    (tmp_path / "checkpoint-epoch-0001.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(errors.TrainerError, match="not a complete torch file"):
        checkpoint.load(str(tmp_path / "checkpoint-epoch-0001.pt"))
