"""The grants of the cross-stack promotion (``mlops release promote D --from-stack S``, deploy.yml in staging and
prod): what the next stack's deploy role reads of the previous stack, as pure policy statements.

A promotion reads, with the next stack's deploy role, the version the previous stack's gate passed: its artifact
(the training job's ``model.tar.gz`` under the models bucket's training output), its drift baseline and
evaluation report (``training-jobs/<job>/output/``, models bucket), its holdout (the validation channel, features
bucket), its registry entry (MLflow on the tracking server, and the model package it names) and the key that
encrypts those objects (through S3 only). It writes only into its own stack. Across accounts both sides must
allow a read: the next stack's deploy policy (:func:`source_reads`) and the previous stack's resource policies
(:func:`bucket_grants`, :func:`key_grant`, :func:`package_group_policy`), each naming the other side by the same
naming functions the components use.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from infra import naming
from infra.naming import HOLDOUT_PREFIX, TRAINING_OUTPUT_PREFIX, s3_arn
from mlops.layout import training_job_prefix

READ_PREFIXES: dict[str, tuple[str, ...]] = {
    "models": (TRAINING_OUTPUT_PREFIX, training_job_prefix("")),
    "features": (HOLDOUT_PREFIX,),
}
"""What a promotion reads of the previous stack's buckets, by zone (key prefixes)."""

MLFLOW_READ_ACTIONS: tuple[str, ...] = (
    "sagemaker-mlflow:GetRegisteredModel",
    "sagemaker-mlflow:GetModelVersion",
    "sagemaker-mlflow:GetModelVersionByAlias",
    "sagemaker-mlflow:SearchModelVersions",
    "sagemaker-mlflow:GetRun",
)
"""The registry reads of the promotion: the version an alias names, its tags, its run's metrics."""

PROMOTION_READER = "promotion-reader"
"""Purpose of the previous stack's role the next stack's deploy role assumes (``<prefix>-promotion-reader-role``)."""

MLFLOW_ARTIFACT_PREFIX = "mlflow/"
"""Where the tracking server keeps run and model artifacts in the models bucket (:func:`naming.mlflow_artifact_uri`)."""

PACKAGE_READ_ACTIONS: tuple[str, ...] = (
    "sagemaker:DescribeModelPackage",
    "sagemaker:DescribeModelPackageGroup",
    "sagemaker:ListModelPackages",
)
"""The registry reads of the promotion on the previous stack's model package group and its packages."""


@dataclass(frozen=True)
class PromotionPeer:
    """The stack on the other side of a promotion: its environment and its account (``None``: the same account
    as this stack)."""

    environment: str
    account_id: str | None = None


@dataclass(frozen=True)
class PromotionLink:
    """One promotion, resolved: the stack whose gate passed the version, the stack receiving it, their accounts."""

    project: str
    region: str
    source: str
    source_account: str
    target: str
    target_account: str

    @property
    def reader_role_arn(self) -> str:
        """The next stack's deploy role: the one principal the previous stack grants the reads to."""
        return f"arn:aws:iam::{self.target_account}:role/{naming.role_name(self.project, self.target, 'deploy')}"

    @property
    def promotion_reader_arn(self) -> str:
        """The previous stack's promotion reader role, which the next stack's deploy role assumes to read MLflow
        (SageMaker's managed tracking server takes no resource policy, so no cross-account grant can name it)."""
        name = naming.role_name(self.project, self.source, PROMOTION_READER)
        return f"arn:aws:iam::{self.source_account}:role/{name}"

    @property
    def tracking_server_arn(self) -> str:
        return self.sagemaker_arn(
            f"mlflow-tracking-server/{naming.sagemaker_name(self.project, self.source, 'mlflow')}"
        )

    def bucket(self, zone: str) -> str:
        return naming.bucket_name(self.project, self.source, zone, self.source_account)

    @property
    def source_key_arns(self) -> str:
        return f"arn:aws:kms:{self.region}:{self.source_account}:key/*"

    @property
    def package_group_name(self) -> str:
        return naming.sagemaker_name(self.project, self.source, "models")

    def sagemaker_arn(self, resource: str) -> str:
        return f"arn:aws:sagemaker:{self.region}:{self.source_account}:{resource}"

    @property
    def s3_via(self) -> str:
        return f"s3.{self.region}.amazonaws.com"


def _object_arns(link: PromotionLink, zone: str) -> list[str]:
    return [s3_arn(link.bucket(zone), f"{prefix}*") for prefix in READ_PREFIXES[zone]]


def _s3_reads(link: PromotionLink, zone: str, principal: dict[str, Any] | None, sid: str) -> list[dict[str, Any]]:
    """List the zone's bucket under the read prefixes only, and get the objects there (HeadObject included)."""
    who = {"Principal": principal} if principal is not None else {}
    return [
        {
            "Sid": f"{sid}List",
            "Effect": "Allow",
            **who,
            "Action": "s3:ListBucket",
            "Resource": s3_arn(link.bucket(zone)),
            "Condition": {"StringLike": {"s3:prefix": [f"{prefix}*" for prefix in READ_PREFIXES[zone]]}},
        },
        {"Sid": f"{sid}Get", "Effect": "Allow", **who, "Action": "s3:GetObject", "Resource": _object_arns(link, zone)},
    ]


