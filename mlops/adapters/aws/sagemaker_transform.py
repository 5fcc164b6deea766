"""``BatchTransform`` on SageMaker: ``CreateTransformJob`` on the version's deployed model, followed by
``DescribeTransformJob``.

The request follows the port's data contract (``SplitType=Line``, ``InputFilter``, ``JoinSource=Input``,
``AssembleWith=Line``), so the ``.out`` files have the same layout as the local runner's. Once the job completed,
its outputs are listed from the object store under the output prefix.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from mlops.adapters.aws.clients import ClientFactory
from mlops.layout import split_uri
from mlops.ports.batch_transform import (
    BatchTransformError,
    TransformJob,
    TransformJobNotFoundError,
    TransformRequest,
    TransformStatus,
)
from mlops.ports.object_store import ObjectStore


def transform_job_request(request: TransformRequest) -> dict[str, Any]:
    """``CreateTransformJob``'s arguments for ``request``."""
    return {
        "TransformJobName": request.job_name,
        "ModelName": request.model_name,
        "MaxPayloadInMB": request.max_payload_mb,
        "BatchStrategy": "MultiRecord",
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": request.input_prefix}},
            "ContentType": request.content_type,
            "SplitType": "Line",
        },
        "TransformOutput": {"S3OutputPath": request.output_prefix, "Accept": request.accept, "AssembleWith": "Line"},
        "TransformResources": {"InstanceType": request.instance_type, "InstanceCount": request.instance_count},
        "DataProcessing": {"InputFilter": f"$[{request.skip_fields}:]", "JoinSource": "Input"},
    }


class SageMakerBatchTransform:
    """``BatchTransform`` on SageMaker transform jobs; ``object_store`` lists a completed job's outputs."""

    def __init__(self, clients: ClientFactory, object_store: ObjectStore) -> None:
        self._clients = clients
        self._object_store = object_store

    def start(self, request: TransformRequest) -> TransformJob:
        try:
            created = self._clients.client("sagemaker").create_transform_job(**transform_job_request(request))
        except ClientError as exc:
            raise BatchTransformError(
                f"starting transform job {request.job_name!r} on model {request.model_name!r} failed: "
                f"{exc.response['Error']['Message']}"
            ) from exc
        return TransformJob(request.job_name, "InProgress", arn=str(created["TransformJobArn"]))

    def status(self, job_name: str) -> TransformJob:
        try:
            job = self._clients.client("sagemaker").describe_transform_job(TransformJobName=job_name)
        except ClientError as exc:
            message = exc.response["Error"]["Message"]
            if exc.response["Error"]["Code"] in ("ValidationException", "ResourceNotFound"):
                raise TransformJobNotFoundError(f"transform job {job_name!r} does not exist: {message}") from exc
            raise BatchTransformError(f"reading transform job {job_name!r} failed: {message}") from exc
        status: TransformStatus = job["TransformJobStatus"]
        outputs: tuple[str, ...] = ()
        if status == "Completed":
            scheme, bucket, prefix = split_uri(str(job["TransformOutput"]["S3OutputPath"]))
            keys = self._object_store.list_keys(bucket, prefix)
            outputs = tuple(f"{scheme}://{bucket}/{key}" for key in keys if key.endswith(".out"))
        return TransformJob(job_name, status, outputs, str(job["TransformJobArn"]), job.get("FailureReason"))
