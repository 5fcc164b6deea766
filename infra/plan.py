"""``mlops infra plan``: run the program under recording mocks and describe the resource graph.

No Pulumi CLI, engine or AWS account is involved. :class:`RecordingMocks` answers like a provider would
(ids and ARNs unique per resource, inputs echoed as state), and :class:`RecordingMonitor` sees each
registration request as the engine would.

Dependencies are taken from the SDK itself: every registration carries the URNs of the resources whose
outputs flowed into its inputs (``propertyDependencies``) plus explicit ``depends_on`` (``dependencies``).
The parent is recorded separately. URNs are reduced to logical names, which the program keeps unique.

Ids and ARNs follow the local apply's handlers (``mlops/local/apply/handlers``): where a handler's physical id
is a name (buckets, roles, Glue jobs, log groups...) the plan gives the same id; where the emulator assigns one
(VPCs, subnets, security groups, KMS keys), the plan gives a stable id of the same shape derived from the
logical name. ``Plan.to_json(full=True)`` (``mlops infra plan --json --full``) carries every input unabridged.
"""

from __future__ import annotations

import hashlib
import json
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockCallArgs, MockMonitor, MockResourceArgs

from infra.runner import run_program
from mlops.errors import ConfigError

MOCK_ACCOUNT_ID = "123456789012"
CALLER_IDENTITY = "aws:index/getCallerIdentity:getCallerIdentity"
GET_REGION = "aws:index/getRegion:getRegion"
LONG_VALUE = 160
"""Inputs longer than this (policy documents, dashboards, definitions) are summarised in the plan."""

# Physical-name inputs (camelCase): the first one present names the resource in its mock ARN, and each is
# echoed into the state so outputs like `.name` resolve even when the program did not set that input.
_COMPUTED_NAMES = (
    "name",
    "bucket",
    "dashboardName",
    "modelPackageGroupName",
    "pipelineName",
    "trackingServerName",
)


@dataclass
class PlannedResource:
    """One resource as the plan shows it."""

    type: str
    name: str
    custom: bool
    inputs: dict[str, Any]
    id: str = ""
    arn: str = ""
    parent: str | None = None
    dependencies: list[str] = field(default_factory=list)
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)

    @property
    def references(self) -> Mapping[str, list[str]]:
        """Input name -> logical names of the resources whose outputs flow into it (for the policy rules)."""
        return self.property_dependencies


def _urn_name(urn: str) -> str:
    return urn.rsplit("::", 1)[-1]


def _service(type_token: str) -> str:
    # aws:s3/bucket:Bucket -> s3; mlops:datalake:DataLake -> datalake
    module = type_token.split(":")[1]
    return module.split("/")[0]


@dataclass(frozen=True)
class Identity:
    """What a resource is called once it exists: its id, its ARN and further computed outputs (camelCase)."""

    id: str
    arn: str
    extra: dict[str, Any] = field(default_factory=dict)


IdentityRule = Callable[[str, str, dict[str, Any], str, str], Identity]
"""(logical name, physical name, inputs, account, region) -> identity."""


def _digest(name: str, length: int) -> str:
    return hashlib.sha256(name.encode()).hexdigest()[:length]


def _generic_arn(type_token: str, physical: str, account: str, region: str) -> str:
    service = _service(type_token)
    kind = type_token.rsplit(":", 1)[-1].lower()
    if service == "s3":
        return f"arn:aws:s3:::{physical}"
    if service == "iam":  # IAM is global: no region in its ARNs
        return f"arn:aws:iam::{account}:{kind}/{physical}"
    return f"arn:aws:{service}:{region}:{account}:{kind}/{physical}"


_EC2_PREFIXES = {
    "aws:ec2/vpc:Vpc": ("vpc", "vpc"),
    "aws:ec2/subnet:Subnet": ("subnet", "subnet"),
    "aws:ec2/routeTable:RouteTable": ("rtb", "route-table"),
    "aws:ec2/routeTableAssociation:RouteTableAssociation": ("rtbassoc", "route-table-association"),
    "aws:ec2/securityGroup:SecurityGroup": ("sg", "security-group"),
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": ("sg", "security-group"),
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": ("sgr", "security-group-rule"),
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": ("sgr", "security-group-rule"),
    "aws:ec2/vpcEndpoint:VpcEndpoint": ("vpce", "vpc-endpoint"),
    "aws:ec2/flowLog:FlowLog": ("fl", "vpc-flow-log"),
}
"""EC2 resources the emulator (and AWS) gives ids: ``<prefix>-<17 hex>``, stable per logical name in the plan."""

