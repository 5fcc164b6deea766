"""After an alarm's actions: the promotion gate and deployment of what the retrain rule trained, and the opt-in
rollback of a degraded champion. Together with the alarm runner's delivery of the retrain rule this closes the
loop with no manual step: alarm -> pipeline run -> gate -> promote -> deploy.

:func:`follow_through` takes the alarm evaluations of one round (``platform.services.alarms.evaluate``) and, for
each retrain action whose pipeline execution succeeded:

1. finds the challenger that execution registered (the version whose ``pipeline_execution`` tag is its ARN);
2. runs the release's model gate (:func:`mlops.release.promotion.model_gate` over
   :func:`pipelines.registry.promotion.promote`): the challenger and the champion are scored on the challenger's
   holdout, the same recent rows for both, and the challenger is promoted only if it wins by ``margin``;
3. deploys a promoted champion behind the stack's endpoint (:func:`serving.deploy.deploy_model`).

When the stack opts in (``rollbackOnDegradation``, the ``rollback_on_degradation`` output), a degradation alarm
that entered ALARM first rolls the champion back to the version it replaced and redeploys it; the gate then judges
the challenger against the restored champion. Each step is recorded (:mod:`mlops.alarm_actions`).

On AWS EventBridge starts the pipeline; the gate and the deployment after it are the release workflow's
(``mlops release gate``, ``mlops deploy``), or this function run where the evaluations are the kit's.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from mlops.alarm_actions import AlarmAction, write_action
from mlops.contracts import CHALLENGER, CHAMPION
from mlops.datasets import DatasetDefinition, find_definition
from mlops.errors import MlopsError, RegistryError
from mlops.modeling.metrics import primary_metric
from mlops.modeling.spec import ModelSpec
from mlops.platform import Platform
from mlops.ports.alarms import AlarmEvaluation
from mlops.ports.model_registry import ModelVersionInfo
from mlops.registry.holdout import holdout_of
from mlops.registry.mlflow_models import PREVIOUS_CHAMPION_TAG
from mlops.release.promotion import model_gate
from pipelines.registry.promotion import primary_score, promote
from serving.deploy import deploy_model

DEGRADATION_ALARM = "model_degradation"
DEFAULT_MARGIN = 0.01
"""The improvement the challenger needs over the champion, as `mlops model promote` and `mlops release gate`."""


def follow_through(
    platform: Platform,
    definitions: Sequence[DatasetDefinition],
    evaluations: Iterable[AlarmEvaluation],
    *,
    margin: float = DEFAULT_MARGIN,
) -> list[AlarmAction]:
    """Roll back (when opted in), gate, promote and deploy after this round's alarm actions; returns the records."""
    evaluations = list(evaluations)
    records = [
        record
        for evaluation in evaluations
        if _rolls_back(platform, evaluation)
        for record in (rollback_and_redeploy(platform, definitions, evaluation),)
        if record is not None
    ]
    for evaluation in evaluations:
        for action in evaluation.actions:
            if action.kind == "start-pipeline" and action.outcome == "succeeded" and not action.caused_by:
                records.append(gate_and_deploy(platform, definitions, action, margin))
    return records


def _rolls_back(platform: Platform, evaluation: AlarmEvaluation) -> bool:
    degradation = platform.outputs.alarm_names.get(DEGRADATION_ALARM)
    return (
        platform.outputs.rollback_on_degradation
        and evaluation.alarm == degradation
        and evaluation.changed
        and evaluation.state == "ALARM"
    )


def _challenger_of(
    platform: Platform, definitions: Sequence[DatasetDefinition], execution_arn: str
) -> tuple[DatasetDefinition, ModelVersionInfo] | None:
    """The dataset and the challenger version the execution registered, if it registered one."""
    registry = platform.services.model_registry
    for definition in definitions:
        found = registry.find(definition.name, CHALLENGER)
        if found is not None and found.tags.get("pipeline_execution") == execution_arn:
            return definition, found
    return None


def gate_and_deploy(
    platform: Platform, definitions: Sequence[DatasetDefinition], action: AlarmAction, margin: float
) -> AlarmAction:
    """The gate on the challenger ``action``'s execution registered, and the deployment of a new champion."""
    execution_arn = str(action.data.get("execution_arn", ""))
    started = datetime.now(UTC)

    def record(ran: str, outcome: Any, detail: str, **data: Any) -> AlarmAction:
        return _write(
            platform,
            AlarmAction(
                "promote-and-deploy",
                alarm=action.alarm,
                state=action.state,
                reason=action.reason,
                ran=ran,
                outcome=outcome,
                detail=detail,
                caused_by=action.action_id,
                data={"execution_arn": execution_arn, **data},
                started_at=started,
            ),
        )

    found = _challenger_of(platform, definitions, execution_arn)
    if found is None:
        return record("model gate", "skipped", f"execution {execution_arn} registered no challenger")
    definition, challenger = found
    name = definition.name
    try:
        outcome = model_gate(platform.services.model_registry, name, lambda: promote(platform, definition, margin))
        if not outcome.deploy:
            return record(f"model gate on {name} v{challenger.version}", "skipped", outcome.detail, dataset=name)
        deployment = deploy_model(platform, name)
    except MlopsError as exc:
        return record(f"model gate and deploy of {name} v{challenger.version}", "failed", str(exc), dataset=name)
    return record(
        f"model gate on {name} v{challenger.version}; deploy to {deployment.endpoint}",
        "succeeded",
        f"{outcome.detail}; endpoint {deployment.endpoint} serves v{deployment.version} ({deployment.action})",
        dataset=name,
        version=challenger.version,
        endpoint=deployment.endpoint,
    )


