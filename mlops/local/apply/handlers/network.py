"""The stack's private network in moto's EC2: VPC, subnets, route tables, security groups and their rules, VPC
endpoints, flow logs. moto records all of them; nothing runs in the VPC locally (see ``limits.py``).

EC2 ids are assigned by the emulator, so the VPC, subnets, route tables and endpoints are tagged with their
logical name (``mlops:logical-name``) and found by that tag on the next apply; security groups are found by
name within their VPC, rules by what they allow.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mlops.errors import LocalApplyError
from mlops.local.apply.base import Applied, Handler, HandlerContext, Outcome, applied, as_int, require

LOGICAL_NAME_TAG = "mlops:logical-name"
VPC = "aws:ec2/vpc:Vpc"
DEFAULT_SG = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
SUBNET = "aws:ec2/subnet:Subnet"
ROUTE_TABLE = "aws:ec2/routeTable:RouteTable"
ROUTE_TABLE_ASSOCIATION = "aws:ec2/routeTableAssociation:RouteTableAssociation"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS_RULE = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
FLOW_LOG = "aws:ec2/flowLog:FlowLog"


def _tag_specs(resource_type: str, name: str, tags: Mapping[str, str] | None) -> list[dict[str, Any]]:
    pairs = [{"Key": k, "Value": v} for k, v in (tags or {}).items()]
    pairs.append({"Key": LOGICAL_NAME_TAG, "Value": name})
    return [{"ResourceType": resource_type, "Tags": pairs}]


def _by_logical_name(name: str, extra: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    return [{"Name": f"tag:{LOGICAL_NAME_TAG}", "Values": [name]}, *(extra or [])]


def _ec2_arn(ctx: HandlerContext, kind: str, resource_id: str) -> str:
    return ctx.arn("ec2", f"{kind}/{resource_id}")


def vpc(ctx: HandlerContext, name: str, inputs: dict[str, Any]) -> Applied:
    """Create the VPC with DNS support and hostnames as declared (private DNS of interface endpoints needs both)."""
    ec2 = ctx.clients.client("ec2")
    cidr = str(require(inputs, "cidrBlock", VPC, name))
    # Stacks applied side by side declare the same logical names: each finds the VPC of its own environment (the
    # subnets, route tables and endpoints are then found within that VPC).
    environment = (inputs.get("tags") or {}).get("environment")
    same_stack = [{"Name": "tag:environment", "Values": [environment]}] if environment else []
    found = ec2.describe_vpcs(Filters=_by_logical_name(name, same_stack))["Vpcs"]
    outcome: Outcome = "reused"
    if found:
        current = found[0]
        if current["CidrBlock"] != cidr:
            raise LocalApplyError(
                f"{VPC} {name!r}: VPC {current['VpcId']} has CIDR {current['CidrBlock']} but the program declares "
                f"{cidr}; a VPC's CIDR cannot change: run `mlops local reset`"
            )
    else:
        current = ec2.create_vpc(CidrBlock=cidr, TagSpecifications=_tag_specs("vpc", name, inputs.get("tags")))["Vpc"]
        outcome = "created"
    vpc_id = current["VpcId"]
    for attribute, key in (("enableDnsSupport", "EnableDnsSupport"), ("enableDnsHostnames", "EnableDnsHostnames")):
        wanted = bool(inputs.get(attribute, attribute == "enableDnsSupport"))
        have = ec2.describe_vpc_attribute(VpcId=vpc_id, Attribute=attribute)[key]["Value"]
        if have != wanted:
            ec2.modify_vpc_attribute(VpcId=vpc_id, **{key: {"Value": wanted}})
            outcome = "updated" if outcome == "reused" else outcome
    default_group = ec2.describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "group-name", "Values": ["default"]}]
    )["SecurityGroups"][0]["GroupId"]
    main_table = ec2.describe_route_tables(
        Filters=[{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "association.main", "Values": ["true"]}]
    )["RouteTables"]
    return applied(
        vpc_id,
        inputs,
        outcome,
        arn=_ec2_arn(ctx, "vpc", vpc_id),
        defaultSecurityGroupId=default_group,
        mainRouteTableId=main_table[0]["RouteTableId"] if main_table else "",
        ownerId=ctx.account_id,
    )


def _strip(ec2: Any, group: dict[str, Any]) -> bool:
    """Revoke every rule of ``group``; True when there was one."""
    changed = False
    if group.get("IpPermissions"):
        ec2.revoke_security_group_ingress(GroupId=group["GroupId"], IpPermissions=group["IpPermissions"])
        changed = True
    if group.get("IpPermissionsEgress"):
        ec2.revoke_security_group_egress(GroupId=group["GroupId"], IpPermissions=group["IpPermissionsEgress"])
        changed = True
    return changed


def default_security_group(ctx: HandlerContext, name: str, inputs: dict[str, Any]) -> Applied:
    """Adopt the VPC's default group and leave it without rules, as the provider does (no inline rules declared)."""
    ec2 = ctx.clients.client("ec2")
    vpc_id = str(require(inputs, "vpcId", DEFAULT_SG, name))
    if inputs.get("ingress") or inputs.get("egress"):
        raise LocalApplyError(f"{DEFAULT_SG} {name!r}: rules on the default group are not applied locally")
    group = ec2.describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "group-name", "Values": ["default"]}]
    )["SecurityGroups"][0]
    group_id = group["GroupId"]
    adopted = any(t["Key"] == LOGICAL_NAME_TAG for t in group.get("Tags", []))
    stripped = _strip(ec2, group)
    outcome: Outcome = ("updated" if stripped else "reused") if adopted else "created"
    if not adopted:
        ec2.create_tags(Resources=[group_id], Tags=_tag_specs("security-group", name, inputs.get("tags"))[0]["Tags"])
    return applied(group_id, inputs, outcome, arn=_ec2_arn(ctx, "security-group", group_id), name="default")


