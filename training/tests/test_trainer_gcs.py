"""gs:// reads and writes against an in-process Cloud Storage emulator."""

import hashlib
import json
import os
import time

import pytest
from conftest import SAMPLE_EVAL, SAMPLE_TRAIN, free_port, run_trainer
from test_trainer_errors import SUBPROCESS_SECONDS, data_args, run_cli, the_error

os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")  # before gcsfs is imported

from trainer import checkpoint, columns, csv_data, errors, fs, predict, task

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


def test_missing_object_and_missing_bucket_fail_at_once(gcs, emulator):
    env = {"STORAGE_EMULATOR_HOST": emulator}
    result, lines, seconds = run_cli(*data_args(train=f"{gcs}/data/nope.csv"), env=env)
    the_error(result, lines, f"{gcs}/data/nope.csv: not found: the bucket {gcs} has no such object", "check the path")
    assert seconds < SUBPROCESS_SECONDS
    result, lines, seconds = run_cli(*data_args(eval="gs://no-such-bucket/eval.csv"), env=env)
    the_error(result, lines, "gs://no-such-bucket/eval.csv: not found: there is no bucket gs://no-such-bucket")
    assert seconds < SUBPROCESS_SECONDS


def test_missing_object_in_process_is_quick(gcs):
    started = time.monotonic()
    with pytest.raises(errors.TrainerError, match=f"{gcs}/nope.csv: not found"):
        csv_data.read_csv_files([f"{gcs}/nope.csv"])
    assert time.monotonic() - started < 5


def test_package_in_the_bucket_is_verified(gcs, monkeypatch):
    uri = f"{gcs}/packages/0123456789ab/trainer-0.1.0.tar.gz"
    fs.write_bytes_atomic(uri, b"sdist bytes")
    monkeypatch.setenv(task.PACKAGE_URI_ENV, uri)
    monkeypatch.setenv(task.PACKAGE_SHA256_ENV, hashlib.sha256(b"sdist bytes").hexdigest())
    said = []
    task.verify_package(lambda severity, message, **fields: said.append((severity, message)))
    assert said == [("INFO", f"package {uri} verified: sha256 {hashlib.sha256(b'sdist bytes').hexdigest()}")]

    fs.write_bytes_atomic(uri, b"replaced")
    with pytest.raises(errors.TrainerError, match=f"the package at {uri} is not the one the stack uploaded"):
        task.verify_package(lambda *args, **fields: None)
