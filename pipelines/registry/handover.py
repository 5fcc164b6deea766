"""Promotion across stacks (across accounts on AWS): the version one stack's gate passed, handed to the next stack.

A model reaches staging or prod only after passing the gate of the environment before it, and each environment
keeps its own registry and buckets. So the handover copies the version's artifact (``model.tar.gz``) and holdout
into the target stack's buckets under the same keys, and registers the model in the target's registry through the
one registration every training performs (MLflow version + model package in the target's package group, as
``challenger``, with the version's drift-check baseline). The target's own gate
(:func:`pipelines.registry.promotion.promote`) then decides, on the copied holdout, whether it becomes champion
there. The new version records where it came from (``promoted_from``, ``source_model_package``), and handing the
same source version over twice registers nothing new.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops.contracts import CHALLENGER, CHAMPION
from mlops.errors import RegistryError
from mlops.layout import evaluation_key, split_uri
from mlops.outputs import StackOutputs
from mlops.platform import Platform
from mlops.ports.model_registry import ModelVersionInfo, RegistrationRequest
from mlops.registry.service import BASELINE_TAGS
from pipelines.training.register_step import ARTIFACT, unpack_model

PROMOTED_FROM_TAG = "promoted_from"
"""``<stack>/v<version>``: the source registry's version this one was handed over from."""
SOURCE_PACKAGE_TAG = "source_model_package"
"""The source model package's ARN (the same model, one stack earlier)."""
_HANDED_LINEAGE = ("dataset_version", "training_job", "code_version", "pipeline_execution")


@dataclass(frozen=True)
class Handover:
    """Where a version came from and where it was registered in the target stack."""

    dataset: str
    source_stack: str
    source_version: int
    source_package_arn: str
    target_stack: str
    target_version: int
    target_package_arn: str
    model_artifact: str
    holdout_uri: str
    registered: bool
    """False when the target already held this source version (nothing was copied or registered)."""


def hand_over(source: Platform, target: Platform, dataset: str, alias: str = CHAMPION) -> Handover:
    """Copy ``dataset``'s ``alias`` version of ``source`` into ``target`` and register it there as challenger.

    ``source`` reads as the caller chose (``mlops.wiring.promotion_source_platform``: through the source stack's
    promotion reader role across accounts); this code only reads from it and writes to ``target``."""
    source_stack, target_stack = source.outputs.stack, target.outputs.stack
    if source_stack == target_stack:
        raise RegistryError(f"handing model {dataset!r} over from stack {source_stack!r} to itself")
    version = source.services.model_registry.version(dataset, alias)
    already = _handed_before(target, version)
    if already is not None:
        return _outcome(source_stack, version, target_stack, already, registered=False)
    artifact = copy_location(source, target, _tag(version, source_stack, "model_artifact"))
    holdout = copy_location(source, target, _tag(version, source_stack, "holdout_uri"))
    with tempfile.TemporaryDirectory() as tmp:
        request = _request(source, target, version, artifact=artifact, holdout=holdout, tmp=Path(tmp))
        target.services.model_registry.register(request)
    registered = target.services.model_registry.version(dataset, CHALLENGER)
    return _outcome(source_stack, version, target_stack, registered, registered=True)


def copy_location(source: Platform, target: Platform, uri: str) -> str:
    """Copy what ``uri`` names in one of the source stack's buckets - an object, or every object under a prefix
    (a holdout is a directory of Parquet parts) - to the same keys of the target stack's bucket of the same zone;
    returns the URI there."""
    _, bucket, key = split_uri(uri)
    objects, target_bucket = source.services.object_store, target.layout.bucket(zone_of_bucket(source.outputs, bucket))
    keys = [key] if key and not key.endswith("/") and objects.exists(bucket, key) else objects.list_keys(bucket, key)
    if not keys:
        raise RegistryError(f"nothing to copy at {uri} (stack {source.outputs.stack!r})")
    for each in keys:
        target.services.object_store.put(target_bucket, each, objects.get(bucket, each))
    return target.layout.uri(target_bucket, key)


