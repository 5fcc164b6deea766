"""Train a dataset: start an execution of the stack's training pipeline with the dataset's parameters.

There is one training flow, the step graph of :mod:`pipelines.training.graph`, deployed as the stack's pipeline
(``outputs.training_pipeline_name``). This module only computes the parameters that point the dataset-independent
pipeline at one dataset (its feature table and definition, its model spec, the version and cutoff, hyperparameter
overrides) and starts it through ``platform.services.training``: SageMaker Pipelines on AWS, the kit's local
pipeline executor on the emulator (which runs the execution to its end before returning).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from mlops.datasets import DatasetDefinition
from mlops.errors import ConfigError, InvalidHyperparameterError
from mlops.layout import split_uri
from mlops.modeling.spec import ModelSpec, spec_parameters
from mlops.platform import Platform
from mlops.ports.training import PipelineExecution
from pipelines.training.graph import HYPERPARAMETERS
from pipelines.training.hyperparameters import SPEC_KEYS, to_strings
from pipelines.training.tracking import code_version

_PARAMETER_OF = {key: name for name, key in HYPERPARAMETERS.items()}


@dataclass(frozen=True)
class TrainingRun:
    """An execution of the training pipeline for one dataset, and the parameters it was started with."""

    dataset: str
    execution: PipelineExecution
    parameters: dict[str, str]


def definition_uri(platform: Platform, dataset: str) -> str:
    """The folder of the dataset's definition file the stack deployed (the Prepare step's input)."""
    return f"{platform.outputs.dataset_definitions_uri.rstrip('/')}/{dataset}/"


def pipeline_parameters(
    platform: Platform,
    definition: DatasetDefinition,
    *,
    version: int | None = None,
    triggered_by: str = "mlops train",
    hyperparameters: Mapping[str, str] | None = None,
    cutoff: datetime | None = None,
    min_skill: float | None = None,
) -> dict[str, str]:
    """The execution's parameters for ``definition``; a bad hyperparameter fails here, before anything starts."""
    spec = ModelSpec.from_definition(definition)
    overrides = dict(hyperparameters or {})
    for key, value in overrides.items():
        if key in SPEC_KEYS:
            raise InvalidHyperparameterError(key, value, "the model spec comes from the dataset definition")
    to_strings(spec, overrides)  # validates every override (unknown names, types, ranges)
    parameters = {
        "FeatureTableUri": platform.layout.feature_table_uri(definition.name).rstrip("/") + "/",
        "DatasetDefinitionUri": definition_uri(platform, definition.name),
        "DatasetVersion": "latest" if version is None else str(version),
        "TriggeredBy": triggered_by,
        "CodeVersion": code_version(),
    }
    parameters.update(spec_parameters(spec))
    parameters.update({_PARAMETER_OF[key]: str(value) for key, value in overrides.items()})
    if cutoff is not None:
        parameters["TrainingCutoff"] = cutoff.isoformat()
    if min_skill is not None:
        parameters["MinQualitySkill"] = repr(float(min_skill))
    return parameters


def check_definition_deployed(platform: Platform, dataset: str) -> None:
    """The pipeline reads the definition the stack deployed: say so before starting if there is none."""
    uri = definition_uri(platform, dataset)
    _, bucket, prefix = split_uri(uri)
    if not platform.services.object_store.list_keys(bucket, prefix):
        raise ConfigError(
            f"dataset {dataset!r} has no deployed definition under {uri}: the stack deploys the definitions of "
            "its datasets directory (`mlops local up`, or `pulumi up` on AWS)"
        )


def train_dataset(
    platform: Platform,
    definition: DatasetDefinition,
    *,
    version: int | None = None,
    hyperparameters: Mapping[str, str] | None = None,
    cutoff: datetime | None = None,
    min_skill: float | None = None,
    triggered_by: str = "mlops train",
) -> TrainingRun:
    """Start the training pipeline for ``definition``.

    Locally the execution has finished when this returns: Succeeded means the model passed the quality bar and was
    registered as ``challenger``; Failed names the step (``QualityBarNotMet`` when the model was not good enough).
    On AWS it returns while SageMaker runs the execution.
    """
    parameters = pipeline_parameters(
        platform,
        definition,
        version=version,
        triggered_by=triggered_by,
        hyperparameters=hyperparameters,
        cutoff=cutoff,
        min_skill=min_skill,
    )
    check_definition_deployed(platform, definition.name)
    execution = platform.services.training.start(
        platform.outputs.training_pipeline_name, parameters, display_name=f"{definition.name} {triggered_by}"
    )
    return TrainingRun(definition.name, execution, parameters)
