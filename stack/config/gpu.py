"""One rule for a GPU request, whether it is for the workstation or the training job."""

from __future__ import annotations

from datetime import date

from stack import catalog
from stack.config.reader import Reader


def check_gpu(
    read: Reader,
    gpu_type: str,
    gpu_count: int,
    machine_type: str,
    keys: tuple[str, str],
    compute_engine: bool,
    today: date | None = None,
) -> None:
    """`gpu_type` is a Compute Engine accelerator name (`compute_engine`) or a Vertex AI one; `keys` are the
    configuration keys of the type and the count, named in every problem."""
    type_key, count_key = keys
    if not gpu_type:
        read.check(not gpu_count, count_key, gpu_count, f"set {type_key} too (or leave {count_key} unset)")
        return
    today = today or date.today()
    name_of = (lambda g: g.compute_name) if compute_engine else (lambda g: g.vertex_name)
    offered = [name_of(g) for g in catalog.GPU_TYPES if name_of(g) and not _retired(g, today)]
    gpu = catalog.gpu_by_compute_name(gpu_type) if compute_engine else catalog.gpu_by_vertex_name(gpu_type)
    if not read.check(gpu is not None, type_key, gpu_type, f"one of {', '.join(offered)}"):
        return
    if not read.check(
        not _retired(gpu, today), type_key, gpu_type,
        f"end of support on {gpu.end_of_support} ({gpu.source.url}); use one of {', '.join(offered)}",
    ):  # fmt: skip
        return
    read.check(
        machine_type.startswith(f"{gpu.machine_family}-"), type_key, gpu_type,
        f"attaches only to {gpu.machine_family}-* machine types (e.g. {gpu.machine_family}-standard-8); "
        f"the machine type {machine_type!r} cannot take it (a2/a3/g2 types come with their own GPUs)",
    )  # fmt: skip
    read.check(
        gpu_count in gpu.counts, count_key, gpu_count,
        f"{gpu_type} comes {', '.join(map(str, gpu.counts))} to a machine",
    )  # fmt: skip


def _retired(gpu: catalog.GpuType, today: date) -> bool:
    return gpu.end_of_support is not None and gpu.end_of_support <= today
