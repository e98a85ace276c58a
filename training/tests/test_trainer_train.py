import contextlib
import io
import json
import shutil
import struct

import pytest
import torch
from conftest import SAMPLE_EVAL, run_trainer

from trainer import checkpoint, columns, csv_data, fs, metrics, predict, task
from trainer.model import TipClassifier

METRIC_KEYS = {"eval_loss", "eval_accuracy", "eval_auc", "epochs", "train_seconds", "train_samples_per_second",
               "history"}  # fmt: skip


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One 3-epoch run on the sample data, shared by the tests that only read its outputs."""
    job_dir = tmp_path_factory.mktemp("job")
    out = io.StringIO()  # capsys is function-scoped: capture by hand
    with contextlib.redirect_stdout(out):
        task.main(["--train-files", str(SAMPLE_EVAL.parent / "train.csv"), "--eval-files", str(SAMPLE_EVAL),
                   "--num-epochs", "3", "--batch-size", "100", "--learning-rate", "0.001",
                   "--job-dir", str(job_dir), "--tensorboard-dir", str(job_dir / "tb")])  # fmt: skip
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    return job_dir, lines


def test_end_to_end_writes_every_output(trained):
    job_dir, _ = trained
    model_dir = job_dir / "model"
    assert sorted(p.name for p in model_dir.iterdir()) == [
        "metrics.json", "model.pt", "model_config.json", "preprocessing.json"]  # fmt: skip
    result = json.loads((model_dir / "metrics.json").read_text())
    assert METRIC_KEYS <= set(result)
    assert result["epochs"] == 3 and [h["epoch"] for h in result["history"]] == [1, 2, 3]
    assert result["train_samples_per_second"] > 0
    assert result["eval_loss"] == result["history"][-1]["eval_loss"]
    assert sorted(p.name for p in (job_dir / "checkpoints").iterdir()) == [
        "checkpoint-epoch-0002.pt",
        "checkpoint-epoch-0003.pt",
    ]  # fmt: skip (older ones pruned)


def test_model_actually_learns(trained):
    job_dir, _ = trained
    result = json.loads((job_dir / "model" / "metrics.json").read_text())
    labels = csv_data.read_csv(str(SAMPLE_EVAL))["tip"].to_numpy()
    majority = max(labels.mean(), 1 - labels.mean())
    assert result["eval_accuracy"] > majority + 0.15
    assert result["eval_auc"] > 0.8
    losses = [h["train_loss"] for h in result["history"]]
    assert losses[0] > losses[-1]


def test_one_json_log_line_per_epoch_with_progress(trained):
    _, lines = trained
    assert all("severity" in line and "message" in line for line in lines)
    epochs = [line for line in lines if line["message"].startswith("epoch ")]
    assert [line["message"].split()[1] for line in epochs] == ["1/3", "2/3", "3/3"]
    assert all(line["severity"] == "INFO" and line["samples_per_second"] > 0 for line in epochs)
    assert epochs[-1]["eta_seconds"] == 0 and epochs[0]["eta_seconds"] > 0


def test_predictor_reproduces_eval_metrics(trained):
    job_dir, _ = trained
    result = json.loads((job_dir / "model" / "metrics.json").read_text())
    predictor = predict.load(str(job_dir / "model"))
    table = csv_data.read_csv(str(SAMPLE_EVAL))
    logits = predictor.logits(table)
    reproduced = metrics.binary_metrics(logits, torch.tensor(table["tip"].to_numpy(), dtype=torch.float32))
    assert reproduced["loss"] == pytest.approx(result["eval_loss"], abs=1e-6)
    assert reproduced["accuracy"] == result["eval_accuracy"]
    assert reproduced["auc"] == pytest.approx(result["eval_auc"], abs=1e-9)
    probabilities = predictor.predict_files([str(SAMPLE_EVAL)])
    assert torch.allclose(probabilities, torch.sigmoid(logits))
    rows = table.slice(0, 3).drop_columns(["tip"]).to_pylist()
    rows[0].pop("company")  # an absent field counts as empty
    assert predictor.predict_rows(rows)[1:] == pytest.approx(probabilities[1:3].tolist(), abs=1e-6)


def _crc32c(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


def _masked(data):
    crc = _crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def read_events(path):
    """TFRecord framing checked byte by byte (length, masked CRC32C of both), payloads as Event protos."""
    from tensorboardX.proto.event_pb2 import Event

    raw, events = path.read_bytes(), []
    while raw:
        (length,) = struct.unpack("<Q", raw[:8])
        assert struct.unpack("<I", raw[8:12])[0] == _masked(raw[:8])
        payload = raw[12 : 12 + length]
        assert struct.unpack("<I", raw[12 + length : 16 + length])[0] == _masked(payload)
        events.append(Event.FromString(payload))
        raw = raw[16 + length :]
    return events


def test_crc32c_of_the_reader_matches_the_known_vector():
    assert _crc32c(b"123456789") == 0xE3069283


def test_tensorboard_event_file_holds_every_epochs_metrics(trained):
    job_dir, _ = trained
    (path,) = (job_dir / "tb").iterdir()
    events = read_events(path)
    assert events[0].file_version == "brain.Event:2"
    scalars = {(e.step, v.tag): v.simple_value for e in events[1:] for v in e.summary.value}
    history = json.loads((job_dir / "model" / "metrics.json").read_text())["history"]
    assert {step for step, _ in scalars} == {h["epoch"] for h in history}
    for entry in history:
        for tag in ("train_loss", "eval_loss", "eval_accuracy", "eval_auc"):
            assert scalars[(entry["epoch"], tag)] == pytest.approx(entry[tag], rel=1e-6)


def test_same_seed_same_result_other_seed_differs(tmp_path, capsys):
    runs = {}
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        run_trainer(capsys, "--seed", str(seed), epochs=1, job_dir=tmp_path / name)
        runs[name] = json.loads((tmp_path / name / "model" / "metrics.json").read_text())["eval_loss"]
    assert runs["a"] == runs["b"] != runs["c"]


def test_killed_run_resumes_to_the_same_result(tmp_path, capsys, monkeypatch):
    run_trainer(capsys, epochs=4, job_dir=tmp_path / "straight")
    straight = json.loads((tmp_path / "straight" / "model" / "metrics.json").read_text())

    monkeypatch.setenv(task.STOP_AFTER_EPOCH_ENV, "2")
    with pytest.raises(SystemExit) as stopped:
        run_trainer(capsys, epochs=4, job_dir=tmp_path / "resumed")
    assert stopped.value.code == task.STOPPED_EXIT_CODE
    assert not (tmp_path / "resumed" / "model").exists()
    assert checkpoint.latest(str(tmp_path / "resumed" / "checkpoints")).endswith("checkpoint-epoch-0002.pt")

    monkeypatch.delenv(task.STOP_AFTER_EPOCH_ENV)
    lines = run_trainer(capsys, epochs=4, job_dir=tmp_path / "resumed")
    assert any("resumed from" in line["message"] and "after epoch 2" in line["message"] for line in lines)
    assert [line["message"].split()[1] for line in lines if line["message"].startswith("epoch ")] == ["3/4", "4/4"]
    resumed = json.loads((tmp_path / "resumed" / "model" / "metrics.json").read_text())
    for key in ("eval_loss", "eval_accuracy", "eval_auc", "epochs"):
        assert resumed[key] == straight[key], key
    assert [h["train_loss"] for h in resumed["history"]] == [h["train_loss"] for h in straight["history"]]
    a = torch.load(tmp_path / "straight" / "model" / "model.pt")
    b = torch.load(tmp_path / "resumed" / "model" / "model.pt")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_latest_checkpoint_ignores_partial_writes(tmp_path):
    directory = str(tmp_path)
    checkpoint.save(directory, {"epoch": 1})
    checkpoint.save(directory, {"epoch": 2})
    (tmp_path / ".checkpoint-epoch-0003.pt.1234.tmp").write_bytes(b"partial")
    assert checkpoint.latest(directory).endswith("checkpoint-epoch-0002.pt")
    assert checkpoint.load(checkpoint.latest(directory))["epoch"] == 2
    assert checkpoint.latest(str(tmp_path / "nowhere")) is None


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path, monkeypatch):
    path = tmp_path / "metrics.json"
    fs.write_text_atomic(str(path), "old")

    def failing_fsync(fd):
        raise OSError("disk full")

    monkeypatch.setattr(fs.os, "fsync", failing_fsync)
    with pytest.raises(OSError):
        fs.write_text_atomic(str(path), "new")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


def test_output_directories_default_to_vertex_variables(monkeypatch):
    monkeypatch.setenv("AIP_MODEL_DIR", "gs://b/out/model/")
    monkeypatch.setenv("AIP_CHECKPOINT_DIR", "/gcs/b/out/checkpoints/")
    monkeypatch.setenv("AIP_TENSORBOARD_LOG_DIR", "gs://b/out/logs/")
    args = task.parse_args(["--train-files", "t.csv", "--eval-files", "e.csv"])
    assert (args.model_dir, args.checkpoint_dir, args.tensorboard_dir) == (
        "gs://b/out/model/", "/gcs/b/out/checkpoints/", "gs://b/out/logs/")  # fmt: skip
    monkeypatch.delenv("AIP_MODEL_DIR")
    monkeypatch.delenv("AIP_CHECKPOINT_DIR")
    args = task.parse_args(["--train-files", "t.csv", "--eval-files", "e.csv", "--job-dir", "gs://b/job"])
    assert (args.model_dir, args.checkpoint_dir) == ("gs://b/job/model", "gs://b/job/checkpoints")
    with pytest.raises(SystemExit):
        task.parse_args(["--train-files", "t.csv", "--eval-files", "e.csv"])


def test_bad_input_exits_with_a_clear_message(tmp_path, capsys, sample_lines):
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(sample_lines[:3] + [sample_lines[3].replace(",", ",x", 1)] + sample_lines[4:8]))
    with pytest.raises(columns.DataError, match=r"bad\.csv, line 4, column 'trip_miles'"):
        run_trainer(capsys, train=bad, epochs=1, job_dir=tmp_path / "job")


def test_model_shapes():
    model = TipClassifier(num_numeric=4, vocabulary_sizes=[3, 5])
    logits = model(torch.zeros(6, 4), torch.tensor([[2, 4]] * 6))
    assert logits.shape == (6,)
    with pytest.raises(IndexError):  # index 5 is past column 2's vocabulary and the whole table
        model(torch.zeros(1, 4), torch.tensor([[0, 5 + 1]]))


def test_rerun_of_a_finished_run_says_so_and_rewrites_the_outputs(tmp_path, capsys):
    job_dir = tmp_path / "job"
    run_trainer(capsys, epochs=2, job_dir=job_dir)
    first = json.loads((job_dir / "model" / "metrics.json").read_text())
    weights = (job_dir / "model" / "model.pt").read_bytes()
    shutil.rmtree(job_dir / "model")  # as if the first run crashed while writing its outputs

    lines = run_trainer(capsys, epochs=2, job_dir=job_dir)
    (warning,) = [line for line in lines if line["severity"] == "WARNING"]
    latest = str(job_dir / "checkpoints" / "checkpoint-epoch-0002.pt")
    assert "already complete" in warning["message"] and latest in warning["message"]
    assert str(job_dir) in warning["message"] and "new --job-dir" in warning["message"]
    assert "delete the checkpoints" in warning["message"]
    assert not [line for line in lines if line["message"].startswith("epoch ")]  # nothing trained
    again = json.loads((job_dir / "model" / "metrics.json").read_text())
    assert again == first and (job_dir / "model" / "model.pt").read_bytes() == weights

    lines = run_trainer(capsys, epochs=1, job_dir=job_dir)  # fewer epochs than the checkpoint holds
    assert any("covers 2 epochs (--num-epochs 1)" in line["message"] for line in lines if line["severity"] == "WARNING")
