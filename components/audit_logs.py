"""Data access audit logs: who read and who changed objects in the project's buckets (CIS 2.1, CKV_GCP_62).

Cloud Storage writes Admin Activity logs by default but not data access logs; this turns on
DATA_READ and DATA_WRITE for the whole service in the project (the setting exists per service, not
per bucket). They are billed as log volume: a training run reading a few CSVs writes a few entries,
a DVC pull of many small files many. Applied by an admin (it changes the project's IAM policy).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from components.apis import ProjectApis

LOGGED_SERVICE = "storage.googleapis.com"
LOG_TYPES = ("DATA_READ", "DATA_WRITE")


@dataclass
class AuditLogsArgs:
    project: str
    apis: ProjectApis


class AuditLogs(pulumi.ComponentResource):
    def __init__(self, name: str, args: AuditLogsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gcp-mlops:logging:AuditLogs", name, None, opts)
        self.storage = gcp.projects.IAMAuditConfig(
            "storage-data-access",
            project=args.project,
            service=LOGGED_SERVICE,
            audit_log_configs=[gcp.projects.IAMAuditConfigAuditLogConfigArgs(log_type=kind) for kind in LOG_TYPES],
            opts=pulumi.ResourceOptions(parent=self, depends_on=args.apis.needed_by("cloudresourcemanager")),
        )
        self.register_outputs({"service": self.storage.service, "etag": self.storage.etag})
