"""gs:// reads and writes against an in-process Cloud Storage emulator."""

import json
import os

import pytest
from conftest import SAMPLE_EVAL, SAMPLE_TRAIN, free_port, run_trainer

os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")  # before gcsfs is imported

from trainer import checkpoint, columns, csv_data, fs, predict, task

BUCKET = "trainer-test"


@pytest.fixture(scope="module")
def emulator():
    from gcp_storage_emulator.server import create_server

    port = free_port()
    server = create_server("127.0.0.1", port, in_memory=True, default_bucket=BUCKET)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def gcs(emulator, monkeypatch):
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", emulator)
    monkeypatch.setattr(fs, "_gcs_filesystem", None)
    yield f"gs://{BUCKET}"
    fs._gcs().invalidate_cache()


def test_io_round_trip_and_listing(gcs):
    path = f"{gcs}/io/a/b.txt"
    fs.write_text_atomic(path, "hello")
    assert fs.read_bytes(path) == b"hello"
    assert fs.exists(path)
    assert fs.listdir(f"{gcs}/io/a") == ["b.txt"]
    assert fs.listdir(f"{gcs}/io/nothing-here") == []
    fs.remove(path)
    assert not fs.exists(path)


def test_train_from_and_to_gcs_with_resume(gcs, capsys, monkeypatch):
    fs.write_bytes_atomic(f"{gcs}/data/train.csv", SAMPLE_TRAIN.read_bytes())
    fs.write_bytes_atomic(f"{gcs}/data/eval.csv", SAMPLE_EVAL.read_bytes())
    job_dir = f"{gcs}/jobs/run1"
    monkeypatch.setenv(task.STOP_AFTER_EPOCH_ENV, "1")
    with pytest.raises(SystemExit):
        run_trainer(capsys, train=f"{gcs}/data/train.csv", eval=f"{gcs}/data/eval.csv", epochs=2, job_dir=job_dir)
    assert checkpoint.latest(f"{job_dir}/checkpoints") == f"{job_dir}/checkpoints/checkpoint-epoch-0001.pt"

    monkeypatch.delenv(task.STOP_AFTER_EPOCH_ENV)
    lines = run_trainer(capsys, "--tensorboard-dir", f"{gcs}/tb", train=f"{gcs}/data/train.csv",
                        eval=f"{gcs}/data/eval.csv", epochs=2, job_dir=job_dir)  # fmt: skip
    assert any(line["message"].startswith("resumed from gs://") for line in lines)
    result = json.loads(fs.read_bytes(f"{job_dir}/model/metrics.json"))
    assert result["epochs"] == 2
    assert set(fs.listdir(f"{job_dir}/model")) == {"metrics.json", "model.pt", "model_config.json",
                                                    "preprocessing.json"}  # fmt: skip
    assert len(fs.listdir(f"{gcs}/tb")) == 1
    predictor = predict.load(f"{job_dir}/model")
    assert len(predictor.predict_files([f"{gcs}/data/eval.csv"])) == 1000


def test_bad_gcs_file_is_named(gcs):
    fs.write_bytes_atomic(f"{gcs}/data/empty.csv", b"")
    with pytest.raises(columns.DataError, match=f"gs://{BUCKET}/data/empty.csv: file is empty"):
        csv_data.read_csv_files([f"{gcs}/data/empty.csv"])
