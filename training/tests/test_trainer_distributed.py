import json
import os
import subprocess
import sys

import pytest
import torch
from conftest import SAMPLE_EVAL, SAMPLE_TRAIN, TRAINING_DIR, free_port

from trainer import csv_data, distributed, features, metrics, task
from trainer.model import TipClassifier


def cluster_spec(task_type, index, chief=1, workers=2, extra=None):
    cluster = {"workerpool0": [f"chief-{i}:2222" for i in range(chief)],
               "workerpool1": [f"worker-{i}:2222" for i in range(workers)], **(extra or {})}  # fmt: skip
    return json.dumps({"cluster": cluster, "task": {"type": task_type, "index": index}})


def test_vertex_cluster_spec_gives_rank_world_size_and_master():
    chief = distributed.from_environment({"CLUSTER_SPEC": cluster_spec("workerpool0", 0)})
    assert (chief.rank, chief.world_size, chief.master_addr, chief.master_port) == (0, 3, "chief-0", 2222)
    worker = distributed.from_environment({"CLUSTER_SPEC": cluster_spec("workerpool1", 1)})
    assert (worker.rank, worker.world_size, worker.master_addr) == (2, 3, "chief-0")
    assert not worker.is_main


def test_single_replica_and_plain_environment_are_not_distributed():
    alone = distributed.from_environment({"CLUSTER_SPEC": cluster_spec("workerpool0", 0, workers=0)})
    assert alone.world_size == 1 and alone.is_main
    assert distributed.from_environment({}).world_size == 1


def test_reduction_server_pool_does_not_count_and_cannot_train():
    extra = {"workerpool2": ["reducer-0:2222"]}
    chief = distributed.from_environment({"CLUSTER_SPEC": cluster_spec("workerpool0", 0, extra=extra)})
    assert chief.world_size == 3
    with pytest.raises(SystemExit):
        distributed.from_environment({"CLUSTER_SPEC": cluster_spec("workerpool2", 0, extra=extra)})


def test_torchrun_variables_take_precedence():
    env = {"WORLD_SIZE": "4", "RANK": "3", "LOCAL_RANK": "1", "MASTER_ADDR": "10.0.0.2", "MASTER_PORT": "1234",
           "CLUSTER_SPEC": cluster_spec("workerpool0", 0)}  # fmt: skip
    replica = distributed.from_environment(env)
    assert (replica.rank, replica.world_size, replica.local_rank, replica.master_addr, replica.master_port) == (
        3, 4, 1, "10.0.0.2", 1234)  # fmt: skip


def test_shards_are_disjoint_equal_and_cover_the_permutation():
    replicas = [distributed.Replica(rank=r, world_size=3) for r in range(3)]
    shards = [task.epoch_permutation(100, 1, 0, r) for r in replicas]
    assert [len(s) for s in shards] == [33, 33, 33]
    assert len(set(torch.cat(shards).tolist())) == 99
    assert torch.equal(torch.cat(shards), task.epoch_permutation(100, 1, 0, distributed.Replica())[:99])


def reference_two_replica_run(epochs, batch_size, seed):
    """What 2-replica DDP must compute: one process, batches of 2 x batch_size made of the two
    replicas' batches (DDP averages the two equal-sized batch gradients)."""
    train_table = csv_data.read_csv_files([str(SAMPLE_TRAIN)]).table
    preprocessing = features.Preprocessing.fit(train_table)
    train = preprocessing.encode(train_table)
    evaluation = preprocessing.encode(csv_data.read_csv(str(SAMPLE_EVAL)))
    torch.manual_seed(seed)
    model = TipClassifier(preprocessing.num_numeric, preprocessing.vocabulary_sizes)
    optimizer = task.make_optimizer(model, 0.001, 0.0)
    for epoch in range(epochs):
        shards = [task.epoch_permutation(len(train), seed, epoch, distributed.Replica(rank=r, world_size=2))
                  for r in range(2)]  # fmt: skip
        steps = len(shards[0]) // batch_size
        merged = torch.stack([s.view(steps, batch_size) for s in shards], dim=1).flatten()
        task.train_one_epoch(model, optimizer, train, merged, 2 * batch_size, task.contextlib.nullcontext, None)
    return metrics.binary_metrics(task.predict_logits(model, evaluation), evaluation.label)


def test_two_process_gloo_ddp_run(tmp_path):
    port = free_port()
    job_dir = tmp_path / "job"
    command = [sys.executable, "-m", "trainer.task", "--train-files", str(SAMPLE_TRAIN), "--eval-files",
               str(SAMPLE_EVAL), "--num-epochs", "2", "--batch-size", "100", "--learning-rate", "0.001",
               "--seed", "3", "--job-dir", str(job_dir)]  # fmt: skip
    processes = []
    for pool in ("workerpool0", "workerpool1"):
        spec = {"cluster": {"workerpool0": [f"127.0.0.1:{port}"], "workerpool1": ["127.0.0.1:2222"]},
                "task": {"type": pool, "index": 0}}  # fmt: skip
        env = {**os.environ, "CLUSTER_SPEC": json.dumps(spec)}
        for name in ("WORLD_SIZE", "RANK", "AIP_MODEL_DIR", "AIP_CHECKPOINT_DIR", task.STOP_AFTER_EPOCH_ENV):
            env.pop(name, None)
        processes.append(subprocess.Popen(command, cwd=TRAINING_DIR, env=env, stdout=subprocess.PIPE,
                                          stderr=subprocess.PIPE, text=True))  # fmt: skip
    outputs = [p.communicate(timeout=120) for p in processes]
    for process, (_out, err) in zip(processes, outputs):
        assert process.returncode == 0, err[-3000:]

    chief_lines = [json.loads(line) for line in outputs[0][0].splitlines()]
    assert [line["message"].split()[1] for line in chief_lines if line["message"].startswith("epoch ")] == [
        "1/2", "2/2"]  # fmt: skip
    assert outputs[1][0].strip() == ""  # only rank 0 logs and writes
    result = json.loads((job_dir / "model" / "metrics.json").read_text())
    assert result["world_size"] == 2
    assert [h["train_samples"] for h in result["history"]] == [4000, 4000]

    expected = reference_two_replica_run(epochs=2, batch_size=100, seed=3)
    assert result["eval_loss"] == pytest.approx(expected["loss"], abs=2e-4)
    assert result["eval_accuracy"] == pytest.approx(expected["accuracy"], abs=0.006)
