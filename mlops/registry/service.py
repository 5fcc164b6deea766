"""``ModelRegistry`` on MLflow (versions, aliases, lineage tags) plus the cloud's model packages, kept in step.

Registration order: MLflow run (params, metrics, tags, the model from ``request.model_dir``) -> registered version
-> quality report in the models zone -> model package -> version tags (lineage, stage, package ARN) -> the
``challenger`` alias, last. Any failure before the alias is set takes the earlier steps back (the version is
deleted, the package Rejected/Archived) and the run ends FAILED, so an alias never names a half-registered version.

Promotion and rollback change the packages first (the cloud registry is the side more likely to refuse: IAM,
throttling), then the version tags, and move the ``champion`` alias last; a failure takes back what was done.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mlops.contracts import CHALLENGER, CHAMPION
from mlops.layout import Layout, baseline_key, evaluation_key
from mlops.ports.model_packages import Approval, ModelPackage, ModelPackageRegistry, Stage
from mlops.ports.model_registry import (
    ModelNotFoundError,
    ModelVersionInfo,
    Registration,
    RegistrationConflictError,
    RegistrationRequest,
)
from mlops.ports.object_store import ObjectStore
from mlops.registry.abandoned import REGISTRAR_TAG, this_process, undo_abandoned
from mlops.registry.mlflow_models import (
    PACKAGE_TAG,
    PREVIOUS_CHAMPION_TAG,
    PROMOTION_TAG,
    STAGE_TAG,
    MlflowVersion,
    all_versions,
    by_alias,
    require_alias,
    resolve,
    version_of,
)
from mlops.registry.session import MlflowConnection, ensure_experiment
from mlops.registry.undo import Undo

# Package metadata keys copied from the lineage (SageMaker shows them on the package; values <= 256 characters).
PACKAGE_LINEAGE_KEYS = ("dataset_version", "training_job", "code_version", "pipeline_execution")
# What the serving image needs when the job's model directory lists no requirements of its own.
SERVING_DISTRIBUTIONS = ("mlflow", "scikit-learn", "pandas", "numpy", "cloudpickle")
ERROR_TAG = "registration_error"
BASELINE_TAGS = {"statistics": "baseline_statistics_uri", "constraints": "baseline_constraints_uri"}
"""Version tags naming the drift-check baseline files (monitoring finds the champion's baseline by them)."""
_MLFLOW_TAG_LIMIT = 5000


def metric_key(name: str) -> str:
    """SageMaker metric names (``validation:pr_auc``) as MLflow metric keys (``validation_pr_auc``)."""
    return name.replace(":", "_")


class MlflowModelRegistry:
    """``ModelRegistry``: one MLflow registered model per dataset, one model package per version."""

    def __init__(
        self,
        connection: MlflowConnection,
        packages: ModelPackageRegistry,
        object_store: ObjectStore,
        layout: Layout,
        artifact_location: Callable[[str], str],
    ) -> None:
        """``artifact_location(dataset)`` is where the dataset's experiment keeps its artifacts (created once)."""
        self.connection = connection
        self.packages = packages
        self._objects = object_store
        self._layout = layout
        self._artifact_location = artifact_location

    # -- registration -------------------------------------------------------------------------------------------

    def register(self, request: RegistrationRequest) -> Registration:
        import mlflow

        name = request.dataset
        with self.connection.session() as client:
            experiment_id = ensure_experiment(client, name, self._artifact_location(name))
            undo_abandoned(client, name, experiment_id, self._reject_abandoned)
            with mlflow.start_run(experiment_id=experiment_id, run_name=request.job_name) as run:
                mlflow.set_tag(REGISTRAR_TAG, this_process())  # a kill -9 leaves this run for the next to undo
                undo = Undo(f"registering model {name!r} from job {request.job_name!r} (run {run.info.run_id})")
                try:
                    version = _log_version(request)
                    undo.add(f"version {version} deleted", lambda: client.delete_model_version(name, str(version)))
                    package = self._create_package(request, version)
                    undo.add(
                        f"package {package.arn} Rejected/Archived",
                        lambda: self.packages.update(package.arn, "Rejected", "Archived", "registration failed"),
                    )
                    tags = {
                        **request.lineage,
                        **{BASELINE_TAGS[k]: v for k, v in package.drift_check_baselines.items() if k in BASELINE_TAGS},
                        STAGE_TAG: "Staging",
                        PACKAGE_TAG: package.arn,
                    }
                    for key, value in tags.items():
                        client.set_model_version_tag(name, str(version), key, value)
                    for key, value in self._compiled(request).items():
                        client.set_model_version_tag(name, str(version), key, value)
                    client.set_registered_model_alias(name, CHALLENGER, str(version))
                except BaseException as exc:
                    undo.run(exc)
                    _record_failure(exc)
                    raise  # leaving the run's block with an error ends the run FAILED
                return Registration(name, version, run.info.run_id, package.arn, package.version)

    def _reject_abandoned(self, arn: str) -> None:
        self.packages.update(arn, "Rejected", "Archived", "registration abandoned: its process died")

    def _create_package(self, request: RegistrationRequest, version: int) -> ModelPackage:
        bucket = self._layout.bucket("models")
        key = evaluation_key(request.job_name)
        report = json.dumps(dict(request.summary), sort_keys=True, default=str).encode()
        self._objects.put(bucket, key, report, content_type="application/json")
        baselines: dict[str, str] = {}
        for name, content in request.baseline.items():
            stored = baseline_key(request.job_name, name)
            self._objects.put(bucket, stored, json.dumps(content).encode(), content_type="application/json")
            baselines[name.removesuffix(".json")] = self._layout.uri(bucket, stored)
        return self.packages.create(
            model_data_url=request.model_artifact,
            image=request.image,
            metadata={
                "mlflow_model": request.dataset,
                "mlflow_version": str(version),
                **{k: v for k, v in request.lineage.items() if k in PACKAGE_LINEAGE_KEYS and v},
                **{metric_key(k): f"{v:.6g}" for k, v in request.metrics.items() if k.startswith("validation:")},
            },
            description=f"{request.dataset} v{version} from training job {request.job_name}",
            metrics_url=self._layout.uri(bucket, key),
            lineage={"CommitId": request.lineage.get("code_version", ""), "GeneratedBy": request.job_arn},
            drift_baselines=baselines or None,
        )

    def _compiled(self, request: RegistrationRequest) -> dict[str, str]:
        """Tags of the version's compiled model (:mod:`mlops.registry.compiled`), checked on its holdout."""
        from mlops.layout import filesystem_path
        from mlops.registry.compiled import log_compiled

        def read_holdout() -> Any:
            import pandas as pd

            uri = request.lineage.get("holdout_uri", "")
            if not uri:
                raise ValueError("the registration names no holdout_uri")
            return pd.read_parquet(filesystem_path(uri), filesystem=self._objects.filesystem())

        return log_compiled(request.model_dir, read_holdout)

    # -- promotion and rollback ---------------------------------------------------------------------------------

    def set_champion(self, name: str, version: int, *, note: str) -> ModelVersionInfo | None:
        with self.connection.session() as client:
            target = version_of(client, name, version)
            previous = by_alias(client, name, CHAMPION)
            if previous is not None and previous.version == target.version:
                raise RegistrationConflictError(f"model {name!r} version {version} already is the champion")
            previous_info = self._info(client, previous) if previous is not None else None
            with self._changes(client, f"making model {name!r} v{version} champion") as change:
                change.package(target, "Approved", "Production", f"promoted: {note}")
                # a champion registered with MLflow's own client has no package to archive: its alias still moves
                if previous is not None and previous.tags.get(PACKAGE_TAG):
                    change.package(previous, "Approved", "Archived", f"replaced by v{version}")
                change.tag(target, STAGE_TAG, "Production")
                change.tag(target, PROMOTION_TAG, note)
                change.tag(target, PREVIOUS_CHAMPION_TAG, str(previous.version) if previous is not None else None)
                if previous is not None:
                    change.tag(previous, STAGE_TAG, "Archived")
                change.alias(name, CHAMPION, target.version)
                if CHALLENGER in target.aliases:
                    change.alias(name, CHALLENGER, None)
        return previous_info

    def rollback(self, name: str) -> tuple[int, int]:
        with self.connection.session() as client:
            current = require_alias(client, name, CHAMPION)
            recorded = current.tags.get(PREVIOUS_CHAMPION_TAG)
            if not recorded:
                raise RegistrationConflictError(
                    f"model {name!r}: champion v{current.version} replaced no earlier champion; nothing to roll back to"
                )
            previous = version_of(client, name, recorded)
            with self._changes(client, f"rolling model {name!r} back from v{current.version}") as change:
                change.package(current, "Rejected", "Archived", f"rolled back to v{previous.version}")
                change.package(previous, "Approved", "Production", f"restored by rollback of v{current.version}")
                change.tag(current, STAGE_TAG, "Archived")
                change.tag(previous, STAGE_TAG, "Production")
                change.alias(name, CHAMPION, previous.version)
        return current.version, previous.version

    @contextmanager
    def _changes(self, client: Any, operation: str) -> Iterator[_Changes]:
        change = _Changes(client, self.packages, Undo(operation))
        try:
            yield change
        except BaseException as exc:
            change.undo.run(exc)
            raise

    # -- reading ------------------------------------------------------------------------------------------------

    def version(self, name: str, alias_or_version: str) -> ModelVersionInfo:
        with self.connection.session() as client:
            return self._info(client, resolve(client, name, alias_or_version))

    def find(self, name: str, alias: str) -> ModelVersionInfo | None:
        with self.connection.session() as client:
            found = by_alias(client, name, alias)
            return self._info(client, found) if found is not None else None

    def versions(self, name: str) -> list[ModelVersionInfo]:
        with self.connection.session() as client:
            return [self._info(client, version) for version in all_versions(client, name)]

    def model_uri(self, name: str, alias_or_version: str) -> str:
        with self.connection.session() as client:
            return f"models:/{name}/{resolve(client, name, alias_or_version).version}"

    def load_model(self, name: str, alias_or_version: str) -> Any:
        import mlflow.sklearn

        with self.connection.session() as client:
            found = resolve(client, name, alias_or_version)
            return mlflow.sklearn.load_model(f"models:/{name}/{found.version}")

    def environment(self) -> dict[str, str]:
        return self.connection.environment()

    def _info(self, client: Any, version: MlflowVersion) -> ModelVersionInfo:
        arn = version.tags.get(PACKAGE_TAG, "")
        package = self.packages.describe(arn) if arn else None
        return ModelVersionInfo(
            name=version.name,
            version=version.version,
            aliases=version.aliases,
            stage=version.tags.get(STAGE_TAG, ""),
            metrics=version.metrics,
            tags=version.tags,
            model_package_arn=arn,
            approval=package.approval if package else "",
            package_stage=package.stage if package else "",
            run_id=version.run_id,
        )


class _Changes:
    """Registry changes that record their own compensation as they succeed."""

    def __init__(self, client: Any, packages: ModelPackageRegistry, undo: Undo) -> None:
        self._client = client
        self._packages = packages
        self.undo = undo

    def package(self, version: MlflowVersion, approval: Approval, stage: Stage, note: str) -> None:
        arn = version.tags.get(PACKAGE_TAG)
        if not arn:
            raise ModelNotFoundError(f"model {version.name!r} version {version.version} records no {PACKAGE_TAG} tag")
        before = self._packages.describe(arn)
        self._packages.update(arn, approval, stage, note)
        self.undo.add(
            f"package {arn} back to {before.approval}/{before.stage}",
            lambda: self._packages.update(arn, _approval(before.approval), _stage(before.stage), before.description),
        )

    def tag(self, version: MlflowVersion, key: str, value: str | None) -> None:
        """Set (or, with ``None``, delete) a version tag."""
        name, number = version.name, str(version.version)
        before = version.tags.get(key)
        if value is None:
            if before is None:
                return
            self._client.delete_model_version_tag(name, number, key)
        else:
            self._client.set_model_version_tag(name, number, key, value)
        self.undo.add(f"tag {key} of v{number} restored", lambda: self._set_tag(name, number, key, before))

    def alias(self, name: str, alias: str, version: int | None) -> None:
        """Point ``alias`` at ``version`` (or, with ``None``, delete it)."""
        before = by_alias(self._client, name, alias)
        if version is None:
            self._client.delete_registered_model_alias(name, alias)
        else:
            self._client.set_registered_model_alias(name, alias, str(version))
        previous = str(before.version) if before is not None else None
        self.undo.add(f"alias {alias} restored", lambda: self._set_alias(name, alias, previous))

    def _set_tag(self, name: str, version: str, key: str, value: str | None) -> None:
        if value is None:
            self._client.delete_model_version_tag(name, version, key)
        else:
            self._client.set_model_version_tag(name, version, key, value)

    def _set_alias(self, name: str, alias: str, version: str | None) -> None:
        if version is None:
            self._client.delete_registered_model_alias(name, alias)
        else:
            self._client.set_registered_model_alias(name, alias, version)


def _log_version(request: RegistrationRequest) -> int:
    """Log the request's params, metrics, tags, report and model to the active run; returns the new version."""
    import mlflow
    import mlflow.sklearn
    from mlflow.models import Model

    saved = Model.load(str(request.model_dir))
    model = mlflow.sklearn.load_model(str(request.model_dir))
    hyperparameters = sorted(request.hyperparameters.items())
    mlflow.log_params({f"hp_{k}": v for k, v in hyperparameters if k != "features"})
    best = request.summary.get("best_params") or {}
    mlflow.log_params({f"best_{k}": v for k, v in sorted(best.items())})
    mlflow.log_metrics({metric_key(k): float(v) for k, v in request.metrics.items()})
    mlflow.set_tags({"dataset": request.dataset, **request.lineage})
    mlflow.log_dict(dict(request.summary), "evaluation/metrics.json")
    info = mlflow.sklearn.log_model(
        model,
        name="model",
        signature=saved.signature,
        serialization_format="cloudpickle",
        pyfunc_predict_fn=saved.flavors["python_function"].get("predict_fn", "predict"),
        # what the model says about itself (task, classes, a binary model's positive class): the server reads it
        metadata=saved.metadata,
        registered_model_name=request.dataset,
        pip_requirements=_requirements(request.model_dir),
    )
    return int(info.registered_model_version)


def _record_failure(exc: BaseException) -> None:
    """Tag the active run with the error (best effort: the tracking server may be what failed)."""
    import mlflow

    try:
        mlflow.set_tag(ERROR_TAG, f"{type(exc).__name__}: {exc}"[:_MLFLOW_TAG_LIMIT])
    except Exception as tagging:  # the original error is what the caller must see
        exc.add_note(f"the run could not be tagged with the error: {tagging}")


def _approval(value: str) -> Approval:
    return "Approved" if value == "Approved" else "Rejected" if value == "Rejected" else "PendingManualApproval"


def _stage(value: str) -> Stage:
    return "Production" if value == "Production" else "Archived" if value == "Archived" else "Staging"


def _requirements(model_dir: Path) -> list[str] | str:
    """The job's own ``requirements.txt`` when it wrote one, else pins of the serving distributions as installed
    here (given explicitly: letting MLflow infer them exports the whole environment, slowly)."""
    listed = model_dir / "requirements.txt"
    if listed.is_file():
        return str(listed)
    from importlib.metadata import version

    return [f"{name}=={version(name)}" for name in SERVING_DISTRIBUTIONS]