def subnet(ctx: HandlerContext, name: str, inputs: dict[str, Any]) -> Applied:
    ec2 = ctx.clients.client("ec2")
    vpc_id = str(require(inputs, "vpcId", SUBNET, name))
    found = ec2.describe_subnets(Filters=_by_logical_name(name, [{"Name": "vpc-id", "Values": [vpc_id]}]))["Subnets"]
    outcome: Outcome = "reused"
    if found:
        current = found[0]
    else:
        request: dict[str, Any] = {
            "VpcId": vpc_id,
            "CidrBlock": str(require(inputs, "cidrBlock", SUBNET, name)),
            "TagSpecifications": _tag_specs("subnet", name, inputs.get("tags")),
        }
        if inputs.get("availabilityZone"):
            request["AvailabilityZone"] = inputs["availabilityZone"]
        current = ec2.create_subnet(**request)["Subnet"]
        outcome = "created"
    if bool(current.get("MapPublicIpOnLaunch")) != bool(inputs.get("mapPublicIpOnLaunch")):
        ec2.modify_subnet_attribute(
            SubnetId=current["SubnetId"], MapPublicIpOnLaunch={"Value": bool(inputs.get("mapPublicIpOnLaunch"))}
        )
        outcome = "updated" if outcome == "reused" else outcome
    subnet_id = current["SubnetId"]
    return applied(
        subnet_id,
        inputs,
        outcome,
        arn=current.get("SubnetArn") or _ec2_arn(ctx, "subnet", subnet_id),
        availabilityZone=current["AvailabilityZone"],
    )


def route_table(ctx: HandlerContext, name: str, inputs: dict[str, Any]) -> Applied:
    """A route table with only the VPC's local route: routes declared inline are refused (the kit has none)."""
    ec2 = ctx.clients.client("ec2")
    vpc_id = str(require(inputs, "vpcId", ROUTE_TABLE, name))
    if inputs.get("routes"):
        raise LocalApplyError(f"{ROUTE_TABLE} {name!r}: inline routes are not applied locally")
    found = ec2.describe_route_tables(Filters=_by_logical_name(name, [{"Name": "vpc-id", "Values": [vpc_id]}]))
    outcome: Outcome = "reused"
    if found["RouteTables"]:
        table_id = found["RouteTables"][0]["RouteTableId"]
    else:
        table_id = ec2.create_route_table(
            VpcId=vpc_id, TagSpecifications=_tag_specs("route-table", name, inputs.get("tags"))
        )["RouteTable"]["RouteTableId"]
        outcome = "created"
    return applied(table_id, inputs, outcome, arn=_ec2_arn(ctx, "route-table", table_id), ownerId=ctx.account_id)


def route_table_association(ctx: HandlerContext, name: str, inputs: dict[str, Any]) -> Applied:
    ec2 = ctx.clients.client("ec2")
    table_id = str(require(inputs, "routeTableId", ROUTE_TABLE_ASSOCIATION, name))
    subnet_id = str(require(inputs, "subnetId", ROUTE_TABLE_ASSOCIATION, name))
    table = ec2.describe_route_tables(RouteTableIds=[table_id])["RouteTables"][0]
    existing = [a for a in table.get("Associations", []) if a.get("SubnetId") == subnet_id]
    if existing:
        return applied(existing[0]["RouteTableAssociationId"], inputs, "reused")
    association = ec2.associate_route_table(RouteTableId=table_id, SubnetId=subnet_id)["AssociationId"]
    return applied(association, inputs, "created")


