"""Where work runs: SageMaker endpoints, models and the pipeline's jobs (read from the rendered definition, where
resource scanners cannot see them), and Glue jobs: in the VPC or isolated, encrypted with the stack's key."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from infra.guardrails.model import STACK, Declared, Rule, Violation, as_list, nested, of, parse_json, refers, value

ENDPOINT_CONFIG = "aws:sagemaker/endpointConfiguration:EndpointConfiguration"
MODEL = "aws:sagemaker/model:Model"
PIPELINE = "aws:sagemaker/pipeline:Pipeline"
GLUE_JOB = "aws:glue/job:Job"
GLUE_SECURITY = "aws:glue/securityConfiguration:SecurityConfiguration"
GLUE_CONNECTION = "aws:glue/connection:Connection"
GLUE_CATALOG_ENCRYPTION = "aws:glue/dataCatalogEncryptionSettings:DataCatalogEncryptionSettings"
GLUE_CATALOG_TYPES = ("aws:glue/catalogDatabase:CatalogDatabase", "aws:glue/catalogTable:CatalogTable", GLUE_JOB)
UNBOUND = "bound-by-infra"


# --- the pipeline definition ------------------------------------------------------------------------------


def pipeline_steps(document: Any) -> Iterator[Mapping[str, Any]]:
    """Every step of a SageMaker pipeline definition, those inside condition steps too."""
    pending = list(as_list(nested(document, "Steps")))
    while pending:
        step = pending.pop(0)
        if not isinstance(step, Mapping):
            continue
        yield step
        arguments = step.get("Arguments") or {}
        pending.extend(as_list(nested(arguments, "IfSteps")))
        pending.extend(as_list(nested(arguments, "ElseSteps")))


def resolve(item: Any, parameters: Mapping[str, Any]) -> Any:
    """A step argument as the execution would see it by default: ``{"Get": "Parameters.X"}`` gives X's default
    value; other expressions (``Std:Join``, step properties) count as given; literals stay."""
    if isinstance(item, Mapping) and str(item.get("Get", "")).startswith("Parameters."):
        return parameters.get(str(item["Get"]).removeprefix("Parameters."))
    return item


def _given(item: Any, parameters: Mapping[str, Any]) -> bool:
    resolved = resolve(item, parameters)
    return resolved not in (None, "", UNBOUND, [], {})


def _definitions(resources: Sequence[Declared]) -> Iterator[tuple[Declared, dict[str, Any], Mapping[str, Any]]]:
    """(pipeline, default parameter values, step) for every step of every pipeline."""
    for pipeline in of(resources, PIPELINE):
        document = parse_json(value(pipeline, "pipelineDefinition"))
        defaults = {
            str(p.get("Name")): p.get("DefaultValue")
            for p in as_list(nested(document, "Parameters"))
            if isinstance(p, Mapping)
        }
        for step in pipeline_steps(document):
            yield pipeline, defaults, step


def _step(pipeline: Declared, step: Mapping[str, Any]) -> str:
    return f"{pipeline.name}/{step.get('Name')}"


def pipeline_encryption(resources: Sequence[Declared]) -> Iterator[Violation]:
    rule = "sagemaker-pipeline-encryption"
    for pipeline, defaults, step in _definitions(resources):
        args = step.get("Arguments") or {}
        kind = step.get("Type")
        if kind == "Processing" and not _given(
            nested(args, "ProcessingResources", "ClusterConfig", "VolumeKmsKeyId"), defaults
        ):
            yield Violation(rule, _step(pipeline, step), "processing volume without VolumeKmsKeyId")
        if kind == "Processing" and not _given(nested(args, "ProcessingOutputConfig", "KmsKeyId"), defaults):
            yield Violation(rule, _step(pipeline, step), "processing output without KmsKeyId")
        if kind == "Training" and not _given(nested(args, "ResourceConfig", "VolumeKmsKeyId"), defaults):
            yield Violation(rule, _step(pipeline, step), "training volume without VolumeKmsKeyId")
        if kind == "Training" and not _given(nested(args, "OutputDataConfig", "KmsKeyId"), defaults):
            yield Violation(rule, _step(pipeline, step), "training output without KmsKeyId")
        if kind == "Transform" and not _given(nested(args, "TransformResources", "VolumeKmsKeyId"), defaults):
            yield Violation(rule, _step(pipeline, step), "transform volume without VolumeKmsKeyId")
        if kind == "Transform" and not _given(nested(args, "TransformOutput", "KmsKeyId"), defaults):
            yield Violation(rule, _step(pipeline, step), "transform output without KmsKeyId")


def _placed(vpc: Any, isolated: Any, defaults: Mapping[str, Any]) -> bool:
    """In private subnets with a security group, or without any network at all."""
    subnets = [s for s in as_list(nested(vpc, "Subnets")) if _given(s, defaults)]
    groups = [g for g in as_list(nested(vpc, "SecurityGroupIds")) if _given(g, defaults)]
    return bool(subnets and groups) or resolve(isolated, defaults) is True


def pipeline_network(resources: Sequence[Declared]) -> Iterator[Violation]:
    rule = "sagemaker-pipeline-network"
    for pipeline, defaults, step in _definitions(resources):
        args = step.get("Arguments") or {}
        kind = step.get("Type")
        network = args.get("NetworkConfig") or {}
        if kind == "Processing" and not _placed(
            network.get("VpcConfig"), network.get("EnableNetworkIsolation"), defaults
        ):
            yield Violation(rule, _step(pipeline, step), "processing job neither in the VPC nor isolated")
        if kind == "Training" and not _placed(args.get("VpcConfig"), args.get("EnableNetworkIsolation"), defaults):
            yield Violation(rule, _step(pipeline, step), "training job neither in the VPC nor isolated")
        if kind == "Model" and not _placed(args.get("VpcConfig"), args.get("EnableNetworkIsolation"), defaults):
            yield Violation(rule, _step(pipeline, step), "model neither in the VPC nor isolated")


def pipeline_transit(resources: Sequence[Declared]) -> Iterator[Violation]:
    rule = "sagemaker-pipeline-inter-container-encryption"
    for pipeline, defaults, step in _definitions(resources):
        args = step.get("Arguments") or {}
        kind = step.get("Type")
        if kind == "Training" and resolve(args.get("EnableInterContainerTrafficEncryption"), defaults) is not True:
            yield Violation(rule, _step(pipeline, step), "training nodes talk unencrypted")
        processing = nested(args, "NetworkConfig", "EnableInterContainerTrafficEncryption")
        if kind == "Processing" and resolve(processing, defaults) is not True:
            yield Violation(rule, _step(pipeline, step), "processing nodes talk unencrypted")


# --- hosting ----------------------------------------------------------------------------------------------


def endpoint_encryption(resources: Sequence[Declared]) -> Iterator[Violation]:
    rule = "sagemaker-endpoint-encryption"
    for config in of(resources, ENDPOINT_CONFIG):
        capture = value(config, "dataCaptureConfig") or {}
        if not value(config, "kmsKeyArn"):
            yield Violation(rule, config.name, "no kmsKeyArn for instance storage")
        if capture and not capture.get("kmsKeyId"):
            yield Violation(rule, config.name, "data capture not KMS-encrypted")


def model_network(resources: Sequence[Declared]) -> Iterator[Violation]:
    rule = "sagemaker-model-network"
    for model in of(resources, MODEL):
        vpc = value(model, "vpcConfig") or {}
        if not vpc.get("subnets"):
            yield Violation(rule, model.name, "not in the stack's private subnets")
        if not vpc.get("securityGroupIds"):
            yield Violation(rule, model.name, "no security group")


# A model that must reach a service (the online feature store, the tracking server) says why in this tag; it
# still runs in the stack's private subnets (sagemaker-model-network), reaching AWS through VPC endpoints only.
NETWORK_ACCESS_TAG = "mlops:network-access"


def model_isolation(resources: Sequence[Declared]) -> Iterator[Violation]:
    for model in of(resources, MODEL):
        if value(model, "enableNetworkIsolation") is True:
            continue
        reason = str((value(model, "tags") or {}).get(NETWORK_ACCESS_TAG, "")).strip()
        if not reason:
            yield Violation(
                "sagemaker-model-isolation",
                model.name,
                f"container may make network calls and no {NETWORK_ACCESS_TAG} tag says why",
            )


# --- Glue -------------------------------------------------------------------------------------------------


def _declared_as(resources: Sequence[Declared], type_token: str, job: Declared, key: str, name: Any) -> bool:
    return any(refers(job, key, r) or value(r, "name") == name for r in of(resources, type_token))


def glue_job_security(resources: Sequence[Declared]) -> Iterator[Violation]:
    rule = "glue-job-security-configuration"
    for job in of(resources, GLUE_JOB):
        name = value(job, "securityConfiguration")
        if not name:
            yield Violation(rule, job.name, "no security configuration (S3, logs, bookmarks unencrypted)")
        elif not _declared_as(resources, GLUE_SECURITY, job, "securityConfiguration", name):
            yield Violation(rule, job.name, f"security configuration {name!r} is not declared by the stack")


def glue_security_kms(resources: Sequence[Declared]) -> Iterator[Violation]:
    rule = "glue-security-configuration-kms"
    for config in of(resources, GLUE_SECURITY):
        encryption = value(config, "encryptionConfiguration") or {}
        s3 = encryption.get("s3Encryption") or {}
        logs = encryption.get("cloudwatchEncryption") or {}
        bookmarks = encryption.get("jobBookmarksEncryption") or {}
        if s3.get("s3EncryptionMode") != "SSE-KMS" or not s3.get("kmsKeyArn"):
            yield Violation(rule, config.name, "job output in S3 not SSE-KMS with the stack's key")
        if logs.get("cloudwatchEncryptionMode") != "SSE-KMS" or not logs.get("kmsKeyArn"):
            yield Violation(rule, config.name, "job logs not SSE-KMS with the stack's key")
        if bookmarks.get("jobBookmarksEncryptionMode") != "CSE-KMS" or not bookmarks.get("kmsKeyArn"):
            yield Violation(rule, config.name, "job bookmarks not CSE-KMS with the stack's key")


def glue_catalog_encryption(resources: Sequence[Declared]) -> Iterator[Violation]:
    rule = "glue-catalog-encryption"
    settings = of(resources, GLUE_CATALOG_ENCRYPTION)
    if of(resources, *GLUE_CATALOG_TYPES) and not settings:
        yield Violation(rule, STACK, "the Data Catalog's encryption settings are not declared")
    for setting in settings:
        at_rest = nested(setting.inputs, "dataCatalogEncryptionSettings", "encryptionAtRest") or {}
        passwords = nested(setting.inputs, "dataCatalogEncryptionSettings", "connectionPasswordEncryption") or {}
        if at_rest.get("catalogEncryptionMode") != "SSE-KMS" or not at_rest.get("sseAwsKmsKeyId"):
            yield Violation(rule, setting.name, "catalog metadata not SSE-KMS with the stack's key")
        if passwords.get("returnConnectionPasswordEncrypted") is not True or not passwords.get("awsKmsKeyId"):
            yield Violation(rule, setting.name, "connection passwords not encrypted with the stack's key")


def _network_connection(connection: Declared) -> bool:
    physical = value(connection, "physicalConnectionRequirements") or {}
    return bool(physical.get("subnetId") and physical.get("securityGroupIdLists"))


def glue_job_network(resources: Sequence[Declared]) -> Iterator[Violation]:
    rule = "glue-job-network"
    connections = of(resources, GLUE_CONNECTION)
    for job in of(resources, GLUE_JOB):
        named = [str(n) for n in as_list(value(job, "connections"))]
        placed = [
            c
            for c in connections
            if (value(c, "name") in named or refers(job, "connections", c)) and _network_connection(c)
        ]
        if not named:
            yield Violation(rule, job.name, "no connection: the job runs outside the stack's VPC")
        elif not placed:
            yield Violation(rule, job.name, "none of its connections places it in a subnet with a security group")


def glue_job_logging(resources: Sequence[Declared]) -> Iterator[Violation]:
    for job in of(resources, GLUE_JOB):
        arguments = value(job, "defaultArguments") or {}
        if str(arguments.get("--enable-continuous-cloudwatch-log", "")).lower() != "true":
            yield Violation("glue-job-logging", job.name, "continuous CloudWatch logging is off")


RULES: tuple[Rule, ...] = (
    Rule(
        "sagemaker-pipeline-encryption",
        "encryption",
        "Every job of the pipeline definition encrypts its volumes and outputs with a KMS key "
        "(VolumeKmsKeyId, KmsKeyId).",
        pipeline_encryption,
    ),
    Rule(
        "sagemaker-pipeline-network",
        "network",
        "Every job and model of the pipeline definition runs in the VPC (subnets and security groups) or isolated.",
        pipeline_network,
    ),
    Rule(
        "sagemaker-pipeline-inter-container-encryption",
        "encryption-in-transit",
        "Training and processing jobs of the pipeline encrypt traffic between their instances.",
        pipeline_transit,
    ),
    Rule(
        "sagemaker-endpoint-encryption",
        "encryption",
        "Endpoint configurations encrypt instance storage and captured data with a KMS key.",
        endpoint_encryption,
    ),
    Rule("sagemaker-model-network", "network", "Models run in private subnets with a security group.", model_network),
    Rule(
        "sagemaker-model-isolation",
        "network",
        "Models run network-isolated, or say in their tags why they need the network.",
        model_isolation,
    ),
    Rule(
        "glue-job-security-configuration",
        "encryption",
        "Every Glue job runs with a security configuration the stack declares.",
        glue_job_security,
    ),
    Rule(
        "glue-security-configuration-kms",
        "encryption",
        "Glue security configurations encrypt S3 output, logs (SSE-KMS) and bookmarks (CSE-KMS) with a key.",
        glue_security_kms,
    ),
    Rule(
        "glue-catalog-encryption",
        "encryption",
        "The Data Catalog encrypts metadata and connection passwords with a KMS key.",
        glue_catalog_encryption,
    ),
    Rule(
        "glue-job-network",
        "network",
        "Every Glue job runs in the VPC through a connection with a subnet and security groups.",
        glue_job_network,
    ),
    Rule("glue-job-logging", "logging", "Glue jobs log continuously to CloudWatch.", glue_job_logging),
)
