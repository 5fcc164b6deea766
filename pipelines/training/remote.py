"""Training on AWS: start the stack's SageMaker Pipeline for one dataset.

On the emulator `mlops train` runs the steps itself (the local training runner plays SageMaker); on AWS the same
steps run as the pipeline the infra program deployed (`outputs.training_pipeline_name`). The pipeline definition
is dataset-independent: this module passes the dataset's feature table, its definition file and its model spec
as pipeline parameters, so one deployed pipeline trains any defined dataset.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from botocore.exceptions import ClientError

from mlops.datasets import DatasetDefinition
from mlops.errors import MlopsError
from mlops.local.platform import Platform
from mlops.modeling.spec import ModelSpec
from mlops.outputs import StackOutputs
from pipelines.lake.delta import table_uri
from pipelines.training.pipeline_definition import SPEC_DEFAULTS


class PipelineStartError(MlopsError):
    """The training pipeline could not be started; the message names the pipeline and the cause."""


@dataclass(frozen=True)
class PipelineRun:
    pipeline: str
    execution_arn: str
    parameters: dict[str, str]


def pipeline_parameters(
    definition: DatasetDefinition, outputs: StackOutputs, version: int | None, triggered_by: str
) -> dict[str, str]:
    """The execution's parameters for ``definition``: where its data and definition are, and its model spec."""
    spec = ModelSpec.from_definition(definition)
    parameters = {
        "FeatureTableUri": table_uri(outputs.bucket_for_zone("features"), definition.name).rstrip("/") + "/",
        "DatasetDefinitionUri": f"{outputs.dataset_definitions_uri.rstrip('/')}/{definition.name}/",
        "DatasetVersion": "latest" if version is None else str(version),
        "TriggeredBy": triggered_by,
    }
    for name, (field, _) in SPEC_DEFAULTS.items():
        value = getattr(spec, field)
        parameters[name] = ",".join(value) if isinstance(value, tuple) else str(value)
    return parameters


def start_training_pipeline(
    platform: Platform, definition: DatasetDefinition, version: int | None = None, triggered_by: str = "mlops train"
) -> PipelineRun:
    """Start one execution of the stack's training pipeline for ``definition``; returns its ARN."""
    pipeline = platform.outputs.training_pipeline_name
    parameters = pipeline_parameters(definition, platform.outputs, version, triggered_by)
    try:
        response = platform.clients.client("sagemaker").start_pipeline_execution(
            PipelineName=pipeline,
            # display names allow letters, digits and single hyphens only
            PipelineExecutionDisplayName=re.sub(r"[^a-zA-Z0-9]+", "-", f"{definition.name} {triggered_by}")[:82],
            PipelineParameters=[{"Name": k, "Value": v} for k, v in sorted(parameters.items())],
        )
    except ClientError as exc:
        raise PipelineStartError(
            f"training pipeline {pipeline!r} could not be started for {definition.name!r}: {exc}"
        ) from exc
    return PipelineRun(pipeline, str(response["PipelineExecutionArn"]), parameters)