def security_group(ctx: HandlerContext, name: str, inputs: dict[str, Any]) -> Applied:
    """Create the group without the default allow-all egress rule, as the provider does; rules are their own
    resources (``aws.vpc.SecurityGroup{Ingress,Egress}Rule``), so inline rules are refused."""
    ec2 = ctx.clients.client("ec2")
    group_name = str(require(inputs, "name", SECURITY_GROUP, name))
    vpc_id = str(require(inputs, "vpcId", SECURITY_GROUP, name))
    if inputs.get("ingress") or inputs.get("egress"):
        raise LocalApplyError(
            f"{SECURITY_GROUP} {name!r}: inline rules are not applied locally; declare aws.vpc.SecurityGroup*Rule"
        )
    found = ec2.describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "group-name", "Values": [group_name]}]
    )["SecurityGroups"]
    outcome: Outcome = "reused"
    if found:
        group_id = found[0]["GroupId"]
    else:
        group_id = ec2.create_security_group(
            GroupName=group_name,
            Description=str(inputs.get("description") or "Managed by Pulumi"),
            VpcId=vpc_id,
            TagSpecifications=_tag_specs("security-group", name, inputs.get("tags")),
        )["GroupId"]
        created = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0]
        if created.get("IpPermissionsEgress"):
            ec2.revoke_security_group_egress(GroupId=group_id, IpPermissions=created["IpPermissionsEgress"])
        outcome = "created"
    return applied(
        group_id,
        inputs,
        outcome,
        arn=_ec2_arn(ctx, "security-group", group_id),
        name=group_name,
        ownerId=ctx.account_id,
    )


def _permission(inputs: Mapping[str, Any], typ: str, name: str) -> dict[str, Any]:
    """The rule as one ``IpPermissions`` entry (exactly one destination: CIDR, IPv6 CIDR, prefix list or group)."""
    protocol = str(require(inputs, "ipProtocol", typ, name))
    permission: dict[str, Any] = {"IpProtocol": protocol}
    if protocol != "-1":
        permission["FromPort"] = as_int(require(inputs, "fromPort", typ, name))
        permission["ToPort"] = as_int(require(inputs, "toPort", typ, name))
    description = {"Description": inputs["description"]} if inputs.get("description") else {}
    targets = {
        "cidrIpv4": ("IpRanges", "CidrIp"),
        "cidrIpv6": ("Ipv6Ranges", "CidrIpv6"),
        "prefixListId": ("PrefixListIds", "PrefixListId"),
        "referencedSecurityGroupId": ("UserIdGroupPairs", "GroupId"),
    }
    given = [key for key in targets if inputs.get(key)]
    if len(given) != 1:
        raise LocalApplyError(f"{typ} {name!r}: exactly one of {', '.join(targets)} is required, got {given or 'none'}")
    field, key = targets[given[0]]
    permission[field] = [{key: inputs[given[0]], **description}]
    return permission


def _same_rule(rule: Mapping[str, Any], permission: Mapping[str, Any]) -> bool:
    if rule["IpProtocol"] != permission["IpProtocol"]:
        return False
    if permission["IpProtocol"] != "-1" and (rule.get("FromPort"), rule.get("ToPort")) != (
        permission["FromPort"],
        permission["ToPort"],
    ):
        return False
    target = next(
        iter(permission[f] for f in ("IpRanges", "Ipv6Ranges", "PrefixListIds", "UserIdGroupPairs") if f in permission)
    )[0]
    have = (
        rule.get("CidrIpv4"),
        rule.get("CidrIpv6"),
        rule.get("PrefixListId"),
        (rule.get("ReferencedGroupInfo") or {}).get("GroupId"),
    )
    want = (target.get("CidrIp"), target.get("CidrIpv6"), target.get("PrefixListId"), target.get("GroupId"))
    return have == want


def _rule(egress: bool) -> Handler:
    typ = EGRESS_RULE if egress else INGRESS_RULE

    def handle(ctx: HandlerContext, name: str, inputs: dict[str, Any]) -> Applied:
        ec2 = ctx.clients.client("ec2")
        group_id = str(require(inputs, "securityGroupId", typ, name))
        permission = _permission(inputs, typ, name)
        rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [group_id]}])
        existing = [
            r for r in rules["SecurityGroupRules"] if bool(r.get("IsEgress")) == egress and _same_rule(r, permission)
        ]
        outcome: Outcome = "reused"
        if existing:
            rule_id = existing[0]["SecurityGroupRuleId"]
        else:
            authorize = ec2.authorize_security_group_egress if egress else ec2.authorize_security_group_ingress
            rule_id = authorize(GroupId=group_id, IpPermissions=[permission])["SecurityGroupRules"][0][
                "SecurityGroupRuleId"
            ]
            outcome = "created"
        return applied(
            rule_id, inputs, outcome, arn=_ec2_arn(ctx, "security-group-rule", rule_id), securityGroupRuleId=rule_id
        )

    return handle