def rollback_and_redeploy(
    platform: Platform, definitions: Sequence[DatasetDefinition], evaluation: AlarmEvaluation
) -> AlarmAction | None:
    """Restore the served dataset's previous champion and redeploy it; ``None`` when nothing is served."""
    served = _served_dataset(platform, definitions)
    if served is None:
        return None
    started = datetime.now(UTC)

    def record(ran: str, outcome: Any, detail: str, **data: Any) -> AlarmAction:
        return _write(
            platform,
            AlarmAction(
                "rollback",
                alarm=evaluation.alarm,
                state=evaluation.state,
                reason=evaluation.reason,
                ran=ran,
                outcome=outcome,
                detail=detail,
                data={"dataset": served, **data},
                started_at=started,
            ),
        )

    try:
        old, restored = platform.services.model_registry.rollback(served)
        deployment = deploy_model(platform, served)
    except MlopsError as exc:
        return record(f"rollback of {served}", "failed", str(exc))
    return record(
        f"rollback of {served} v{old} to v{restored}; deploy to {deployment.endpoint}",
        "succeeded",
        f"endpoint {deployment.endpoint} serves v{deployment.version} ({deployment.action})",
        rolled_back=old,
        restored=restored,
    )


def _served_dataset(platform: Platform, definitions: Sequence[DatasetDefinition]) -> str | None:
    """The dataset whose model the stack's endpoint serves (its ``models:/<name>/<version>`` URI)."""
    deployment = platform.services.hosting.status(platform.outputs.endpoint_name)
    uri = deployment.model_uri if deployment is not None else None
    if not uri:
        return None
    return next((d.name for d in definitions if uri.startswith((f"models:/{d.name}/", f"models:/{d.name}@"))), None)


def _write(platform: Platform, action: AlarmAction) -> AlarmAction:
    done = replace(action, ended_at=datetime.now(UTC))
    write_action(platform.services.object_store, platform.layout.bucket("monitoring"), done)
    return done


def definitions_in(directory: Path) -> list[DatasetDefinition]:
    """Every dataset definition of ``directory`` (the datasets a retrain may have trained)."""
    return [find_definition(path.stem, directory) for path in sorted(directory.glob("*.yaml"))]


@dataclass(frozen=True)
class Recovery:
    """How far a retrained champion recovered the quality its predecessor had before drift.

    Three figures of the primary metric (PR-AUC for a binary task): ``pre_drift``, the previous champion on its
    own holdout (the quality it was released with); ``before``, the previous champion on the new champion's holdout
    (the present it degraded on); ``after``, the new champion on that same holdout. ``ratio`` is
    ``after / pre_drift`` (greater-is-better metrics): the share of the released quality the loop won back.
    """

    dataset: str
    metric: str
    champion_version: int
    previous_version: int
    pre_drift: float
    before: float
    after: float
    holdout_rows: int
    holdout_start: str
    holdout_end: str

    @property
    def ratio(self) -> float:
        return self.after / self.pre_drift if self.pre_drift else float("nan")

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": self.ratio}


def recovery(platform: Platform, definition: DatasetDefinition) -> Recovery:
    """The :class:`Recovery` of ``definition``'s champion over the champion it replaced."""
    registry = platform.services.model_registry
    name = definition.name
    champion = registry.find(name, CHAMPION)
    previous = champion.tags.get(PREVIOUS_CHAMPION_TAG) if champion is not None else None
    if champion is None or not previous:
        raise RegistryError(f"model {name!r} has no champion that replaced an earlier one: nothing recovered yet")
    spec = ModelSpec.from_definition(definition)
    metric, _ = primary_metric(spec.task)
    earlier = registry.version(name, previous)
    old_model = registry.load_model(name, previous)
    present = holdout_of(platform, champion)
    times = pd.to_datetime(present[definition.event_time], utc=True)
    return Recovery(
        dataset=name,
        metric=metric,
        champion_version=champion.version,
        previous_version=earlier.version,
        pre_drift=primary_score(old_model, holdout_of(platform, earlier), spec),
        before=primary_score(old_model, present, spec),
        after=primary_score(registry.load_model(name, str(champion.version)), present, spec),
        holdout_rows=len(present),
        holdout_start=times.min().isoformat(),
        holdout_end=times.max().isoformat(),
    )
