import json
import os
import socket
import sys
from pathlib import Path

import pytest

TRAINING_DIR = Path(__file__).resolve().parents[1]
SAMPLE_TRAIN = TRAINING_DIR / "data" / "sample" / "train.csv"
SAMPLE_EVAL = TRAINING_DIR / "data" / "sample" / "eval.csv"
sys.path.insert(0, str(TRAINING_DIR))  # `import trainer` without installing it

from trainer import task  # noqa: E402


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_trainer(capsys, *extra, train=SAMPLE_TRAIN, eval=SAMPLE_EVAL, epochs=3, job_dir=None):
    """task.main in this process; returns the JSON log lines it printed."""
    argv = ["--train-files", str(train), "--eval-files", str(eval), "--num-epochs", str(epochs),
            "--batch-size", "100", "--learning-rate", "0.001"]  # fmt: skip
    if job_dir is not None:
        argv += ["--job-dir", str(job_dir)]
    capsys.readouterr()
    try:
        task.main(argv + list(extra))
    finally:
        printed = capsys.readouterr().out
    return [json.loads(line) for line in printed.splitlines() if line.startswith("{")]


@pytest.fixture(autouse=True)
def _no_vertex_environment(monkeypatch):
    for name in ("AIP_MODEL_DIR", "AIP_CHECKPOINT_DIR", "AIP_TENSORBOARD_LOG_DIR", "CLUSTER_SPEC",
                 "WORLD_SIZE", "RANK", "STORAGE_EMULATOR_HOST", task.STOP_AFTER_EPOCH_ENV,
                 "TRAINER_PACKAGE_URI", "TRAINER_PACKAGE_SHA256"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def csv_file(tmp_path):
    """Writes text to a CSV file and returns its path."""

    def write(text, name="data.csv"):
        path = tmp_path / name
        path.write_text(text)
        return str(path)

    return write


@pytest.fixture(scope="session")
def sample_header():
    return SAMPLE_TRAIN.read_text().splitlines()[0]


@pytest.fixture(scope="session")
def sample_lines():
    return SAMPLE_TRAIN.read_text().splitlines()


def pytest_configure(config):
    os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")
