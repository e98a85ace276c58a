"""Vertex AI CustomJob request pieces, as the v1 REST API takes them (camelCase, proto3 JSON)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

_DIGEST_PINNED_IMAGE = re.compile(r"^[^\s@]+@sha256:[0-9a-f]{64}$")


def worker_pool_spec(
    machine_type: str,
    replica_count: int,
    accelerator_type: str | None = None,
    accelerator_count: int = 0,
    boot_disk_size_gb: int = 100,
    container_image: str | None = None,
    python_package_uris: Sequence[str] | None = None,
    executor_image: str | None = None,
    python_module: str | None = None,
    args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """One WorkerPoolSpec as the Vertex AI v1 API takes it.

    Exactly one of `container_image` (pinned by digest) or `python_package_uris`
    (with `executor_image` and `python_module`). Pure: pass plain values.
    """
    if not machine_type or not isinstance(machine_type, str):
        raise ValueError("machine_type must be a machine type name such as 'n1-standard-4'")
    if isinstance(replica_count, bool) or not isinstance(replica_count, int) or replica_count < 1:
        raise ValueError(f"replica_count must be a positive integer, got {replica_count!r}")
    if bool(accelerator_type) != (accelerator_count > 0):
        raise ValueError(
            "accelerator_type and accelerator_count go together: give both (e.g. 'NVIDIA_TESLA_T4', 1) or neither"
        )
    if boot_disk_size_gb < 10:
        raise ValueError(f"boot_disk_size_gb must be at least 10, got {boot_disk_size_gb}")
    if (container_image is None) == (python_package_uris is None):
        raise ValueError("give exactly one of container_image or python_package_uris")

    machine_spec: dict[str, Any] = {"machineType": machine_type}
    if accelerator_type:
        machine_spec.update(acceleratorType=accelerator_type, acceleratorCount=int(accelerator_count))
    pool: dict[str, Any] = {
        "machineSpec": machine_spec,
        "replicaCount": str(replica_count),  # int64: a string in proto3 JSON
        "diskSpec": {"bootDiskSizeGb": int(boot_disk_size_gb)},
    }
    task: dict[str, Any] = {}
    if container_image is not None:
        if not _DIGEST_PINNED_IMAGE.match(container_image):
            raise ValueError(
                f"container_image {container_image!r} is not pinned by digest: use IMAGE@sha256:<64 hex digits> "
                "(e.g. the repo_digest output of the image build) so every replica and every re-run "
                "uses the same image"
            )
        if executor_image or python_module:
            raise ValueError("executor_image and python_module are only for python_package_uris")
        task["imageUri"] = container_image
    else:
        uris = list(python_package_uris or [])
        if not uris or not all(isinstance(uri, str) and uri.startswith("gs://") for uri in uris):
            raise ValueError(f"python_package_uris must be one or more gs:// URIs, got {uris!r}")
        if not executor_image or not python_module:
            raise ValueError("a python package needs executor_image (a Vertex AI prebuilt container) and python_module")
        task.update(executorImageUri=executor_image, packageUris=uris, pythonModule=python_module)
    if args:
        task["args"] = [str(arg) for arg in args]
    if env:
        task["env"] = [{"name": name, "value": str(value)} for name, value in env.items()]
    pool["containerSpec" if container_image is not None else "pythonPackageSpec"] = task
    return pool
