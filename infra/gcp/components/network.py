"""Private networking on Google Cloud: a custom-mode VPC, one regional subnet with Private Google Access (Dataproc
and Vertex reach Google APIs without public IPs), flow logs, deny-all ingress but the workloads' own traffic.

There is no Cloud NAT: a VM without an external IP has no path to the internet, only to Google's APIs (Private
Google Access over the default route), which is all the batches and training jobs need."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from infra import naming
from infra.components.base import child
from infra.gcp.components.base import GcpIdentity

COMPONENT = "network"
VERTEX_PREFIX_LENGTH = 20
"""Size of the range reserved for Vertex's peered workers (/20: 4,096 addresses)."""
DATAPROC_TAG = "dataproc"
"""Network tag of Dataproc Serverless workers: their nodes talk to each other on every port."""


@dataclass(frozen=True)
class GcpNetworkArgs:
    """Inputs of :class:`GcpNetwork`."""

    identity: GcpIdentity
    cidr: str


class GcpNetwork(pulumi.ComponentResource):
    """The VPC and its subnet; :attr:`subnet_id` is where every batch and training job runs."""

    network_id: pulumi.Output[str]
    subnet_id: pulumi.Output[str]
    vertex_network: pulumi.Output[str]
    private_services: gcp.servicenetworking.Connection

    def __init__(self, name: str, args: GcpNetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlops:network:Network", name, None, opts)
        ident = args.identity
        vpc = gcp.compute.Network(
            f"{name}-vpc",
            name=naming.resource_name(ident.project, ident.environment, "vpc", 63),
            project=ident.gcp_project,
            auto_create_subnetworks=False,
            routing_mode="REGIONAL",
            opts=child(self),
        )
        subnet = gcp.compute.Subnetwork(
            f"{name}-subnet",
            name=naming.resource_name(ident.project, ident.environment, "private", 63),
            project=ident.gcp_project,
            region=ident.region,
            network=vpc.id,
            ip_cidr_range=args.cidr,
            private_ip_google_access=True,
            log_config={
                "aggregation_interval": "INTERVAL_5_SEC",
                "flow_sampling": 1.0,
                "metadata": "INCLUDE_ALL_METADATA",
            },
            opts=child(self),
        )
        gcp.compute.Firewall(
            f"{name}-deny-ingress",
            name=naming.resource_name(ident.project, ident.environment, "deny-ingress", 63),
            project=ident.gcp_project,
            network=vpc.id,
            direction="INGRESS",
            priority=65534,
            denies=[{"protocol": "all"}],
            source_ranges=["0.0.0.0/0"],
            log_config={"metadata": "INCLUDE_ALL_METADATA"},
            opts=child(self),
        )
        gcp.compute.Firewall(
            f"{name}-dataproc-internal",
            name=naming.resource_name(ident.project, ident.environment, "dataproc-internal", 63),
            project=ident.gcp_project,
            network=vpc.id,
            direction="INGRESS",
            priority=1000,
            allows=[{"protocol": "tcp"}, {"protocol": "udp"}, {"protocol": "icmp"}],
            source_tags=[DATAPROC_TAG],
            target_tags=[DATAPROC_TAG],
            log_config={"metadata": "INCLUDE_ALL_METADATA"},
            opts=child(self),
        )
        # Vertex training and pipeline jobs join the VPC through private services access (a peering), never a
        # public IP: a reserved internal range for Google's side and the peering itself.
        peering_range = gcp.compute.GlobalAddress(
            f"{name}-vertex-range",
            name=naming.resource_name(ident.project, ident.environment, "vertex-peering", 63),
            project=ident.gcp_project,
            network=vpc.id,
            purpose="VPC_PEERING",
            address_type="INTERNAL",
            prefix_length=VERTEX_PREFIX_LENGTH,
            opts=child(self),
        )
        # Cloud SQL's private IP (the MLflow database, tracking.py) comes from the same peered range.
        self.private_services = gcp.servicenetworking.Connection(
            f"{name}-vertex-peering",
            network=vpc.id,
            service="servicenetworking.googleapis.com",
            reserved_peering_ranges=[peering_range.name],
            opts=child(self),
        )
        self.network_id = vpc.id
        self.subnet_id = subnet.id
        # Vertex names a peered network by project number: projects/<number>/global/networks/<name>.
        self.vertex_network = vpc.name.apply(
            lambda network: f"projects/{ident.project_number}/global/networks/{network}"
        )
        self.register_outputs({"network": self.network_id, "subnet": self.subnet_id})