_BUCKET_CHILDREN = (
    "aws:s3/bucketVersioning:BucketVersioning",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
    "aws:s3/bucketPolicy:BucketPolicy",
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    "aws:s3/bucketLogging:BucketLogging",
)


def _ec2_identity(type_token: str, name: str, inputs: dict[str, Any], account: str, region: str) -> Identity:
    prefix, kind = _EC2_PREFIXES[type_token]
    resource_id = f"{prefix}-{_digest(name, 17)}"
    extra: dict[str, Any] = {"ownerId": account}
    if type_token == "aws:ec2/vpcEndpoint:VpcEndpoint" and inputs.get("vpcEndpointType", "Gateway") == "Gateway":
        extra["prefixListId"] = f"pl-{_digest(str(inputs.get('serviceName')), 8)}"
    if type_token == "aws:ec2/vpc:Vpc":
        extra["defaultSecurityGroupId"] = f"sg-{_digest(name + '/default', 17)}"
    if type_token.endswith("Rule"):
        extra["securityGroupRuleId"] = resource_id
    return Identity(resource_id, f"arn:aws:ec2:{region}:{account}:{kind}/{resource_id}", extra)


def _regional(service: str, kind: str, separator: str = "/") -> IdentityRule:
    def rule(_name: str, physical: str, _inputs: dict[str, Any], account: str, region: str) -> Identity:
        return Identity(physical, f"arn:aws:{service}:{region}:{account}:{kind}{separator}{physical}")

    return rule


def _kms_key(name: str, _physical: str, _inputs: dict[str, Any], account: str, region: str) -> Identity:
    key_id = str(uuid.uuid5(uuid.NAMESPACE_URL, name))
    return Identity(key_id, f"arn:aws:kms:{region}:{account}:key/{key_id}", {"keyId": key_id})


def _bucket_object(_name: str, _physical: str, inputs: dict[str, Any], _account: str, _region: str) -> Identity:
    location = f"{inputs.get('bucket')}/{inputs.get('key')}"
    return Identity(location, f"arn:aws:s3:::{location}")


def _oidc(_name: str, _physical: str, inputs: dict[str, Any], account: str, _region: str) -> Identity:
    arn = f"arn:aws:iam::{account}:oidc-provider/{str(inputs.get('url', '')).removeprefix('https://')}"
    return Identity(arn, arn)


def _catalog(kind: str) -> IdentityRule:
    def rule(_name: str, physical: str, inputs: dict[str, Any], account: str, region: str) -> Identity:
        if kind == "table":
            database = inputs.get("databaseName")
            return Identity(
                f"{account}:{database}:{physical}",
                f"arn:aws:glue:{region}:{account}:table/{database}/{physical}",
                {"catalogId": account},
            )
        return Identity(
            f"{account}:{physical}", f"arn:aws:glue:{region}:{account}:{kind}/{physical}", {"catalogId": account}
        )

    return rule


def _arn_is_id(service: str, kind: str, separator: str = "/") -> IdentityRule:
    def rule(_name: str, physical: str, _inputs: dict[str, Any], account: str, region: str) -> Identity:
        arn = f"arn:aws:{service}:{region}:{account}:{kind}{separator}{physical}"
        return Identity(arn, arn)

    return rule


def _events_with_uuid(kind: str) -> IdentityRule:
    """EventBridge connections and API destinations: ``<kind>/<name>/<uuid>`` (a stable one per name here)."""

    def rule(_name: str, physical: str, _inputs: dict[str, Any], account: str, region: str) -> Identity:
        suffix = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{kind}/{physical}"))
        return Identity(physical, f"arn:aws:events:{region}:{account}:{kind}/{physical}/{suffix}")

    return rule


def _no_arn(id_of: Callable[[str, str, dict[str, Any], str], str]) -> IdentityRule:
    def rule(name: str, physical: str, inputs: dict[str, Any], account: str, _region: str) -> Identity:
        return Identity(id_of(name, physical, inputs, account), "")

    return rule


def _log_stream(_name: str, physical: str, inputs: dict[str, Any], account: str, region: str) -> Identity:
    return Identity(
        physical, f"arn:aws:logs:{region}:{account}:log-group:{inputs.get('logGroupName')}:log-stream:{physical}"
    )


