"""IAM documents: exact statements, least privilege, no admin wildcards."""

from __future__ import annotations

import json

from infra import policies
from infra.guardrails import Violation, check_all
from infra.guardrails import identity as identity_rules
from tests.unit.infra.records import record

NETWORK = policies.NetworkPlacement(
    region="us-east-1", account_id="123456789012", subnet_ids=("subnet-a", "subnet-b"), security_group_ids=("sg-1",)
)

DEV = policies.DeployScope(account_id="123456789012", region="us-east-1", project="mlops-kit", environment="dev")


def _admin_statements(document: policies.PolicyDocument) -> list[Violation]:
    """What the IAM guardrails find in ``document`` as an inline role policy."""
    rules = {rule.name: rule for rule in identity_rules.RULES}
    return check_all([record("aws:iam/rolePolicy:RolePolicy", "p", policy=json.dumps(document))], rules)


def _sagemaker(**overrides: object) -> policies.PolicyDocument:
    kwargs: dict[str, object] = {
        "artifacts_bucket": "art",
        "account_id": "123456789012",
        "region": "us-east-1",
        "prefix": "mlops-kit-dev",
        "image_repositories": ["arn:aws:ecr:us-east-1:683313688378:repository/sagemaker-scikit-learn"],
        "network": NETWORK,
    }
    kwargs.update(overrides)
    return policies.sagemaker_policy(["features"], "models", "arn:key", **kwargs)  # type: ignore[arg-type]


def test_tls_only_policy_denies_insecure_transport_on_bucket_and_objects() -> None:
    document = policies.tls_only_bucket_policy("b")
    assert document["Statement"] == [
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    ]


def test_access_log_bucket_lets_only_s3_log_delivery_of_this_account_write() -> None:
    statement = policies.tls_only_bucket_policy("logs", log_delivery_account="123456789012")["Statement"][1]
    assert statement["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert statement["Action"] == "s3:PutObject"
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}