def zone_of_bucket(outputs: StackOutputs, bucket: str) -> str:
    """The data-lake zone whose bucket is ``bucket`` in ``outputs``; an error names the bucket and the stack."""
    for field_name in type(outputs).model_fields:
        if field_name.endswith("_bucket") and getattr(outputs, field_name) == bucket:
            return field_name.removesuffix("_bucket")
    raise RegistryError(f"bucket {bucket!r} is none of stack {outputs.stack!r}'s data-lake buckets")


def _tag(version: ModelVersionInfo, stack: str, key: str) -> str:
    value = version.tags.get(key)
    if not value:
        raise RegistryError(f"model {version.name!r} v{version.version} of stack {stack!r} records no {key!r} tag")
    return value


def _handed_before(target: Platform, version: ModelVersionInfo) -> ModelVersionInfo | None:
    return next(
        (
            known
            for known in target.services.model_registry.versions(version.name)
            if known.tags.get(SOURCE_PACKAGE_TAG) == version.model_package_arn
        ),
        None,
    )


def _request(
    source: Platform, target: Platform, version: ModelVersionInfo, *, artifact: str, holdout: str, tmp: Path
) -> RegistrationRequest:
    """The registration of the copied model: the source's model, figures and lineage, the target's locations."""
    (tmp / "archive").mkdir()
    _, bucket, key = split_uri(artifact)
    target.services.object_store.download_file(bucket, key, tmp / "archive" / ARTIFACT)
    model_dir, job_summary = unpack_model(tmp / "archive", tmp / "model")
    job_name = _tag(version, source.outputs.stack, "training_job")
    summary = _registered_summary(source, job_name) or job_summary
    image = target.outputs.image_uris.get("serving")
    if not image:
        raise RegistryError(f"stack {target.outputs.stack!r} exports no serving image (image_uris.serving)")
    lineage = {key: version.tags[key] for key in _HANDED_LINEAGE if version.tags.get(key)}
    return RegistrationRequest(
        dataset=version.name,
        job_name=job_name,
        job_arn=version.model_package_arn,  # the package's GeneratedBy: the same model, one stack earlier
        model_dir=model_dir,
        model_artifact=artifact,
        image=image,
        hyperparameters={str(k): str(v) for k, v in job_summary.get("hyperparameters", {}).items()},
        metrics={str(k): float(v) for k, v in job_summary.get("job_metrics", {}).items()},
        summary=summary,
        baseline=_baseline(source, version),
        lineage={
            **lineage,
            "holdout_uri": holdout,
            "model_artifact": artifact,
            PROMOTED_FROM_TAG: f"{source.outputs.stack}/v{version.version}",
            SOURCE_PACKAGE_TAG: version.model_package_arn,
        },
    )


def _baseline(source: Platform, version: ModelVersionInfo) -> dict[str, Any]:
    """The version's drift-check baseline files (``statistics.json``, ``constraints.json``), read from the source
    stack: the target registration stores them in its own bucket and names them on its package."""
    files: dict[str, Any] = {}
    for name, tag in BASELINE_TAGS.items():
        uri = version.tags.get(tag)
        if uri:
            _, bucket, key = split_uri(uri)
            files[f"{name}.json"] = json.loads(source.services.object_store.get(bucket, key))
    return files


def _registered_summary(source: Platform, job_name: str) -> dict[str, Any] | None:
    """The report the source registration stored (the job's metrics with its evaluation), when it is there."""
    bucket, key = source.layout.bucket("models"), evaluation_key(job_name)
    if not source.services.object_store.exists(bucket, key):
        return None
    loaded: dict[str, Any] = json.loads(source.services.object_store.get(bucket, key))
    return loaded


def _outcome(
    source_stack: str, version: ModelVersionInfo, target_stack: str, handed: ModelVersionInfo, *, registered: bool
) -> Handover:
    return Handover(
        dataset=version.name,
        source_stack=source_stack,
        source_version=version.version,
        source_package_arn=version.model_package_arn,
        target_stack=target_stack,
        target_version=handed.version,
        target_package_arn=handed.model_package_arn,
        model_artifact=handed.tags.get("model_artifact", ""),
        holdout_uri=handed.tags.get("holdout_uri", ""),
        registered=registered,
    )
