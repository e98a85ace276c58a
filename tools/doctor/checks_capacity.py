"""Checks of capacity: Compute Engine quota for the workstation, Vertex AI quota for the training job.

A quota that cannot be read is "could not tell" (⚠), never a failure: Compute Engine leaves the
list out (QUOTA_INFO_UNAVAILABLE) when it cannot fetch it, and Vertex AI's metric names are not
documented, so an unknown one is looked for and reported, not assumed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from stack.config import Settings
from tools.doctor.common import ask_google, client_of, only_when
from tools.doctor.context import Context
from tools.doctor.report import Result, fail, ok, warn

# Compute Engine's regional vCPU metric per machine family: values of the Quota.metric enum of the compute.v1
# discovery document (a test checks them); N1 and the shared-core f1/g1 count as CPUS. A family not listed is
# "could not tell", never compared with another family's quota.
CPU_METRICS = {
    "e2": "E2_CPUS", "n2": "N2_CPUS", "n2d": "N2D_CPUS", "c2": "C2_CPUS", "c2d": "C2D_CPUS", "c3": "C3_CPUS",
    "a2": "A2_CPUS", "m1": "M1_CPUS", "m2": "M2_CPUS", "m3": "M3_CPUS", "t2a": "T2A_CPUS", "t2d": "T2D_CPUS",
    "n1": "CPUS", "f1": "CPUS", "g1": "CPUS",
}  # fmt: skip
SHARED_CORE = {"e2-micro": 2, "e2-small": 2, "e2-medium": 2, "f1-micro": 1, "g1-small": 1}
VERTEX_METRIC_PREFIX = "aiplatform.googleapis.com/"
MAX_QUOTA_PAGES = 5


def vcpus(machine_type: str) -> int | None:
    """vCPUs of a predefined (e2-standard-4) or custom (n1-custom-4-15360) machine type."""
    if machine_type in SHARED_CORE:
        return SHARED_CORE[machine_type]
    match = re.match(r"^[a-z0-9]+-(?:custom-(\d+)-\d+(?:-ext)?|[a-z]+-(\d+))$", machine_type)
    return int(match.group(1) or match.group(2)) if match else None


def _not_enabled_yet(name: str, service: str, context: Context) -> Result:
    return warn(
        name,
        f"could not tell: {service} is not enabled yet in {context.project} (make up enables it)",
        f"gcloud services enable {service} --project {context.project}, then run make doctor again; "
        f"or look at {context.quotas_url}",
    )


def _vm_needs(settings: Settings) -> dict[str, int]:
    vm = settings.vm
    family = vm.machine_type.split("-", 1)[0]
    needs = {CPU_METRICS.get(family, f"{family.upper()}_CPUS"): vcpus(vm.machine_type) or 0}
    if vm.gpu_type:
        model = vm.gpu_type.removeprefix("nvidia-").removeprefix("tesla-").upper().replace("-", "_")
        needs[f"{'PREEMPTIBLE_' if vm.spot else ''}NVIDIA_{model}_GPUS"] = vm.gpu_count
    return needs


@only_when("VM quota", lambda settings: settings.vm.enabled, "vmEnabled is false")
def check_vm_quota(context: Context, settings: Settings, name: str) -> Result:
    look = f"look at {context.quotas_url}"
    if vcpus(settings.vm.machine_type) is None:
        return warn(name, f"could not tell how many vCPUs vmMachineType {settings.vm.machine_type} has", look)
    compute = f"{context.endpoints.compute}/compute/v1/projects/{context.project}"

    def read() -> tuple[dict[str, Any], list[dict[str, Any]]]:
        region = client_of(context).get(f"{compute}/regions/{settings.region}", {"fields": "quotas,quotaStatusWarning"})
        if not settings.vm.gpu_type:
            return region, []
        return region, client_of(context).get(compute, {"fields": "quotas"}).get("quotas") or []

    answer = ask_google(
        context, name, "Compute Engine", read,
        disabled=lambda _: _not_enabled_yet(name, "compute.googleapis.com", context), fix=look,
    )  # fmt: skip
    if isinstance(answer, Result):
        return answer
    region, project_quotas = answer
    quotas = {quota.get("metric"): quota for quota in region.get("quotas") or []}
    if not quotas:
        code = (region.get("quotaStatusWarning") or {}).get("code", "no quotas in the answer")
        return warn(name, f"could not tell: Compute Engine did not return the quotas ({code})", look)
    needs = _vm_needs(settings)
    global_gpus = next((q for q in project_quotas if q.get("metric") == "GPUS_ALL_REGIONS"), None)
    if global_gpus:
        quotas["GPUS_ALL_REGIONS"] = global_gpus
        needs["GPUS_ALL_REGIONS"] = settings.vm.gpu_count
    return _compare(name, needs, quotas, settings.region, context)


def _compare(name: str, needs: Mapping[str, int], quotas: Mapping[str, Any], region: str, context: Context) -> Result:
    seen, short_of, unknown = [], [], []
    for metric, needed in needs.items():
        quota = quotas.get(metric)
        if quota is None:
            unknown.append(metric)
            continue
        free = float(quota.get("limit", 0)) - float(quota.get("usage", 0))
        line = f"{quota.get('metric')} {needed} needed, {free:g} free of {float(quota.get('limit', 0)):g}"
        (short_of if free < needed else seen).append(line)
    where = f"in {region}"
    if short_of:
        return fail(name, f"not enough quota {where}: {'; '.join(short_of)}",
                    f"request an increase at {context.quotas_url}, or pick another vmMachineType, vmGpuType or "
                    "gcp:region")  # fmt: skip
    if unknown:
        return warn(name, f"could not find {', '.join(unknown)} {where}" + (f" ({'; '.join(seen)})" if seen else ""),
                    f"look at {context.quotas_url}")  # fmt: skip
    return ok(name, f"{'; '.join(seen)} {where}")


def _training_needs(settings: Settings) -> dict[str, int]:
    training = settings.training
    family = training.machine_type.split("-", 1)[0]
    cpu_metric = "custom_model_training_cpus" if family in ("n1", "e2") else f"custom_model_training_{family}_cpus"
    needs = {cpu_metric: (vcpus(training.machine_type) or 0) * training.replica_count}
    if training.gpu_type:
        model = training.gpu_type.lower().replace("tesla_", "")
        spot = "preemptible_" if training.spot else ""
        needs[f"custom_model_training_{spot}{model}_gpus"] = training.gpu_count * training.replica_count
    return needs


def _vertex_limits(context: Context) -> dict[str, dict[str, Any]]:
    url = (
        f"{context.endpoints.serviceusage}/v1beta1/projects/{context.project_number or context.project}"
        "/services/aiplatform.googleapis.com/consumerQuotaMetrics"
    )
    metrics: dict[str, dict[str, Any]] = {}
    token = ""
    for _ in range(MAX_QUOTA_PAGES):
        page = client_of(context).get(url, {"view": "FULL", **({"pageToken": token} if token else {})})
        for metric in page.get("metrics", []):
            metrics[str(metric.get("metric", "")).removeprefix(VERTEX_METRIC_PREFIX)] = metric
        token = page.get("nextPageToken", "")
        if not token:
            break
    return metrics


def _regional_limit(metric: Mapping[str, Any], region: str) -> int | None:
    buckets = [bucket for limit in metric.get("consumerQuotaLimits", []) for bucket in limit.get("quotaBuckets", [])]
    regional = next((b for b in buckets if (b.get("dimensions") or {}).get("region") == region), None)
    bucket = regional or next((b for b in buckets if not b.get("dimensions")), None)
    if bucket is None or bucket.get("effectiveLimit") is None:
        return None
    return int(bucket["effectiveLimit"])


@only_when("training quota", lambda settings: settings.training.enabled, "trainingEnabled is false")
def check_training_quota(context: Context, settings: Settings, name: str) -> Result:
    url = f"{context.quotas_url}&service=aiplatform.googleapis.com"
    if vcpus(settings.training.machine_type) is None:
        return warn(name, f"could not tell how many vCPUs {settings.training.machine_type} has", f"look at {url}")
    limits = ask_google(
        context, name, "Service Usage", lambda: _vertex_limits(context),
        disabled=lambda _: _not_enabled_yet(name, "aiplatform.googleapis.com", context), fix=f"look at {url}",
    )  # fmt: skip
    if isinstance(limits, Result):
        return limits
    seen, short_of, unknown = [], [], []
    for metric, needed in _training_needs(settings).items():
        limit = _regional_limit(limits[metric], settings.region) if metric in limits else None
        if limit is None:
            unknown.append(metric)
        elif 0 <= limit < needed:
            short_of.append(f"{metric} {needed} needed, limit {limit}")
        else:
            seen.append(f"{metric} {needed} needed, limit {'unlimited' if limit < 0 else limit}")
    where = f"in {settings.region} (limits only: Vertex AI usage is not read)"
    if short_of:
        return fail(name, f"Vertex AI quota too low {where}: {'; '.join(short_of)}",
                    f"request an increase at {url}, or lower trainingReplicaCount / pick another machine")  # fmt: skip
    if unknown:
        return warn(name, f"could not find the Vertex AI quota {', '.join(unknown)} {where}", f"look at {url}")
    return ok(name, f"{'; '.join(seen)} {where}")