def _prefix_list_id(ec2: Any, service_name: str) -> str:
    lists = ec2.describe_prefix_lists(Filters=[{"Name": "prefix-list-name", "Values": [service_name]}])["PrefixLists"]
    return str(lists[0]["PrefixListId"]) if lists else ""


def vpc_endpoint(ctx: HandlerContext, name: str, inputs: dict[str, Any]) -> Applied:
    """Gateway endpoints report the service's prefix list id (security group rules refer to it)."""
    ec2 = ctx.clients.client("ec2")
    vpc_id = str(require(inputs, "vpcId", ENDPOINT, name))
    service = str(require(inputs, "serviceName", ENDPOINT, name))
    kind = str(inputs.get("vpcEndpointType") or "Gateway")
    found = [
        e
        for e in ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["VpcEndpoints"]
        if e["ServiceName"] == service and e["VpcEndpointType"] == kind and e.get("State") != "deleted"
    ]
    outcome: Outcome = "reused"
    if found:
        endpoint = found[0]
    else:
        request: dict[str, Any] = {
            "VpcId": vpc_id,
            "ServiceName": service,
            "VpcEndpointType": kind,
            "TagSpecifications": _tag_specs("vpc-endpoint", name, inputs.get("tags")),
        }
        if inputs.get("routeTableIds"):
            request["RouteTableIds"] = list(inputs["routeTableIds"])
        if kind == "Interface":
            request["SubnetIds"] = list(inputs.get("subnetIds") or [])
            request["SecurityGroupIds"] = list(inputs.get("securityGroupIds") or [])
            request["PrivateDnsEnabled"] = bool(inputs.get("privateDnsEnabled"))
        if inputs.get("policy"):
            request["PolicyDocument"] = inputs["policy"]
        endpoint = ec2.create_vpc_endpoint(**request)["VpcEndpoint"]
        outcome = "created"
    endpoint_id = endpoint["VpcEndpointId"]
    return applied(
        endpoint_id,
        inputs,
        outcome,
        arn=_ec2_arn(ctx, "vpc-endpoint", endpoint_id),
        prefixListId=_prefix_list_id(ec2, service) if kind == "Gateway" else "",
        dnsEntries=[
            {"dnsName": d.get("DnsName", ""), "hostedZoneId": d.get("HostedZoneId", "")}
            for d in endpoint.get("DnsEntries", [])
        ],
        state=endpoint.get("State", "available"),
        ownerId=ctx.account_id,
    )


def flow_log(ctx: HandlerContext, name: str, inputs: dict[str, Any]) -> Applied:
    """A VPC flow log into a CloudWatch Logs group (moto records it; no traffic means no log is delivered)."""
    ec2 = ctx.clients.client("ec2")
    vpc_id = str(require(inputs, "vpcId", FLOW_LOG, name))
    destination_type = str(inputs.get("logDestinationType") or "cloud-watch-logs")
    if destination_type != "cloud-watch-logs":
        raise LocalApplyError(f"{FLOW_LOG} {name!r}: destination type {destination_type!r} is not applied locally")
    destination = str(require(inputs, "logDestination", FLOW_LOG, name))
    group_name = destination.split(":log-group:", 1)[-1].removesuffix(":*")
    found = [
        f
        for f in ec2.describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [vpc_id]}])["FlowLogs"]
        if f.get("LogGroupName") == group_name
    ]
    outcome: Outcome = "reused"
    if found:
        flow_log_id = found[0]["FlowLogId"]
    else:
        result = ec2.create_flow_logs(
            ResourceIds=[vpc_id],
            ResourceType="VPC",
            TrafficType=str(inputs.get("trafficType") or "ALL"),
            LogDestinationType=destination_type,
            LogGroupName=group_name,
            DeliverLogsPermissionArn=str(require(inputs, "iamRoleArn", FLOW_LOG, name)),
            MaxAggregationInterval=as_int(inputs.get("maxAggregationInterval", 600)),
            TagSpecifications=_tag_specs("vpc-flow-log", name, inputs.get("tags")),
        )
        if result.get("Unsuccessful"):
            raise LocalApplyError(f"{FLOW_LOG} {name!r}: {result['Unsuccessful']}")
        flow_log_id = result["FlowLogIds"][0]
        outcome = "created"
    return applied(flow_log_id, inputs, outcome, arn=_ec2_arn(ctx, "vpc-flow-log", flow_log_id))


HANDLERS: dict[str, Handler] = {
    VPC: vpc,
    DEFAULT_SG: default_security_group,
    SUBNET: subnet,
    ROUTE_TABLE: route_table,
    ROUTE_TABLE_ASSOCIATION: route_table_association,
    SECURITY_GROUP: security_group,
    INGRESS_RULE: _rule(egress=False),
    EGRESS_RULE: _rule(egress=True),
    ENDPOINT: vpc_endpoint,
    FLOW_LOG: flow_log,
}
