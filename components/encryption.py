"""Customer-managed encryption (CMEK): the key, and the service agents allowed to use it.

`encryptionKey: create` declares a key ring and a rotating key in gcp:region; a KMS key name
uses that key. Either way the Google service agents that encrypt on the stack's behalf
(Cloud Storage, Compute Engine, Artifact Registry, Vertex AI) are granted
`roles/cloudkms.cryptoKeyEncrypterDecrypter` on that key only, and everything encrypted
with it waits for those grants.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from components.apis import ProjectApis
from stack import iam, naming

ENCRYPTER = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
ROTATION_PERIOD = f"{90 * 24 * 3600}s"


@dataclass
class EncryptionKeyArgs:
    project: str
    region: str
    stack: str
    key: str  # "create" or a KMS key name
    apis: ProjectApis
    keep_key: bool = True


class EncryptionKey(pulumi.ComponentResource):
    key_name: pulumi.Output[str]
    grants: list[pulumi.Resource]

    def __init__(self, name: str, args: EncryptionKeyArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gcp-mlops:kms:EncryptionKey", name, None, opts)
        kms_api = args.apis.needed_by("cloudkms")
        if args.key == "create":
            ring = gcp.kms.KeyRing(
                "ring",
                project=args.project,
                location=args.region,
                name=naming.resource_id(args.stack, "gcp-mlops"),
                # Key rings cannot be deleted in Google Cloud: Pulumi can only forget them.
                opts=pulumi.ResourceOptions(parent=self, depends_on=kms_api, retain_on_delete=True),
            )
            key = gcp.kms.CryptoKey(
                "key",
                key_ring=ring.id,
                name="data",
                purpose="ENCRYPT_DECRYPT",
                rotation_period=ROTATION_PERIOD,
                labels={"purpose": "mlops-cmek"},
                # Destroying the key makes everything encrypted with it unreadable: keep it unless
                # the data is destroyed too.
                opts=pulumi.ResourceOptions(parent=self, retain_on_delete=args.keep_key),
            )
            key_name = key.id
        else:
            key_name = pulumi.Output.from_input(args.key)

        # Each agent exists only once its API is enabled: grant only the agents of enabled APIs,
        # after their API.
        agents: dict[str, tuple[pulumi.Input[str], list[pulumi.Resource]]] = {
            "storage": (
                gcp.storage.get_project_service_account_output(
                    project=args.project, opts=pulumi.InvokeOutputOptions(depends_on=args.apis.needed_by("storage"))
                ).member,
                args.apis.needed_by("storage"),
            ),
        }
        if args.apis.enables("compute"):
            agents["compute"] = (args.apis.compute_agent_member(args.project), args.apis.needed_by("compute"))
        for short_name in ("artifactregistry", "aiplatform"):
            if args.apis.enables(short_name):
                agent = gcp.projects.ServiceIdentity(
                    f"{short_name}-agent",
                    project=args.project,
                    service=f"{short_name}.googleapis.com",
                    opts=pulumi.ResourceOptions(
                        parent=self, depends_on=args.apis.needed_by(short_name, "serviceusage")
                    ),
                )
                agents[short_name] = (agent.member, [agent])

        members = iam.bind(
            "key",
            {agent: iam.Grant(ENCRYPTER, member) for agent, (member, _) in agents.items()},
            lambda member_name, grant, member_opts: gcp.kms.CryptoKeyIAMMember(
                member_name,
                crypto_key_id=key_name,
                role=grant.role,
                member=grant.member,
                opts=pulumi.ResourceOptions.merge(
                    member_opts, pulumi.ResourceOptions(depends_on=agents[member_name.removeprefix("key-")][1])
                ),
            ),
            # A bucket kept by `pulumi destroy` stays readable only while its agent may use the key.
            pulumi.ResourceOptions(parent=self, depends_on=kms_api, retain_on_delete=args.keep_key),
        )
        self.grants = list(members.values())
        # Whatever reads `key_name` waits for the grants: encrypting before the agent may use the
        # key fails (e.g. bucket creation with a 403 from Cloud KMS).
        self.key_name = iam.granted(key_name, self.grants)
        self.register_outputs({"key_name": self.key_name})