def source_reads(link: PromotionLink) -> list[dict[str, Any]]:
    """The next stack's deploy policy: read the previous stack's promoted version, nothing else of it."""
    statements: list[dict[str, Any]] = []
    for zone in READ_PREFIXES:
        statements += _s3_reads(link, zone, None, f"PromotionSource{zone.title()}")
    prefix = naming.prefix(link.project, link.source)
    return [
        *statements,
        {
            "Sid": "PromotionSourceKey",
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": link.source_key_arns,
            "Condition": {"StringEquals": {"kms:ViaService": link.s3_via, "aws:ResourceTag/environment": link.source}},
        },
        {
            "Sid": "PromotionSourcePackages",
            "Effect": "Allow",
            "Action": list(PACKAGE_READ_ACTIONS),
            "Resource": [
                link.sagemaker_arn(f"model-package-group/{link.package_group_name}"),
                link.sagemaker_arn(f"model-package/{link.package_group_name}/*"),
            ],
        },
        {
            "Sid": "PromotionSourceRegistry",
            "Effect": "Allow",
            "Action": list(MLFLOW_READ_ACTIONS),
            "Resource": link.sagemaker_arn(f"mlflow-tracking-server/{prefix}-*"),
        },
        {
            "Sid": "PromotionSourceReader",
            "Effect": "Allow",
            "Action": "sts:AssumeRole",
            "Resource": link.promotion_reader_arn,
        },
    ]


def reader_trust(link: PromotionLink) -> dict[str, Any]:
    """The promotion reader's trust policy: the next stack's deploy role, and no one else, assumes it."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": f"PromotionTo{link.target.title()}Assumes",
                "Effect": "Allow",
                "Principal": {"AWS": link.reader_role_arn},
                "Action": "sts:AssumeRole",
            }
        ],
    }


def reader_policy(link: PromotionLink) -> dict[str, Any]:
    """What the promotion reader may do in the previous stack: the MLflow reads on its tracking server, and what
    those reads lead to: the model package a version names (described), the promoted version's artifact,
    holdout, baseline and report, and the tracking server's artifact store, decrypted through S3 only. It
    writes nothing."""
    models = link.bucket("models")
    artifacts = [s3_arn(models, f"{MLFLOW_ARTIFACT_PREFIX}*")]
    statements: list[dict[str, Any]] = []
    for zone in READ_PREFIXES:
        statements += _s3_reads(link, zone, None, f"Read{zone.title()}")
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Registry",
                "Effect": "Allow",
                "Action": list(MLFLOW_READ_ACTIONS),
                "Resource": link.tracking_server_arn,
            },
            {
                # a registry version names its model package; reading the version describes it
                "Sid": "DescribePackages",
                "Effect": "Allow",
                "Action": "sagemaker:DescribeModelPackage",
                "Resource": link.sagemaker_arn(f"model-package/{link.package_group_name}/*"),
            },
            *statements,
            {
                "Sid": "ListTrackingArtifacts",
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": s3_arn(models),
                "Condition": {"StringLike": {"s3:prefix": [f"{MLFLOW_ARTIFACT_PREFIX}*"]}},
            },
            {"Sid": "ReadTrackingArtifacts", "Effect": "Allow", "Action": "s3:GetObject", "Resource": artifacts},
            {
                "Sid": "DecryptThroughS3",
                "Effect": "Allow",
                "Action": "kms:Decrypt",
                "Resource": link.source_key_arns,
                "Condition": {
                    "StringEquals": {"kms:ViaService": link.s3_via, "aws:ResourceTag/environment": link.source}
                },
            },
        ],
    }


def bucket_grants(link: PromotionLink, zone: str) -> list[dict[str, Any]]:
    """The previous stack's bucket policy statements of ``zone``'s bucket: the reads, to the next deploy role."""
    if zone not in READ_PREFIXES:
        return []
    sid = f"PromotionTo{link.target.title()}"
    return _s3_reads(link, zone, {"AWS": link.reader_role_arn}, sid)


def key_grant(link: PromotionLink) -> dict[str, Any]:
    """The previous stack's key policy statement: the next deploy role decrypts through S3 only (the objects it
    reads), never directly."""
    return {
        "Sid": f"PromotionTo{link.target.title()}Decrypts",
        "Effect": "Allow",
        "Principal": {"AWS": link.reader_role_arn},
        "Action": "kms:Decrypt",
        "Resource": "*",
        "Condition": {"StringEquals": {"kms:ViaService": link.s3_via}},
    }


def package_group_policy(link: PromotionLink) -> dict[str, Any]:
    """The previous stack's model package group resource policy (``PutModelPackageGroupPolicy``): the next
    deploy role describes the group and its packages."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": f"PromotionTo{link.target.title()}DescribesPackages",
                "Effect": "Allow",
                "Principal": {"AWS": link.reader_role_arn},
                "Action": list(PACKAGE_READ_ACTIONS),
                "Resource": [
                    link.sagemaker_arn(f"model-package-group/{link.package_group_name}"),
                    link.sagemaker_arn(f"model-package/{link.package_group_name}/*"),
                ],
            }
        ],
    }


def link(project: str, region: str, *, source: PromotionPeer, target: PromotionPeer, account_id: str) -> PromotionLink:
    """The promotion from ``source`` to ``target`` as seen by a stack of account ``account_id`` (a peer without
    an account is in that one)."""
    return PromotionLink(
        project=project,
        region=region,
        source=source.environment,
        source_account=source.account_id or account_id,
        target=target.environment,
        target_account=target.account_id or account_id,
    )


def promotion_peer(environment: str | None, account_id: str | None) -> PromotionPeer | None:
    """The peer a stack's config declares (``promotionSource``/``promotionTarget`` and its account), if any."""
    return PromotionPeer(environment, account_id) if environment else None
