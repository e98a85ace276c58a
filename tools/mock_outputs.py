"""The outputs each resource type gets under the mocks: what the real provider would compute from its
inputs (for the stack's own dynamic resources, computed by the providers' own code)."""

from __future__ import annotations

import hashlib

TEST_PROJECT = "mlops-course-123"
TEST_PROJECT_NUMBER = "123456789012"


def _account(inputs: dict, project: str, name: str) -> dict:
    email = f"{inputs['accountId']}@{project}.iam.gserviceaccount.com"
    return {
        "email": email,
        "member": f"serviceAccount:{email}",
        "name": f"projects/{project}/serviceAccounts/{email}",
        "uniqueId": str(int(hashlib.sha256(email.encode()).hexdigest()[:12], 16)),
    }


def _cloud_build(inputs: dict, project: str, name: str) -> dict:
    """What the provider's create returns for a build Cloud Build finished (computed by the provider's code)."""
    from providers.cloud_build_spec import BuildInputs, build_outputs

    build_inputs = BuildInputs.from_props({k: v for k, v in inputs.items() if k != "__provider"})
    repository = build_inputs.image.rsplit(":", 1)[0]
    build = {
        "name": f"projects/{TEST_PROJECT_NUMBER}/locations/{build_inputs.location}/builds/b-4242",
        "id": "b-4242",
        "status": "SUCCESS",
        "logUrl": f"https://console.cloud.google.com/cloud-build/builds;region={build_inputs.location}/b-4242",
        "results": {"images": [{"name": build_inputs.image, "digest": _digest(build_inputs.image)}]},
        "images": [build_inputs.image],
    }
    outputs = build_outputs(build_inputs, build, "create-token")
    assert outputs["image_digest_ref"].startswith(repository + "@sha256:"), outputs
    return {**outputs, "id": build["name"]}


def _custom_job(inputs: dict, project: str, name: str) -> dict:
    """What the provider's create returns for a job Vertex AI accepted (computed by the provider's code)."""
    from providers.vertex_inputs import JobInputs, job_outputs

    job_inputs = JobInputs.from_props({k: v for k, v in inputs.items() if k != "__provider"})
    job = {
        "name": f"projects/{TEST_PROJECT_NUMBER}/locations/{job_inputs.region}/customJobs/4242",
        "state": "JOB_STATE_PENDING",
        "createTime": "2026-11-28T12:00:00Z",
    }
    return {**job_outputs(job_inputs, job, "create-token"), "id": job["name"]}


def _agent_email(service: str) -> str:
    return f"service-{TEST_PROJECT_NUMBER}@gcp-sa-{service.split('.')[0]}.iam.gserviceaccount.com"


def _digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


OUTPUTS = {
    "pulumi-python:dynamic/vertex:CustomJob": _custom_job,
    "pulumi-python:dynamic/cloudbuild:Build": _cloud_build,
    "gcp:projects/iAMCustomRole:IAMCustomRole": lambda i, p, n: {"name": f"projects/{p}/roles/{i['roleId']}"},
    "gcp:cloudrunv2/service:Service": lambda i, p, n: {
        "uri": f"https://{i['name']}-abcdefghij-{i['location'][:2]}.a.run.app",
        "project": p,
    },
    "gcp:serviceaccount/account:Account": _account,
    "gcp:storage/bucket:Bucket": lambda i, p, n: {
        "url": f"gs://{i['name']}",
        "selfLink": f"https://www.googleapis.com/storage/v1/b/{i['name']}",
    },
    "gcp:artifactregistry/repository:Repository": lambda i, p, n: {
        "name": i.get("repositoryId"),
        "id": f"projects/{p}/locations/{i.get('location')}/repositories/{i.get('repositoryId')}",
    },
    "docker:index/image:Image": lambda i, p, n: {
        "repoDigest": f"{i['imageName'].rsplit(':', 1)[0]}@{_digest(i['imageName'])}",
        "baseImageName": i["imageName"],
    },
    "gcp:compute/instance:Instance": lambda i, p, n: {
        "networkInterfaces": [{**(i.get("networkInterfaces") or [{}])[0], "networkIp": "10.10.0.2"}],
        "instanceId": "1234567890",
        "selfLink": f"https://www.googleapis.com/compute/v1/projects/{p}/zones/{i.get('zone')}/instances/{i.get('name')}",
    },
    "gcp:iam/workloadIdentityPool:WorkloadIdentityPool": lambda i, p, n: {
        "name": f"projects/{TEST_PROJECT_NUMBER}/locations/global/workloadIdentityPools/{i['workloadIdentityPoolId']}"
    },
    "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider": lambda i, p, n: {
        "name": f"projects/{TEST_PROJECT_NUMBER}/locations/global/workloadIdentityPools/"
        f"{i['workloadIdentityPoolId']}/providers/{i['workloadIdentityPoolProviderId']}"
    },
    "gcp:kms/keyRing:KeyRing": lambda i, p, n: {"id": f"projects/{p}/locations/{i['location']}/keyRings/{i['name']}"},
    "gcp:kms/cryptoKey:CryptoKey": lambda i, p, n: {"id": f"{i['keyRing']}/cryptoKeys/{i['name']}"},
    "gcp:projects/serviceIdentity:ServiceIdentity": lambda i, p, n: {
        "email": _agent_email(i["service"]),
        "member": f"serviceAccount:{_agent_email(i['service'])}",
    },
}
