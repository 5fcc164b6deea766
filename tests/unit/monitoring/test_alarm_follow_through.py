"""The follow-through after an alarm round: the opt-in rollback of a degraded champion and the gate on what a
retrain registered (fakes of the registry and hosting ports; the deployment is recorded, not run)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from mlops.adapters.memory.object_store import MemoryObjectStore
from mlops.alarm_actions import AlarmAction, read_actions
from mlops.ports.alarms import AlarmEvaluation
from mlops.ports.hosting import Deployment
from pipelines.registry import retraining
from tests.unit.training.synthetic import definition

BUCKET = "monitoring"
DEGRADATION = "kit-local-model-degradation"
ENDPOINT = "kit-local-endpoint"


class Registry:
    def __init__(self) -> None:
        self.rolled_back: list[str] = []

    def rollback(self, name: str) -> tuple[int, int]:
        self.rolled_back.append(name)
        return 3, 2

    def find(self, name: str, alias: str) -> None:
        return None


def _platform(opted_in: bool) -> Any:
    store = MemoryObjectStore((BUCKET,))
    hosting = SimpleNamespace(status=lambda endpoint: Deployment(endpoint, "InService", "3", "models:/cards/3"))
    return SimpleNamespace(
        outputs=SimpleNamespace(
            alarm_names={"model_degradation": DEGRADATION},
            rollback_on_degradation=opted_in,
            endpoint_name=ENDPOINT,
        ),
        services=SimpleNamespace(model_registry=Registry(), hosting=hosting, object_store=store),
        layout=SimpleNamespace(bucket=lambda zone: BUCKET),
    )


@pytest.fixture
def deployed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []

    def deploy(platform: Any, dataset: str, version: str | None = None, image: str | None = None) -> Deployment:
        calls.append(dataset)
        return Deployment(ENDPOINT, "InService", "2", f"models:/{dataset}/2", action="updated")

    monkeypatch.setattr(retraining, "deploy_model", deploy)
    return calls


DEGRADED = AlarmEvaluation(DEGRADATION, "OK", "ALARM", "ModelQualityDrop above 0.05")


def test_a_degraded_champion_is_rolled_back_and_redeployed_when_the_stack_opts_in(deployed: list[str]) -> None:
    platform = _platform(opted_in=True)
    (record,) = retraining.follow_through(platform, [definition("cards")], [DEGRADED])
    assert platform.services.model_registry.rolled_back == ["cards"] and deployed == ["cards"]
    assert (record.kind, record.outcome, record.alarm) == ("rollback", "succeeded", DEGRADATION)
    assert (record.data["rolled_back"], record.data["restored"]) == (3, 2)
    assert read_actions(platform.services.object_store, BUCKET) == [record]


def test_nothing_is_rolled_back_by_default_or_for_an_alarm_that_did_not_change(deployed: list[str]) -> None:
    assert retraining.follow_through(_platform(opted_in=False), [definition("cards")], [DEGRADED]) == []
    unchanged = AlarmEvaluation(DEGRADATION, "ALARM", "ALARM", "still degraded")
    assert retraining.follow_through(_platform(opted_in=True), [definition("cards")], [unchanged]) == []
    assert deployed == []


def test_a_retrain_that_registered_nothing_is_recorded_as_skipped(deployed: list[str]) -> None:
    platform = _platform(opted_in=False)
    started = AlarmAction(
        "start-pipeline", DEGRADATION, "ALARM", "r", "pipeline p", "succeeded", data={"execution_arn": "arn:x"}
    )
    evaluation = AlarmEvaluation(DEGRADATION, "OK", "ALARM", "r", actions=(started,))
    (record,) = retraining.follow_through(platform, [definition("cards")], [evaluation])
    assert (record.kind, record.outcome, record.caused_by) == ("promote-and-deploy", "skipped", started.action_id)
    assert "registered no challenger" in record.detail
    assert deployed == []
