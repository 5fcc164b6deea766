"""Network: no internet path, flow logs, a closed default group, the endpoints workloads need, tight groups."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from infra.guardrails.model import STACK, Declared, Rule, Violation, as_list, attached, nested, of, value

VPC = "aws:ec2/vpc:Vpc"
SUBNET = "aws:ec2/subnet:Subnet"
ROUTE = "aws:ec2/route:Route"
ROUTE_TABLE = "aws:ec2/routeTable:RouteTable"
FLOW_LOG = "aws:ec2/flowLog:FlowLog"
DEFAULT_SG = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS_RULE = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
LEGACY_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
INTERNET_GATEWAYS = (
    "aws:ec2/internetGateway:InternetGateway",
    "aws:ec2/egressOnlyInternetGateway:EgressOnlyInternetGateway",
)
NAT_GATEWAY = "aws:ec2/natGateway:NatGateway"

REQUIRED_ENDPOINTS: tuple[str, ...] = (
    "s3",
    "dynamodb",
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
"""Services the kit's workloads call; each needs an endpoint in the stack's VPC (no internet path)."""


def is_anywhere(cidr: Any) -> bool:
    """``0.0.0.0/0`` or ``::/0``."""
    if cidr == "0.0.0.0/0":
        return True
    if cidr == "::/0":  # noqa: SIM103 - one `if` per form, for the mutation test
        return True
    return False


def no_internet_path(resources: Sequence[Declared]) -> Iterator[Violation]:
    rule = "vpc-no-internet-path"
    for resource in resources:
        if resource.type in INTERNET_GATEWAYS:
            yield Violation(rule, resource.name, "an internet gateway gives the VPC a way out")
        if resource.type == NAT_GATEWAY:
            yield Violation(rule, resource.name, "a NAT gateway gives the private subnets a way out")
    for route in of(resources, ROUTE):
        if is_anywhere(value(route, "destinationCidrBlock")) or is_anywhere(value(route, "destinationIpv6CidrBlock")):
            yield Violation(rule, route.name, "a default route leaves the VPC")
    for table in of(resources, ROUTE_TABLE):
        destinations = [nested(r, "cidrBlock") or nested(r, "ipv6CidrBlock") for r in as_list(value(table, "routes"))]
        if any(is_anywhere(d) for d in destinations):
            yield Violation(rule, table.name, "a default route leaves the VPC")
    for subnet in of(resources, SUBNET):
        if value(subnet, "mapPublicIpOnLaunch") is True:
            yield Violation(rule, subnet.name, "public IPs on launch")


def flow_logs(resources: Sequence[Declared]) -> Iterator[Violation]:
    for vpc in of(resources, VPC):
        if not attached(resources, FLOW_LOG, vpc, "vpcId"):
            yield Violation("vpc-flow-logs", vpc.name, "no flow log")


def default_group_closed(resources: Sequence[Declared]) -> Iterator[Violation]:
    rule = "vpc-default-sg-closed"
    for vpc in of(resources, VPC):
        groups = attached(resources, DEFAULT_SG, vpc, "vpcId")
        if not groups:
            yield Violation(rule, vpc.name, "the default security group keeps its default rules")
        for group in groups:
            if value(group, "ingress") or value(group, "egress"):
                yield Violation(rule, group.name, "the default security group has rules")


def endpoints(resources: Sequence[Declared]) -> Iterator[Violation]:
    rule = "vpc-endpoints"
    declared = of(resources, ENDPOINT)
    if not declared and not of(resources, VPC):
        return
    # com.amazonaws.<region>.<service>
    services = {".".join(str(value(e, "serviceName") or "").split(".")[3:]) for e in declared}
    missing = [service for service in REQUIRED_ENDPOINTS if service not in services]
    if missing:
        yield Violation(rule, STACK, f"no VPC endpoint for {', '.join(missing)}")
    for endpoint in declared:
        if value(endpoint, "vpcEndpointType") == "Interface" and value(endpoint, "privateDnsEnabled") is not True:
            yield Violation(rule, endpoint.name, "interface endpoint without private DNS (clients bypass it)")


def _inline_rules(group: Declared, direction: str) -> Iterator[tuple[Any, Any]]:
    for entry in as_list(value(group, direction)):
        for cidr in as_list(nested(entry, "cidrBlocks")):
            yield cidr, entry
        for cidr in as_list(nested(entry, "ipv6CidrBlocks")):
            yield cidr, entry


def _open_rules(resources: Sequence[Declared], direction: str, rule_type: str) -> Iterator[tuple[Declared, str]]:
    """(resource, why) for every rule of ``direction`` that reaches or admits the whole internet."""
    for group in of(resources, SECURITY_GROUP):
        for cidr, _ in _inline_rules(group, direction):
            if is_anywhere(cidr):
                yield group, f"inline {direction} {cidr}"
    for entry in of(resources, rule_type):
        if is_anywhere(value(entry, "cidrIpv4")) or is_anywhere(value(entry, "cidrIpv6")):
            yield entry, f"{direction} {value(entry, 'cidrIpv4') or value(entry, 'cidrIpv6')}"
    for entry in of(resources, LEGACY_RULE):
        cidrs = [*as_list(value(entry, "cidrBlocks")), *as_list(value(entry, "ipv6CidrBlocks"))]
        if value(entry, "type") == direction and any(is_anywhere(c) for c in cidrs):
            yield entry, f"{direction} rule open to the internet"


def ingress_restricted(resources: Sequence[Declared]) -> Iterator[Violation]:
    for resource, why in _open_rules(resources, "ingress", INGRESS_RULE):
        yield Violation("sg-ingress-restricted", resource.name, f"admits the internet ({why})")


def egress_restricted(resources: Sequence[Declared]) -> Iterator[Violation]:
    for resource, why in _open_rules(resources, "egress", EGRESS_RULE):
        yield Violation("sg-egress-restricted", resource.name, f"may reach the internet ({why})")


RULES: tuple[Rule, ...] = (
    Rule(
        "vpc-no-internet-path",
        "network",
        "No internet or NAT gateway, no default route, no public IPs: the stack's subnets are private.",
        no_internet_path,
    ),
    Rule("vpc-flow-logs", "logging", "Every VPC the stack creates has flow logs.", flow_logs),
    Rule("vpc-default-sg-closed", "network", "Every VPC's default security group has no rules.", default_group_closed),
    Rule(
        "vpc-endpoints",
        "network",
        "The VPC has an endpoint for every service the workloads call; interface endpoints use private DNS.",
        endpoints,
    ),
    Rule("sg-ingress-restricted", "network", "No security group admits 0.0.0.0/0 or ::/0.", ingress_restricted),
    Rule(
        "sg-egress-restricted",
        "network",
        "No security group may send to 0.0.0.0/0 or ::/0 (endpoints, prefix lists and groups only).",
        egress_restricted,
    ),
)