def _dashboard(_name: str, physical: str, _inputs: dict[str, Any], account: str, _region: str) -> Identity:
    arn = f"arn:aws:cloudwatch::{account}:dashboard/{physical}"
    return Identity(physical, arn, {"dashboardArn": arn})


def _ecr_repository(_name: str, physical: str, _inputs: dict[str, Any], account: str, region: str) -> Identity:
    url = f"{account}.dkr.ecr.{region}.amazonaws.com/{physical}"
    return Identity(
        physical, f"arn:aws:ecr:{region}:{account}:repository/{physical}", {"repositoryUrl": url, "registryId": account}
    )


def _built_image(name: str, _physical: str, inputs: dict[str, Any], _account: str, _region: str) -> Identity:
    """An image the program builds: the plan builds nothing, so its digest stands for its declared inputs."""
    digest = "sha256:" + hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode()).hexdigest()
    tags = inputs.get("tags") or [name]
    return Identity(digest, "", {"digest": digest, "ref": f"{tags[0]}@{digest}", "contextHash": digest[7:]})


_IDENTITIES: dict[str, IdentityRule] = {
    "aws:iam/policy:Policy": lambda _n, p, _i, acct, _r: Identity(
        f"arn:aws:iam::{acct}:policy/{p}", f"arn:aws:iam::{acct}:policy/{p}"
    ),
    "aws:ecr/repository:Repository": _ecr_repository,
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": _no_arn(lambda _n, _p, i, _a: str(i.get("repository", ""))),
    "docker-build:index:Image": _built_image,
    "aws:kms/key:Key": _kms_key,
    "aws:kms/alias:Alias": lambda _n, p, _i, acct, region: Identity(p, f"arn:aws:kms:{region}:{acct}:{p}"),
    "aws:s3/bucket:Bucket": lambda _n, p, _i, _a, _r: Identity(p, f"arn:aws:s3:::{p}"),
    "aws:s3/bucketObjectv2:BucketObjectv2": _bucket_object,
    "aws:iam/role:Role": lambda _n, p, _i, acct, _r: Identity(p, f"arn:aws:iam::{acct}:role/{p}"),
    "aws:iam/rolePolicy:RolePolicy": _no_arn(lambda n, _p, i, _a: f"{i.get('role')}:{i.get('name') or n}"),
    "aws:sagemaker/modelPackageGroupPolicy:ModelPackageGroupPolicy": _no_arn(
        lambda _n, _p, i, _a: str(i.get("modelPackageGroupName"))
    ),
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": _no_arn(
        lambda _n, _p, i, _a: f"{i.get('role')}/{i.get('policyArn')}"
    ),
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider": _oidc,
    "aws:glue/catalogDatabase:CatalogDatabase": _catalog("database"),
    "aws:glue/catalogTable:CatalogTable": _catalog("table"),
    "aws:glue/connection:Connection": _catalog("connection"),
    "aws:glue/job:Job": _regional("glue", "job"),
    "aws:glue/trigger:Trigger": _regional("glue", "trigger"),
    "aws:glue/securityConfiguration:SecurityConfiguration": _no_arn(lambda _n, p, _i, _a: p),
    "aws:glue/dataCatalogEncryptionSettings:DataCatalogEncryptionSettings": _no_arn(
        lambda _n, _p, i, acct: str(i.get("catalogId") or acct)
    ),
    "aws:kinesis/stream:Stream": _arn_is_id("kinesis", "stream"),
    "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream": _arn_is_id("firehose", "deliverystream"),
    "aws:dynamodb/table:Table": _regional("dynamodb", "table"),
    "aws:sagemaker/modelPackageGroup:ModelPackageGroup": _regional("sagemaker", "model-package-group"),
    "aws:sagemaker/pipeline:Pipeline": _regional("sagemaker", "pipeline"),
    "aws:sagemaker/mlflowTrackingServer:MlflowTrackingServer": _regional("sagemaker", "mlflow-tracking-server"),
    "aws:sagemaker/model:Model": _regional("sagemaker", "model"),
    "aws:sagemaker/endpointConfiguration:EndpointConfiguration": _regional("sagemaker", "endpoint-config"),
    "aws:sagemaker/endpoint:Endpoint": _regional("sagemaker", "endpoint"),
    "aws:appautoscaling/target:Target": _no_arn(lambda _n, _p, i, _a: str(i.get("resourceId", ""))),
    "aws:cloudwatch/metricAlarm:MetricAlarm": _regional("cloudwatch", "alarm", ":"),
    "aws:cloudwatch/dashboard:Dashboard": _dashboard,
    "aws:cloudwatch/logGroup:LogGroup": _regional("logs", "log-group", ":"),
    "aws:cloudwatch/logStream:LogStream": _log_stream,
    "aws:cloudwatch/eventRule:EventRule": _regional("events", "rule"),
    "aws:cloudwatch/eventConnection:EventConnection": _events_with_uuid("connection"),
    "aws:cloudwatch/eventApiDestination:EventApiDestination": _events_with_uuid("api-destination"),
    "aws:cloudwatch/eventTarget:EventTarget": _no_arn(lambda _n, _p, i, _a: f"{i.get('rule')}-{i.get('targetId')}"),
    "aws:sns/topic:Topic": lambda _n, p, _i, acct, region: Identity(
        f"arn:aws:sns:{region}:{acct}:{p}", f"arn:aws:sns:{region}:{acct}:{p}"
    ),
}


