"""Network: the stack's private VPC (or an existing one), VPC endpoints, flow logs and one security group per workload.

No internet gateway, no NAT and no public subnet: workloads reach AWS services through VPC endpoints (gateway
endpoints for S3 and DynamoDB, interface endpoints with private DNS for the rest). Security groups allow only
what each workload needs, and refer to each other instead of to address ranges:

- ``endpoints``: HTTPS in from the workload groups; nothing out.
- ``sagemaker-jobs`` (pipeline training and processing jobs): HTTPS out to the endpoints and the S3/DynamoDB
  prefix lists; all traffic within the group (distributed training talks node to node, encrypted).
- ``sagemaker-hosting`` (the endpoint's model): HTTPS out to the endpoints and S3.
- ``glue``: all TCP within the group (Glue requires the self-reference), HTTPS out to endpoints, S3, DynamoDB.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra import naming, policies
from infra.components.base import StackIdentity, child, policy_json

COMPONENT = "network"
GATEWAY_SERVICES: tuple[str, ...] = ("s3", "dynamodb")
INTERFACE_SERVICES: tuple[str, ...] = (
    "sagemaker.api",
    "sagemaker.runtime",
    "ecr.api",
    "ecr.dkr",
    "logs",
    "monitoring",
    "kms",
    "sts",
    "glue",
    "kinesis-streams",
)
"""Services the workloads call, each reached through an interface endpoint (``com.amazonaws.<region>.<name>``)."""
WORKLOADS: tuple[str, ...] = ("sagemaker-jobs", "sagemaker-hosting", "glue")
HTTPS = 443


def private_subnet_cidrs(vpc_cidr: str, count: int = 2) -> list[str]:
    """The first ``count`` subnets of ``vpc_cidr``, each four bits longer (a /16 gives /20s), at most /28."""
    network = ipaddress.ip_network(vpc_cidr, strict=True)
    prefix = min(network.prefixlen + 4, 28)
    return [str(subnet) for subnet, _ in zip(network.subnets(new_prefix=prefix), range(count), strict=False)]


def endpoint_service_name(region: str, service: str) -> str:
    """``com.amazonaws.us-east-1.sagemaker.api``."""
    return f"com.amazonaws.{region}.{service}"


@dataclass(frozen=True)
class NetworkArgs:
    """Inputs of :class:`Network`. With ``existing_vpc_id`` the kit creates no VPC, subnets or route tables:
    it places its security groups (and, with ``create_endpoints``, its endpoints) in the given ones.
    ``existing_prefix_list_ids`` and ``vpc_cidr`` are where workloads may send HTTPS when the existing VPC
    brings its own endpoints."""

    identity: StackIdentity
    kms_key_arn: pulumi.Output[str]
    vpc_cidr: str
    zones: tuple[str, ...]
    log_retention_days: int
    flow_log_traffic: str = "ALL"
    existing_vpc_id: str | None = None
    existing_subnet_ids: tuple[str, ...] = ()
    existing_route_table_ids: tuple[str, ...] = ()
    create_endpoints: bool = True
    existing_prefix_list_ids: tuple[str, ...] = ()


class Network(pulumi.ComponentResource):
    """The private network every SageMaker job, model and Glue job of the stack runs in."""

    vpc_id: pulumi.Output[str]
    subnet_ids: list[pulumi.Output[str]]
    security_group_ids: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlops:network:Network", name, None, opts)
        self._args = args
        ident = args.identity
        tags = ident.tags(COMPONENT)
        if args.existing_vpc_id is None:
            vpc_id, self.subnet_ids, route_table_ids = self._private_vpc(name, tags)
        else:
            vpc_id = pulumi.Output.from_input(args.existing_vpc_id)
            self.subnet_ids = [pulumi.Output.from_input(s) for s in args.existing_subnet_ids]
            route_table_ids = [pulumi.Output.from_input(r) for r in args.existing_route_table_ids]
        self.vpc_id = vpc_id
        groups = {
            workload: aws.ec2.SecurityGroup(
                f"{name}-{workload}-sg",
                name=naming.security_group_name(ident.project, ident.environment, workload),
                description=f"{ident.project} {ident.environment}: {workload} (no internet path)",
                vpc_id=vpc_id,
                revoke_rules_on_delete=True,
                tags={**tags, "workload": workload},
                opts=child(self),
            )
            for workload in (*WORKLOADS, "endpoints")
        }
        self.security_group_ids = {workload: group.id for workload, group in groups.items()}
        if args.create_endpoints:
            prefix_lists = self._endpoints(name, vpc_id, route_table_ids, groups["endpoints"], tags)
            https_targets: list[tuple[str, dict[str, pulumi.Input[str]]]] = [
                ("endpoints", {"referenced_security_group_id": groups["endpoints"].id})
            ]
        else:
            prefix_lists = {f"pl{i}": pulumi.Output.from_input(p) for i, p in enumerate(args.existing_prefix_list_ids)}
            https_targets = [("vpc", {"cidr_ipv4": args.vpc_cidr})]
        self._workload_rules(name, groups, prefix_lists, https_targets, tags)
        self.register_outputs({"vpc_id": self.vpc_id, "security_group_ids": self.security_group_ids})

    def _private_vpc(
        self, name: str, tags: dict[str, str]
    ) -> tuple[pulumi.Output[str], list[pulumi.Output[str]], list[pulumi.Output[str]]]:
        args = self._args
        ident = args.identity
        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=args.vpc_cidr,
            enable_dns_support=True,
            enable_dns_hostnames=True,  # interface endpoints answer on the services' own names (private DNS)
            tags={**tags, "Name": naming.resource_name(ident.project, ident.environment, "vpc")},
            opts=child(self),
        )
        # The VPC's default group: adopted and stripped of every rule, so nothing lands in an open group.
        aws.ec2.DefaultSecurityGroup(f"{name}-default-sg", vpc_id=vpc.id, tags=tags, opts=child(self))
        subnets: list[pulumi.Output[str]] = []
        route_tables: list[pulumi.Output[str]] = []
        for zone, cidr in zip(args.zones, private_subnet_cidrs(args.vpc_cidr, len(args.zones)), strict=True):
            label = f"private-{zone}"
            subnet = aws.ec2.Subnet(
                f"{name}-{label}",
                vpc_id=vpc.id,
                cidr_block=cidr,
                availability_zone=zone,
                map_public_ip_on_launch=False,
                tags={**tags, "Name": naming.resource_name(ident.project, ident.environment, label), "tier": "private"},
                opts=child(self),
            )
            # No routes but the VPC's local one (and the gateway endpoints'): there is no way out.
            table = aws.ec2.RouteTable(
                f"{name}-{label}-routes",
                vpc_id=vpc.id,
                tags={**tags, "Name": naming.resource_name(ident.project, ident.environment, f"{label}-routes")},
                opts=child(self),
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-{label}-routes-association", subnet_id=subnet.id, route_table_id=table.id, opts=child(self)
            )
            subnets.append(subnet.id)
            route_tables.append(table.id)
        self._flow_logs(name, vpc, tags)
        return vpc.id, subnets, route_tables

    def _flow_logs(self, name: str, vpc: aws.ec2.Vpc, tags: dict[str, str]) -> None:
        args = self._args
        ident = args.identity
        group = aws.cloudwatch.LogGroup(
            f"{name}-flow-logs",
            name=naming.log_group_name(ident.project, ident.environment, "vpc-flow-logs"),
            retention_in_days=args.log_retention_days,
            kms_key_id=args.kms_key_arn,
            tags=tags,
            opts=child(self),
        )
        role = aws.iam.Role(
            f"{name}-flow-logs-role",
            name=naming.role_name(ident.project, ident.environment, "flow-logs"),
            permissions_boundary=ident.permissions_boundary,
            assume_role_policy=policy_json(
                lambda acct: policies.assume_role_policy("vpc-flow-logs.amazonaws.com", source_account=acct),
                ident.account_id,
            ),
            tags=tags,
            opts=child(self),
        )
        role_policy = aws.iam.RolePolicy(
            f"{name}-flow-logs-policy",
            role=role.id,
            policy=policy_json(policies.flow_logs_policy, group.arn),
            opts=child(self),
        )
        aws.ec2.FlowLog(
            f"{name}-flow-log",
            vpc_id=vpc.id,
            traffic_type=args.flow_log_traffic,
            log_destination_type="cloud-watch-logs",
            log_destination=group.arn,
            iam_role_arn=role.arn,
            max_aggregation_interval=60,
            tags=tags,
            opts=child(self, depends_on=[role_policy]),
        )

    def _endpoints(
        self,
        name: str,
        vpc_id: pulumi.Output[str],
        route_table_ids: list[pulumi.Output[str]],
        endpoint_group: aws.ec2.SecurityGroup,
        tags: dict[str, str],
    ) -> dict[str, pulumi.Output[str]]:
        region = self._args.identity.region
        prefix_lists: dict[str, pulumi.Output[str]] = {}
        for service in GATEWAY_SERVICES:
            gateway = aws.ec2.VpcEndpoint(
                f"{name}-endpoint-{service}",
                vpc_id=vpc_id,
                service_name=endpoint_service_name(region, service),
                vpc_endpoint_type="Gateway",
                route_table_ids=route_table_ids,
                tags={**tags, "service": service},
                opts=child(self),
            )
            prefix_lists[service] = gateway.prefix_list_id
        for service in INTERFACE_SERVICES:
            aws.ec2.VpcEndpoint(
                f"{name}-endpoint-{service.replace('.', '-')}",
                vpc_id=vpc_id,
                service_name=endpoint_service_name(region, service),
                vpc_endpoint_type="Interface",
                private_dns_enabled=True,
                subnet_ids=self.subnet_ids,
                security_group_ids=[endpoint_group.id],
                tags={**tags, "service": service},
                opts=child(self),
            )
        return prefix_lists

    def _workload_rules(
        self,
        name: str,
        groups: dict[str, aws.ec2.SecurityGroup],
        prefix_lists: dict[str, pulumi.Output[str]],
        https_targets: list[tuple[str, dict[str, pulumi.Input[str]]]],
        tags: dict[str, str],
    ) -> None:
        def egress(workload: str, target: str, **destination: pulumi.Input[str]) -> None:
            aws.vpc.SecurityGroupEgressRule(
                f"{name}-{workload}-to-{target}",
                security_group_id=groups[workload].id,
                description=f"HTTPS to {target}",
                ip_protocol="tcp",
                from_port=HTTPS,
                to_port=HTTPS,
                tags=tags,
                opts=child(self),
                **destination,
            )

        for workload in WORKLOADS:
            for target, destination in https_targets:
                egress(workload, target, **destination)
            for service, prefix_list in prefix_lists.items():
                if workload == "sagemaker-hosting" and service == "dynamodb":
                    continue  # the model reads its archive from S3 only
                egress(workload, service, prefix_list_id=prefix_list)
            if self._args.create_endpoints:
                aws.vpc.SecurityGroupIngressRule(
                    f"{name}-endpoints-from-{workload}",
                    security_group_id=groups["endpoints"].id,
                    description=f"HTTPS from {workload}",
                    ip_protocol="tcp",
                    from_port=HTTPS,
                    to_port=HTTPS,
                    referenced_security_group_id=groups[workload].id,
                    tags=tags,
                    opts=child(self),
                )
        # Within-group traffic: Glue's workers (Glue requires the self-reference) and distributed training nodes.
        for workload, protocol in (("glue", "tcp"), ("sagemaker-jobs", "-1")):
            from_port, to_port = (0, 65535) if protocol == "tcp" else (None, None)
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-{workload}-from-self",
                security_group_id=groups[workload].id,
                description="within the group",
                ip_protocol=protocol,
                from_port=from_port,
                to_port=to_port,
                referenced_security_group_id=groups[workload].id,
                tags=tags,
                opts=child(self),
            )
            aws.vpc.SecurityGroupEgressRule(
                f"{name}-{workload}-to-self",
                security_group_id=groups[workload].id,
                description="within the group",
                ip_protocol=protocol,
                from_port=from_port,
                to_port=to_port,
                referenced_security_group_id=groups[workload].id,
                tags=tags,
                opts=child(self),
            )
