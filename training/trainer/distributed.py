"""Who am I in a multi-replica job: Vertex AI CLUSTER_SPEC, torchrun variables, or alone.

Vertex AI sets CLUSTER_SPEC on every replica, e.g.
  {"cluster": {"workerpool0": ["cmle-training-workerpool0-x-0:2222"],
               "workerpool1": ["cmle-training-workerpool1-x-0:2222", ...]},
   "task": {"type": "workerpool1", "index": 0}}
and does not reliably set MASTER_ADDR/RANK, so they are derived here: the workerpool0 (chief)
replica is rank 0, workerpool1 replicas follow. workerpool2 (reduction server) and workerpool3
(evaluators) take no part in training.
"""

import dataclasses
import datetime
import json
import os

import torch
import torch.distributed as dist

TRAINING_POOLS = ("workerpool0", "workerpool1")


@dataclasses.dataclass
class Replica:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    master_addr: str = "127.0.0.1"
    master_port: int = 29500

    @property
    def is_main(self):
        return self.rank == 0


def from_environment(env=None):
    env = os.environ if env is None else env
    if int(env.get("WORLD_SIZE", "1")) > 1:  # torchrun (also when torchrun runs inside Vertex)
        return Replica(
            rank=int(env["RANK"]),
            world_size=int(env["WORLD_SIZE"]),
            local_rank=int(env.get("LOCAL_RANK", "0")),
            master_addr=env.get("MASTER_ADDR", "127.0.0.1"),
            master_port=int(env.get("MASTER_PORT", "29500")),
        )
    if env.get("CLUSTER_SPEC"):
        spec = json.loads(env["CLUSTER_SPEC"])
        cluster, task = spec["cluster"], spec["task"]
        hosts = [h for pool in TRAINING_POOLS for h in cluster.get(pool, [])]
        if len(hosts) > 1:
            if task["type"] not in TRAINING_POOLS:
                raise SystemExit(f"replica of pool {task['type']} has no training role")
            rank = int(task["index"]) + (len(cluster["workerpool0"]) if task["type"] == "workerpool1" else 0)
            host, _, port = hosts[0].rpartition(":")
            return Replica(rank=rank, world_size=len(hosts), master_addr=host,
                           master_port=int(port or 2222))  # fmt: skip
    return Replica()


def setup(replica):
    """Join the process group (if there is more than one replica); returns the device to use."""
    if torch.cuda.is_available():
        device = torch.device("cuda", replica.local_rank)
        torch.cuda.set_device(device)
    else:
        device = torch.device("cpu")
    if replica.world_size > 1:
        dist.init_process_group(
            backend="nccl" if device.type == "cuda" else "gloo",
            init_method=f"tcp://{replica.master_addr}:{replica.master_port}",
            rank=replica.rank,
            world_size=replica.world_size,
            timeout=datetime.timedelta(minutes=30),
        )
    return device


def barrier(replica):
    if replica.world_size > 1:
        dist.barrier()


def teardown(replica):
    if replica.world_size > 1 and dist.is_initialized():
        dist.destroy_process_group()