def _gcp_identity(name: str, inputs: dict[str, Any], type_token: str) -> Identity:
    """The id (Google's resource name) and computed outputs the provider reports for a ``gcp:`` resource."""
    project = str(inputs.get("project", "plan-project"))
    where = str(inputs.get("location") or inputs.get("region") or "global")
    physical = str(inputs.get("name") or name)
    kind = type_token.rsplit(":", 1)[-1]
    if kind == "Account":
        email = f"{inputs.get('accountId')}@{project}.iam.gserviceaccount.com"
        return Identity(
            f"projects/{project}/serviceAccounts/{email}",
            "",
            {
                "email": email,
                "name": f"projects/{project}/serviceAccounts/{email}",
                "member": f"serviceAccount:{email}",
            },
        )
    if kind == "CryptoKey":
        return Identity(f"{inputs.get('keyRing')}/cryptoKeys/{physical}", "")
    templates = {
        "KeyRing": f"projects/{project}/locations/{where}/keyRings/{physical}",
        "Topic": f"projects/{project}/topics/{physical}",
        "Subscription": f"projects/{project}/subscriptions/{physical}",
        "Network": f"projects/{project}/global/networks/{physical}",
        "Subnetwork": f"projects/{project}/regions/{where}/subnetworks/{physical}",
        "Dataset": f"projects/{project}/datasets/{inputs.get('datasetId')}",
        "Table": f"projects/{project}/datasets/{inputs.get('datasetId')}/tables/{inputs.get('tableId')}",
        "Connection": f"projects/{project}/locations/{where}/connections/{inputs.get('connectionId')}",
        "Repository": f"projects/{project}/locations/{where}/repositories/{inputs.get('repositoryId')}",
        "WorkloadIdentityPool": f"projects/{project}/locations/global/workloadIdentityPools/"
        f"{inputs.get('workloadIdentityPoolId')}",
        "WorkloadIdentityPoolProvider": f"projects/{project}/locations/global/workloadIdentityPools/"
        f"{inputs.get('workloadIdentityPoolId')}/providers/{inputs.get('workloadIdentityPoolProviderId')}",
        "NotificationChannel": f"projects/{project}/notificationChannels/{int(_digest(name, 12), 16)}",
        "Dashboard": f"projects/{project}/dashboards/{_digest(name, 16)}",
        "AiEndpoint": f"projects/{project}/locations/{where}/endpoints/{physical}",
        "Database": f"projects/{project}/databases/{physical}",
        "BucketObject": f"{inputs.get('bucket')}-{physical}",
    }
    resource_id = templates.get(kind, physical if "name" in inputs else f"{name}-id")
    extra: dict[str, Any] = {}
    if kind in ("WorkloadIdentityPool", "WorkloadIdentityPoolProvider", "NotificationChannel", "Dashboard"):
        extra["name"] = resource_id
    if kind == "Connection":
        agent = f"bqcx-{_digest(name, 12)}@gcp-sa-bigquery-condel.iam.gserviceaccount.com"
        extra["cloudResource"] = {"serviceAccountId": agent}
    if kind == "Bucket":
        extra["url"] = f"gs://{physical}"
    if kind == "Service":  # Cloud Run: the URL Google gives the service
        extra["uri"] = f"https://{physical}-{_digest(name, 10)}-{where[:2]}.a.run.app"
    if kind == "DatabaseInstance":  # Cloud SQL: an address of the private services range
        extra["privateIpAddress"] = "10.100.0.3"
        extra["connectionName"] = f"{project}:{where}:{physical}"
    if kind == "Secret":
        extra["secretId"] = str(inputs.get("secretId") or physical)
    return Identity(resource_id, "", extra)