def test_github_trust_is_limited_to_the_repository_s_environment_not_a_branch() -> None:
    trust = policies.github_trust_policy("arn:oidc", "acme/ml", "prod")["Statement"][0]
    assert trust["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert trust["Principal"] == {"Federated": "arn:oidc"}
    assert trust["Condition"] == {
        "StringEquals": {
            "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
            "token.actions.githubusercontent.com:sub": "repo:acme/ml:environment:prod",
        }
    }


def test_start_pipeline_policy_names_one_action_on_one_pipeline() -> None:
    assert policies.start_pipeline_policy("arn:pipe")["Statement"] == [
        {"Effect": "Allow", "Action": "sagemaker:StartPipelineExecution", "Resource": "arn:pipe"}
    ]


def test_glue_policy_scopes_artifacts_to_glue_prefix() -> None:
    document = policies.glue_job_policy(["raw"], "art", "arn:key", ["arn:db"], "arn:lg", network=NETWORK)
    read_artifacts = next(s for s in document["Statement"] if s.get("Sid") == "ReadArtifacts")
    assert read_artifacts["Resource"] == ["arn:aws:s3:::art/glue/*"]
    assert _admin_statements(document) == []


def test_sagemaker_reads_only_the_dataset_definitions_of_the_artifacts_bucket() -> None:
    document = _sagemaker()
    by_sid = {s.get("Sid"): s for s in document["Statement"]}
    assert by_sid["ReadDatasetDefinitions"]["Action"] == ["s3:GetObject"]
    assert by_sid["ReadDatasetDefinitions"]["Resource"] == ["arn:aws:s3:::art/datasets/*"]
    assert by_sid["ListDatasetDefinitions"]["Condition"] == {"StringLike": {"s3:prefix": ["datasets/*"]}}
    granted = [r for s in document["Statement"] for r in s.get("Resource", []) if isinstance(r, str)]
    assert "arn:aws:s3:::art/*" not in granted


def test_no_document_grants_admin() -> None:
    documents = [
        policies.firehose_policy("arn:stream", "raw", "arn:key", "arn:logs"),
        _sagemaker(),
        policies.glue_job_policy(["raw"], "art", "arn:key", ["arn:db"], "arn:lg", network=NETWORK),
        policies.deploy_policy(DEV),
        policies.preview_policy(DEV),
        policies.workload_boundary_policy(DEV),
        policies.flow_logs_policy("arn:lg"),
        policies.assume_role_policy("glue.amazonaws.com"),
    ]
    assert [v for d in documents for v in _admin_statements(d)] == []
    key = record("aws:kms/key:Key", "k", policy=json.dumps(policies.kms_key_policy("123456789012", "us-east-1")))
    assert check_all([key], {rule.name: rule for rule in identity_rules.RULES}) == []


def test_deploy_policy_resources_come_from_the_naming_functions() -> None:
    by_sid = {s.get("Sid"): s for s in policies.deploy_policy(DEV)["Statement"]}
    assert by_sid["StackBuckets"]["Resource"] == ["arn:aws:s3:::mlops-kit-dev-*", "arn:aws:s3:::mlops-kit-dev-*/*"]
    assert "arn:aws:glue:us-east-1:123456789012:database/mlops_kit_dev" in by_sid["StackCatalogAndJobs"]["Resource"]
    assert "arn:aws:logs:us-east-1:123456789012:log-group:/mlops-kit/dev/*" in by_sid["StackLogs"]["Resource"]
    assert by_sid["StackKeyAlias"]["Resource"][0] == "arn:aws:kms:us-east-1:123456789012:alias/mlops-kit-dev"
    assert by_sid["StackImages"]["Resource"] == ["arn:aws:ecr:us-east-1:123456789012:repository/mlops-kit-dev/*"]
    allows = [s for s in policies.deploy_policy(DEV)["Statement"] if s["Effect"] == "Allow"]
    granted = [r for s in allows for r in ([s["Resource"]] if isinstance(s["Resource"], str) else s["Resource"])]
    assert not [r for r in granted if "*mlops-kit-dev*" in r], "no substring patterns: other stacks' names match"


def test_to_json_sorts_keys() -> None:
    assert policies.to_json({"b": 1, "a": 2}) == '{"a": 2, "b": 1}'


def test_ecr_pull_is_scoped_to_the_image_repositories() -> None:
    by_sid = {s.get("Sid"): s for s in _sagemaker()["Statement"]}
    assert by_sid["RegistryLogin"] == {
        "Sid": "RegistryLogin",
        "Effect": "Allow",
        "Action": "ecr:GetAuthorizationToken",
        "Resource": "*",
    }
    assert by_sid["PullImages"]["Resource"] == ["arn:aws:ecr:us-east-1:683313688378:repository/sagemaker-scikit-learn"]


def test_network_interfaces_only_in_the_stack_subnets_and_groups() -> None:
    by_sid = {s.get("Sid"): s for s in _sagemaker()["Statement"]}
    assert by_sid["AttachToPrivateSubnets"]["Resource"] == [
        "arn:aws:ec2:us-east-1:123456789012:network-interface/*",
        "arn:aws:ec2:us-east-1:123456789012:subnet/subnet-a",
        "arn:aws:ec2:us-east-1:123456789012:subnet/subnet-b",
        "arn:aws:ec2:us-east-1:123456789012:security-group/sg-1",
    ]


def test_deploy_role_passes_workload_roles_only_to_their_services_and_never_edits_itself() -> None:
    document = policies.deploy_policy(DEV)
    by_sid = {s.get("Sid"): s for s in document["Statement"]}
    assert by_sid["PassGlueRole"]["Resource"] == "arn:aws:iam::123456789012:role/mlops-kit-dev-glue-role"
    assert by_sid["PassGlueRole"]["Condition"] == {"StringEquals": {"iam:PassedToService": "glue.amazonaws.com"}}
    edits = by_sid["EditWorkloadRolesWithinTheBoundary"]
    assert "arn:aws:iam::123456789012:role/mlops-kit-dev-deploy-role" not in edits["Resource"]
    assert edits["Condition"] == {
        "StringEquals": {"iam:PermissionsBoundary": "arn:aws:iam::123456789012:policy/mlops-kit-dev-workload-boundary"}
    }
    denied = by_sid["DenyChangingTheDeployIdentity"]
    assert denied["Effect"] == "Deny"
    assert "arn:aws:iam::123456789012:role/mlops-kit-dev-deploy-role" in denied["Resource"]
    assert "arn:aws:iam::123456789012:policy/mlops-kit-dev-workload-boundary" in denied["Resource"]
    assert by_sid["CreateStackNetwork"]["Condition"] == {"StringEquals": {"aws:RequestTag/environment": "dev"}}
