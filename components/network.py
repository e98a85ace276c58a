"""The workstation's private network: a dedicated VPC reachable only through Identity-Aware Proxy.

No ingress is open to the internet: SSH is allowed from IAP's TCP-forwarding range only, to
instances carrying `ssh_tag`. Instances without a public IP still reach package indexes
through Cloud NAT, and Google APIs through Private Google Access.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from components.apis import ProjectApis
from stack import catalog, naming

SSH_PORT = "22"
DEFAULT_SUBNET_RANGE = "10.10.0.0/24"
DEFAULT_SSH_TAG = "iap-ssh"
FLOW_LOG_INTERVAL = "INTERVAL_5_MIN"
FLOW_LOG_SAMPLING = 0.5


@dataclass
class NetworkArgs:
    project: str
    region: str
    stack: str
    apis: ProjectApis
    subnet_range: str = DEFAULT_SUBNET_RANGE
    ssh_tag: str = DEFAULT_SSH_TAG


class Network(pulumi.ComponentResource):
    vpc: gcp.compute.Network
    subnet: gcp.compute.Subnetwork
    ssh_tag: str

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gcp-mlops:network:Network", name, None, opts)
        base_name = naming.resource_id(args.stack, "mlops")

        def child_opts(*apis: str) -> pulumi.ResourceOptions:
            return pulumi.ResourceOptions(parent=self, depends_on=args.apis.needed_by("compute", *apis))

        self.ssh_tag = args.ssh_tag
        self.vpc = gcp.compute.Network(
            "vpc",
            project=args.project,
            name=base_name,
            description="gcp-mlops workstation network (SSH through IAP only)",
            auto_create_subnetworks=False,
            routing_mode="REGIONAL",
            opts=child_opts(),
        )
        self.subnet = gcp.compute.Subnetwork(
            "subnet",
            project=args.project,
            name=base_name,
            region=args.region,
            network=self.vpc.id,
            ip_cidr_range=args.subnet_range,
            # Reach Cloud Storage, Artifact Registry and Vertex AI without a public IP.
            private_ip_google_access=True,
            # VPC flow logs (CIS 3.8): who talked to the workstation, at the cheap end of the settings —
            # 5-minute aggregation and half of the flows sampled, without metadata annotations (set
            # explicitly: pulumi-gcp and the API document different defaults). Billed as logs generated.
            log_config=gcp.compute.SubnetworkLogConfigArgs(
                aggregation_interval=FLOW_LOG_INTERVAL, flow_sampling=FLOW_LOG_SAMPLING, metadata="EXCLUDE_ALL_METADATA"
            ),
            opts=child_opts(),
        )
        self.iap_ssh = gcp.compute.Firewall(
            "allow-iap-ssh",
            project=args.project,
            name=naming.resource_id(args.stack, "mlops-allow-iap-ssh"),
            description="SSH from Identity-Aware Proxy's TCP forwarding range only",
            network=self.vpc.id,
            direction="INGRESS",
            source_ranges=[catalog.IAP_TCP_FORWARDING_RANGE],
            target_tags=[args.ssh_tag],
            allows=[gcp.compute.FirewallAllowArgs(protocol="tcp", ports=[SSH_PORT])],
            # Connection logs without metadata annotations: the cheap setting.
            log_config=gcp.compute.FirewallLogConfigArgs(metadata="EXCLUDE_ALL_METADATA"),
            opts=child_opts("iap"),
        )
        self.router = gcp.compute.Router(
            "router",
            project=args.project,
            name=base_name,
            region=args.region,
            network=self.vpc.id,
            opts=child_opts(),
        )
        self.nat = gcp.compute.RouterNat(
            "nat",
            project=args.project,
            name=base_name,
            region=args.region,
            # The NAT API takes the router's name, not its id.
            router=self.router.name,
            nat_ip_allocate_option="AUTO_ONLY",
            source_subnetwork_ip_ranges_to_nat="LIST_OF_SUBNETWORKS",
            subnetworks=[
                gcp.compute.RouterNatSubnetworkArgs(name=self.subnet.id, source_ip_ranges_to_nats=["ALL_IP_RANGES"])
            ],
            log_config=gcp.compute.RouterNatLogConfigArgs(enable=True, filter="ERRORS_ONLY"),
            opts=child_opts(),
        )
        self.register_outputs(
            {
                "network": self.vpc.id,
                "subnet": self.subnet.id,
                "ssh_tag": self.ssh_tag,
                "nat": self.nat.name,
            }
        )