def _identity(
    type_token: str, name: str, physical: str, inputs: dict[str, Any], *, account: str, region: str
) -> Identity:
    """The id and ARN the local apply's handler of ``type_token`` would report (see the module docstring)."""
    if type_token.startswith("gcp:"):
        return _gcp_identity(name, inputs, type_token)
    special = _IDENTITIES.get(type_token)
    if special is not None:
        return special(name, physical, inputs, account, region)
    if type_token in _EC2_PREFIXES:
        return _ec2_identity(type_token, name, inputs, account, region)
    if type_token in _BUCKET_CHILDREN:
        return Identity(str(inputs.get("bucket", physical)), "")
    return Identity(physical if physical != name else f"{name}-id", _generic_arn(type_token, physical, account, region))


class RecordingMocks(pulumi.runtime.Mocks):
    """Mocks that record every resource and answer with unique ids and ARNs (thread-safe)."""

    def __init__(self, region: str, account_id: str = MOCK_ACCOUNT_ID) -> None:
        self.region = region
        self.account_id = account_id
        self.resources: dict[str, PlannedResource] = {}
        self._lock = threading.Lock()

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        physical = next((str(args.inputs[k]) for k in _COMPUTED_NAMES if k in args.inputs), args.name)
        identity = _identity(
            args.typ, args.name, physical, dict(args.inputs), account=self.account_id, region=self.region
        )
        with self._lock:
            if args.name in self.resources:
                raise ConfigError(f"logical name {args.name!r} is declared twice ({args.typ})")
            self.resources[args.name] = PlannedResource(
                type=args.typ,
                name=args.name,
                custom=bool(args.custom),
                inputs=dict(args.inputs),
                id=identity.id,
                arn=identity.arn,
            )
        state = {**args.inputs, "id": identity.id, **identity.extra}
        if not args.typ.startswith("gcp:"):  # Google Cloud resources have no ARN output
            state["arn"] = identity.arn
        for key in _COMPUTED_NAMES:
            state.setdefault(key, physical)
        return identity.id, state

    def call(self, args: MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        if args.token == CALLER_IDENTITY:
            identity = {
                "accountId": self.account_id,
                "arn": f"arn:aws:iam::{self.account_id}:user/plan",
                "userId": "plan",
            }
            return {**identity, "id": self.account_id}, []
        if args.token == GET_REGION:
            return {"name": self.region, "region": self.region, "id": self.region}, []
        raise ConfigError(f"the program called invoke {args.token!r}; only getCallerIdentity and getRegion are allowed")


class RecordingMonitor(MockMonitor):
    """Mock monitor that keeps each registration's parent and dependencies, by logical name."""

    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(mocks)
        self.edges: dict[str, tuple[str | None, list[str]]] = {}
        self.property_edges: dict[str, dict[str, list[str]]] = {}
        self._edge_lock = threading.Lock()

    def RegisterResource(self, request: Any) -> Any:
        """Record the request's parent and dependencies, then register as the SDK's mock monitor does."""
        if request.type != "pulumi:pulumi:Stack":
            urns = set(request.dependencies)
            for deps in request.propertyDependencies.values():
                urns.update(deps.urns)
            # Children of the root stack have no component: the stack is implied.
            parent = (
                None
                if not request.parent or request.parent.endswith("pulumi:pulumi:Stack::" + _urn_name(request.parent))
                else _urn_name(request.parent)
            )
            by_property = {
                key: sorted({_urn_name(urn) for urn in deps.urns})
                for key, deps in request.propertyDependencies.items()
                if deps.urns
            }
            with self._edge_lock:
                self.edges[request.name] = (parent, sorted({_urn_name(urn) for urn in urns}))
                self.property_edges[request.name] = dict(sorted(by_property.items()))
        return super().RegisterResource(request)  # type: ignore[no-untyped-call]


@dataclass(frozen=True)
class Plan:
    """The resource graph of one stack and its resolved outputs."""

    stack: str
    resources: list[PlannedResource]
    outputs: dict[str, Any]

    def counts(self) -> dict[str, int]:
        """Number of resources per type (components included)."""
        counts: dict[str, int] = {}
        for resource in self.resources:
            counts[resource.type] = counts.get(resource.type, 0) + 1
        return dict(sorted(counts.items()))

    def to_json(self, *, full: bool = False) -> dict[str, Any]:
        """Stable, machine-readable form: resources sorted by component, then type, then name.

        ``full`` gives each resource's complete inputs (nested values and documents unabridged; JSON documents
        such as policies also parsed under ``documents``), its id and ARN as the local apply names them, and its
        dependencies per input: what a team feeds to its own scanners.
        """
        return {
            "stack": self.stack,
            "resource_count": sum(1 for r in self.resources if r.custom),
            "component_count": sum(1 for r in self.resources if not r.custom),
            "counts": self.counts(),
            "resources": [_full_entry(r) if full else _short_entry(r) for r in self.resources],
            "outputs": self.outputs,
        }


def _short_entry(resource: PlannedResource) -> dict[str, Any]:
    return {
        "type": resource.type,
        "name": resource.name,
        "component": resource.parent,
        "key_inputs": key_inputs(resource.inputs),
        "dependencies": resource.dependencies,
    }


def _full_entry(resource: PlannedResource) -> dict[str, Any]:
    inputs = plain(resource.inputs)
    entry: dict[str, Any] = {
        "type": resource.type,
        "name": resource.name,
        "custom": resource.custom,
        "component": resource.parent,
        "id": resource.id if resource.custom else None,
        "arn": resource.arn or None,
        "inputs": inputs,
        "dependencies": resource.dependencies,
        "property_dependencies": resource.property_dependencies,
    }
    documents = json_documents(inputs)
    if documents:
        entry["documents"] = documents
    return entry


SECRET = "[secret]"


def is_secret(value: Any) -> bool:
    """Whether ``value`` is a Pulumi secret as the mocks receive it (the SDK's wrapper around the value)."""
    return isinstance(value, Mapping) and value.get(rpc._special_sig_key) == rpc._special_secret_sig


def plain(value: Any) -> Any:
    """Inputs as JSON values: secrets masked (``[secret]``: a plan is printed and handed to scanners), whole
    floats (mocks deliver every number as a float) become ints, assets their kind and location; everything else
    as it is."""
    if is_secret(value):
        return SECRET
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in sorted(value.items())}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, pulumi.Asset | pulumi.Archive):
        return _asset(value)
    return value


