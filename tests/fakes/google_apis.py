"""A loopback fake of the Google APIs `make doctor` reads, each configurable to pass or fail.

    with FakeGoogleApis(billing_enabled=False) as fake:
        tools.doctor.run(endpoints=fake.endpoints(), ...)
        fake.requests                # every request, in order (method, path, query, body)

One server plays Cloud Resource Manager (v1 and v3), Cloud Billing, Service Usage (v1 and v1beta1),
Compute Engine, Cloud Storage and a Docker registry; each API lives under its own path prefix so
that `endpoints()` can point the doctor at it. The URL paths come from Google's discovery
documents (tests/discovery.py), testIamPermissions bodies are validated against them, and
every request must carry the fake credentials' token. Requests of any method are recorded (PUT,
PATCH and DELETE too), so a test can assert that the doctor only read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from stack import catalog
from tests import discovery
from tests.fakes.google_api import (
    FAKE_TOKEN,
    LoopbackApi,
    Route,
    _Handler,
    error_info,
    google_error,
    invalid_body_error,
)
from tools.doctor.endpoints import Endpoints

PROJECT_ID = "mlops-course-123"
PROJECT_NUMBER = "123456789012"
REGION = "europe-west1"
BILLING_ACCOUNT = "billingAccounts/012345-6789AB-CDEF01"
STACK_SERVICES = frozenset({
    "aiplatform.googleapis.com", "artifactregistry.googleapis.com", "cloudbuild.googleapis.com",
    "cloudkms.googleapis.com", "cloudresourcemanager.googleapis.com", "compute.googleapis.com",
    "iam.googleapis.com", "iamcredentials.googleapis.com", "iap.googleapis.com", "logging.googleapis.com",
    "oslogin.googleapis.com", "run.googleapis.com", "serviceusage.googleapis.com", "storage.googleapis.com",
    "sts.googleapis.com",
})  # fmt: skip
CORE_SERVICES = frozenset({"cloudresourcemanager.googleapis.com", "serviceusage.googleapis.com"})

# Each API's path prefix on the fake (endpoints() hands them out as the APIs' root URLs).
APIS = {
    "cloudresourcemanager": "/crm",
    "cloudbilling": "/billing",
    "serviceusage": "/serviceusage",
    "compute": "/compute",
    "storage": "/storage",
}
# Route names are "<short>.<method>"; the service a SERVICE_DISABLED answer of each names.
ROUTE_SERVICES = {
    "crm": "cloudresourcemanager.googleapis.com",
    "billing": "cloudbilling.googleapis.com",
    "serviceusage": "serviceusage.googleapis.com",
    "compute": "compute.googleapis.com",
    "storage": "storage.googleapis.com",
}


def _discovery_route(name: str, api: str, document: str, method_id: str) -> Route:
    """A route whose path is the method's flatPath in Google's discovery document."""
    doc = discovery.load_document(document)

    def methods(resources: dict[str, Any]):
        for resource in resources.values():
            yield from resource.get("methods", {}).values()
            yield from methods(resource.get("resources", {}))

    method = next(m for m in methods(doc["resources"]) if m["id"] == method_id)
    path = doc.get("servicePath", "") + method.get("flatPath", method["path"])
    parts = re.split(r"\{(\w+)\}", path)  # literal, parameter, literal, ...
    pattern = "".join(re.escape(part) if i % 2 == 0 else f"(?P<{part}>[^/:]+)" for i, part in enumerate(parts))
    return name, method["httpMethod"], re.compile(f"^{APIS[api]}/{pattern}$")


def _manifest_routes() -> list[Route]:
    pattern = re.compile(r"^/registry/(?P<host>[^/]+)/v2/(?P<name>.+)/manifests/(?P<reference>[^/]+)$")
    return [("registry.manifest", "HEAD", pattern), ("registry.manifest", "GET", pattern)]


def default_families() -> dict[tuple[str, str], dict[str, Any]]:
    families = catalog.DL_VM_FAMILIES
    return {
        (catalog.DEEP_LEARNING_IMAGES_PROJECT, family.name): {
            "name": f"{family.name}-v20261101",
            "family": family.name,
            "diskSizeGb": "50",
            "status": "READY",
        }
        for family in families
    }


def default_manifests() -> set[str]:
    return {
        image.uri(region)
        for image in catalog.EXECUTOR_IMAGES
        for region in ("europe-west1", "us-central1", "asia-east1")
    }


def default_vertex_limits() -> dict[str, int]:
    return {
        "custom_model_training_cpus": 24,
        "custom_model_training_nvidia_t4_gpus": 4,
        "custom_model_training_preemptible_nvidia_t4_gpus": 4,
    }


class _AnyMethodHandler(_Handler):
    """Records and routes every method (a doctor that wrote would be seen), and answers HEAD without a body."""

    def do_HEAD(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def _answer(self, status: int, body: Any) -> None:
        if self.command != "HEAD":
            return super()._answer(status, body)
        self.send_response(status)
        self.send_header("Content-Type", "application/vnd.oci.image.index.v1+json")
        self.send_header("Content-Length", "0")
        self.end_headers()


@dataclass
class FakeGoogleApis(LoopbackApi):
    ROUTES = [
        _discovery_route("crm.projects.get", "cloudresourcemanager", "cloudresourcemanager.v3", "cloudresourcemanager.projects.get"),
        _discovery_route("crm.testIamPermissions", "cloudresourcemanager", "cloudresourcemanager.v1", "cloudresourcemanager.projects.testIamPermissions"),
        _discovery_route("billing.getBillingInfo", "cloudbilling", "cloudbilling.v1", "cloudbilling.projects.getBillingInfo"),
        _discovery_route("serviceusage.batchGet", "serviceusage", "serviceusage.v1", "serviceusage.services.batchGet"),
        _discovery_route("serviceusage.consumerQuotaMetrics", "serviceusage", "serviceusage.v1beta1", "serviceusage.services.consumerQuotaMetrics.list"),
        _discovery_route("compute.regions.get", "compute", "compute.v1", "compute.regions.get"),
        _discovery_route("compute.projects.get", "compute", "compute.v1", "compute.projects.get"),
        _discovery_route("compute.images.getFromFamily", "compute", "compute.v1", "compute.images.getFromFamily"),
        _discovery_route("compute.images.get", "compute", "compute.v1", "compute.images.get"),
        _discovery_route("storage.buckets.testIamPermissions", "storage", "storage.v1", "storage.buckets.testIamPermissions"),
        _discovery_route("storage.buckets.get", "storage", "storage.v1", "storage.buckets.get"),
        *_manifest_routes(),
    ]  # fmt: skip
    HANDLER = _AnyMethodHandler

    project_id: str = PROJECT_ID
    project_number: str = PROJECT_NUMBER
    project_state: str | None = "ACTIVE"  # None: no such project (or hidden from the caller)
    billing_enabled: bool = True
    enabled_services: set[str] = field(default_factory=lambda: set(STACK_SERVICES))
    # APIs disabled in the consumer (quota) project: every call to them answers SERVICE_DISABLED.
    disabled_apis: set[str] = field(default_factory=set)
    denied_permissions: set[str] = field(default_factory=set)
    # The caller's project permissions when it holds only some (None: all but denied_permissions).
    held_permissions: set[str] | None = None
    region_quotas: dict[str, tuple[float, float]] = field(
        default_factory=lambda: {"CPUS": (24, 0), "E2_CPUS": (24, 2), "NVIDIA_T4_GPUS": (1, 0)}
    )
    project_quotas: dict[str, tuple[float, float]] = field(default_factory=lambda: {"GPUS_ALL_REGIONS": (1, 0)})
    quota_info_unavailable: bool = False
    image_families: dict[tuple[str, str], dict[str, Any]] = field(default_factory=default_families)
    images: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    manifests: set[str] = field(default_factory=default_manifests)
    buckets: dict[str, int] = field(default_factory=dict)  # name -> 200, or the status every call answers
    # The caller's permissions on every existing bucket (a bucket GET needs storage.buckets.get).
    bucket_permissions: set[str] = field(
        default_factory=lambda: {
            "storage.buckets.get",
            "storage.objects.get",
            "storage.objects.list",
            "storage.objects.create",
            "storage.objects.delete",
        }  # fmt: skip
    )
    vertex_limits: dict[str, int] = field(default_factory=default_vertex_limits)

    def endpoints(self) -> Endpoints:
        return Endpoints(
            **{api: self.base_url + prefix for api, prefix in APIS.items()},
            registry=self.base_url + "/registry/{host}",
        )

    def methods_seen(self) -> set[tuple[str, str]]:
        return {(request.method, request.route) for request in self.requests}

    # --- dispatch ---

    def handle(self, route: str, params: dict[str, str], query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        request = self.requests[-1]
        if request.authorization != f"Bearer {FAKE_TOKEN}":
            return 401, google_error(401, "Request had invalid authentication credentials.")
        service = ROUTE_SERVICES.get(route.split(".", 1)[0])
        if service in self.disabled_apis:
            return self._service_disabled(service)
        return getattr(self, "_" + route.replace(".", "_"))(params, query, body)

    def _service_disabled(self, service: str) -> tuple[int, Any]:
        message = (
            f"{service} has not been used in project {self.project_number} before or it is disabled. "
            f"Enable it by visiting https://console.developers.google.com/apis/api/{service}/overview"
            f"?project={self.project_number} then retry."
        )
        info = error_info("SERVICE_DISABLED", service=service, consumer=f"projects/{self.project_number}")
        return 403, google_error(403, message, info)

    def _is_project(self, value: str) -> bool:
        return self.project_state is not None and value in (self.project_id, self.project_number)

    def _denied(self, what: str) -> tuple[int, Any]:
        return 403, google_error(403, f"Permission denied on resource {what} (or it may not exist).")

    # --- Cloud Resource Manager and Cloud Billing ---

    def _crm_projects_get(self, params: dict[str, str], _query: Any, _body: Any) -> tuple[int, Any]:
        if not self._is_project(params["projectsId"]):
            return self._denied(f"project {params['projectsId']}")
        return 200, {"name": f"projects/{self.project_number}", "projectId": self.project_id,
                     "state": self.project_state, "displayName": self.project_id}  # fmt: skip

    def _crm_testIamPermissions(self, params: dict[str, str], _query: Any, body: Any) -> tuple[int, Any]:
        problems = discovery.validate("cloudresourcemanager.v1", "TestIamPermissionsRequest", body)
        asked = (body or {}).get("permissions") or []
        if len(asked) > 100:
            problems.append(f"permissions: {len(asked)} permissions; at most 100 may be tested in one call")
        problems += [f"permissions: {p!r} has a wildcard" for p in asked if "*" in p]
        if problems:
            return invalid_body_error(problems)
        if not self._is_project(params["resource"]):
            return self._denied(f"project {params['resource']}")
        held = [p for p in asked if p not in self.denied_permissions
                and (self.held_permissions is None or p in self.held_permissions)]  # fmt: skip
        return 200, {"permissions": held} if held else {}

    def _billing_getBillingInfo(self, params: dict[str, str], _query: Any, _body: Any) -> tuple[int, Any]:
        if not self._is_project(params["projectsId"]):
            return self._denied(f"project {params['projectsId']}")
        info = {"name": f"projects/{self.project_id}/billingInfo", "projectId": self.project_id,
                "billingEnabled": self.billing_enabled}  # fmt: skip
        return 200, {**info, "billingAccountName": BILLING_ACCOUNT} if self.billing_enabled else info

    # --- Service Usage ---

    def _serviceusage_batchGet(
        self, params: dict[str, str], query: dict[str, list[str]], _body: Any
    ) -> tuple[int, Any]:
        names = query.get("names", [])
        if not 1 <= len(names) <= 30:
            return 400, google_error(400, f"names: between 1 and 30 services may be asked for, not {len(names)}")
        if params["v1Id"] != "projects" or not self._is_project(params["v1Id1"]):
            return self._denied(f"{params['v1Id']}/{params['v1Id1']}")
        parent = f"projects/{self.project_number}"
        services = [{"name": f"{parent}/services/{name.rsplit('/', 1)[-1]}", "parent": parent,
                     "state": "ENABLED" if name.rsplit("/", 1)[-1] in self.enabled_services else "DISABLED"}
                    for name in names]  # fmt: skip
        return 200, {"services": services}

    def _serviceusage_consumerQuotaMetrics(
        self, params: dict[str, str], query: dict[str, list[str]], _b: Any
    ) -> tuple[int, Any]:
        if not self._is_project(params["v1beta1Id1"]) or params["servicesId"] != "aiplatform.googleapis.com":
            return self._denied(f"projects/{params['v1beta1Id1']}")
        if query.get("view") != ["FULL"]:
            return 200, {}  # BASIC lists only buckets with overrides: none here
        metrics = [
            {"name": f"projects/{self.project_number}/services/aiplatform.googleapis.com/consumerQuotaMetrics/{metric}",
             "metric": f"aiplatform.googleapis.com/{metric}", "displayName": metric,
             "consumerQuotaLimits": [{"metric": f"aiplatform.googleapis.com/{metric}", "unit": "1/{project}/{region}",
                                      "quotaBuckets": [{"effectiveLimit": "0", "defaultLimit": "0"},
                                                       {"effectiveLimit": str(limit), "defaultLimit": str(limit),
                                                        "dimensions": {"region": REGION}}]}]}
            for metric, limit in self.vertex_limits.items()
        ]  # fmt: skip
        return 200, {"metrics": metrics}

    # --- Compute Engine ---

    def _compute_enabled(self, project: str) -> bool:
        return "compute.googleapis.com" in self.enabled_services if self._is_project(project) else False

    def _quotas(self, table: dict[str, tuple[float, float]]) -> list[dict[str, Any]]:
        return [{"metric": metric, "limit": limit, "usage": usage} for metric, (limit, usage) in table.items()]

    def _compute_regions_get(self, params: dict[str, str], query: dict[str, list[str]], _body: Any) -> tuple[int, Any]:
        if not self._is_project(params["project"]):
            return self._denied(f"projects/{params['project']}")
        if not self._compute_enabled(params["project"]):
            return self._service_disabled("compute.googleapis.com")
        if self.quota_info_unavailable:
            return 200, {"quotaStatusWarning": {"code": "QUOTA_INFO_UNAVAILABLE",
                                                "message": "Quota information is temporarily unavailable."}}  # fmt: skip
        return 200, {"quotas": self._quotas(self.region_quotas)}

    def _compute_projects_get(self, params: dict[str, str], _query: Any, _body: Any) -> tuple[int, Any]:
        if not self._compute_enabled(params["project"]):
            return self._service_disabled("compute.googleapis.com")
        return 200, {"quotas": self._quotas(self.project_quotas)}

    def _compute_images_getFromFamily(self, params: dict[str, str], _query: Any, _body: Any) -> tuple[int, Any]:
        image = self.image_families.get((params["project"], params["family"]))
        if image is None:
            return 404, google_error(
                404,
                f"The resource 'projects/{params['project']}/global/images/family/{params['family']}' was not found",
            )
        return 200, image

    def _compute_images_get(self, params: dict[str, str], _query: Any, _body: Any) -> tuple[int, Any]:
        image = self.images.get((params["project"], params["image"]))
        if image is None:
            return 404, google_error(
                404, f"The resource 'projects/{params['project']}/global/images/{params['image']}' was not found"
            )
        return 200, image

    # --- Cloud Storage and the registry ---

    def _bucket_status(self, bucket: str) -> tuple[int, Any] | None:
        status = self.buckets.get(bucket, 404)
        if status == 200:
            return None
        messages = {404: "The specified bucket does not exist.",
                    403: "The caller does not have storage.buckets.get access to the Google Cloud Storage bucket."}  # fmt: skip
        return status, google_error(status, messages.get(status, "injected"))

    def _storage_buckets_get(self, params: dict[str, str], _query: Any, _body: Any) -> tuple[int, Any]:
        refused = self._bucket_status(params["bucket"])
        if refused:
            return refused
        if "storage.buckets.get" not in self.bucket_permissions:
            return 403, google_error(403, "The caller does not have storage.buckets.get access to the Google "
                                          "Cloud Storage bucket. Permission 'storage.buckets.get' denied on "
                                          "resource (or it may not exist).")  # fmt: skip
        return 200, {"name": params["bucket"]}

    def _storage_buckets_testIamPermissions(
        self, params: dict[str, str], query: dict[str, list[str]], _b: Any
    ) -> tuple[int, Any]:
        refused = self._bucket_status(params["bucket"])
        if refused:
            return refused
        held = [p for p in query.get("permissions", []) if p in self.bucket_permissions]
        return 200, {"kind": "storage#testIamPermissionsResponse", **({"permissions": held} if held else {})}

    def _registry_manifest(self, params: dict[str, str], _query: Any, _body: Any) -> tuple[int, Any]:
        reference = params["reference"]
        separator = "@" if reference.startswith("sha256:") else ":"
        if f"{params['host']}/{params['name']}{separator}{reference}" in self.manifests:
            return 200, {"schemaVersion": 2}
        return 404, {"errors": [{"code": "MANIFEST_UNKNOWN", "message": 'Failed to fetch "' + reference + '"'}]}