def _asset(value: pulumi.Asset | pulumi.Archive) -> dict[str, str]:
    if isinstance(value, pulumi.FileAsset):
        return {"asset": "file", "path": str(value.path)}
    if isinstance(value, pulumi.StringAsset):
        return {"asset": "string", "text": str(value.text)}
    return {"asset": type(value).__name__}


def json_documents(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """Top-level string inputs holding a JSON object (policies, definitions, dashboards), parsed."""
    documents: dict[str, Any] = {}
    for key, value in inputs.items():
        if isinstance(value, str) and value[:1] == "{":
            try:
                documents[key] = json.loads(value)
            except json.JSONDecodeError:
                continue
    return documents


def key_inputs(inputs: dict[str, Any]) -> dict[str, Any]:
    """Top-level scalar inputs, long strings summarised; nested inputs are listed by key only."""
    shown: dict[str, Any] = {}
    for key in sorted(inputs):
        value = inputs[key]
        if isinstance(value, str) and len(value) > LONG_VALUE:
            shown[key] = f"<{len(value)} chars>"
        elif isinstance(value, float) and value.is_integer():
            shown[key] = int(value)  # mocks deliver every number as a float
        elif value is None or isinstance(value, str | int | float | bool):
            shown[key] = value
        else:
            shown[key] = f"<{type(value).__name__}>"
    return shown


def plan_stack(stack: str, repo_root: Path) -> Plan:
    """Run ``stack``'s program under recording mocks and return its graph (sorted, deterministic)."""
    from infra.config import read_stack_file

    region = read_stack_file(stack, repo_root).region
    mocks = RecordingMocks(region=region)
    monitor = RecordingMonitor(mocks)
    outputs = run_program(stack, mocks, repo_root, monitor=monitor)
    resources = []
    for name, resource in mocks.resources.items():
        parent, deps = monitor.edges.get(name, (None, []))
        resource.parent = parent
        resource.dependencies = [d for d in deps if d != parent]
        resource.property_dependencies = monitor.property_edges.get(name, {})
        resources.append(resource)
    resources.sort(key=lambda r: (r.parent or "", r.custom, r.type, r.name))
    return Plan(stack=stack, resources=resources, outputs=outputs)
