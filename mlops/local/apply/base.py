"""What every local-apply handler shares: its context, its result, and the input conversions it needs.

A handler turns one declared Pulumi resource (type token, logical name, camelCase inputs as the mocks receive
them) into a real resource in the emulator, or finds the one an earlier apply made. It returns the physical id
and the state (camelCase outputs) that dependents and stack exports read.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from botocore.exceptions import ClientError

from mlops.adapters.aws.clients import ClientFactory
from mlops.errors import LocalApplyError

# ``skipped``: declared, but nothing was sent (the emulator cannot honour it, see ``limits``) and nothing exists.
Outcome = Literal["created", "reused", "updated", "skipped"]
OUTCOMES: tuple[Outcome, ...] = ("created", "reused", "updated", "skipped")


class DeferredActions:
    """Work a handler must not do while the program still runs, done by the engine once every resource exists.

    A handler may not wait for a sibling resource: handlers share the SDK's few executor threads, so waiting
    handlers can starve the very resource they wait for. They queue the call here instead.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._actions: list[tuple[str, Callable[[], None]]] = []

    def add(self, description: str, action: Callable[[], None]) -> None:
        with self._lock:
            self._actions.append((description, action))

    def drain(self) -> list[tuple[str, Callable[[], None]]]:
        """The queued actions in the order they were added; the queue is empty afterwards."""
        with self._lock:
            actions, self._actions = self._actions, []
        return actions


@dataclass(frozen=True)
class HandlerContext:
    """Where handlers create resources: the emulator's clients, its account/region, and the local state dir."""

    clients: ClientFactory
    account_id: str
    region: str
    state_dir: Path
    deferred: DeferredActions = field(default_factory=DeferredActions)

    def arn(self, service: str, resource: str, *, regional: bool = True) -> str:
        """An ARN in the emulator's account (``regional=False`` for global services such as IAM)."""
        region = self.region if regional else ""
        return f"arn:aws:{service}:{region}:{self.account_id}:{resource}"


@dataclass(frozen=True)
class Applied:
    """A handler's result: the physical id, the resource's state (camelCase) and what the apply did."""

    physical_id: str
    state: dict[str, Any]
    outcome: Outcome


Handler = Callable[[HandlerContext, str, dict[str, Any]], Applied]


def applied(physical_id: str, inputs: Mapping[str, Any], outcome: Outcome, **outputs: Any) -> Applied:
    """State carries the inputs too, as a real provider's state does, overlaid with the computed outputs."""
    return Applied(physical_id, {**inputs, "id": physical_id, **outputs}, outcome)


def revealed(value: Any) -> Any:
    """``value`` with every Pulumi secret (the SDK's wrapper, as the mocks receive it) replaced by what it holds:
    the handlers put the real value into the emulator, as the provider does into AWS."""
    # Imported here: `mlops local status` reads the ledger (this module's outcomes) without the Pulumi SDK (1.8 s).
    from pulumi.runtime import rpc

    if isinstance(value, Mapping):
        if value.get(rpc._special_sig_key) == rpc._special_secret_sig:
            return revealed(value.get("value"))
        return {key: revealed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [revealed(item) for item in value]
    return value


def require(inputs: Mapping[str, Any], key: str, type_token: str, name: str) -> Any:
    """An input the handler cannot do without; its absence names the resource and the input."""
    value = inputs.get(key)
    if value is None or value == "":
        raise LocalApplyError(f"{type_token} {name!r}: input {key!r} is required for the local apply")
    return value


def as_int(value: Any) -> int:
    """Pulumi mocks deliver every number as a float; AWS APIs want integers for counts and days."""
    return int(value)


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def is_not_found(exc: ClientError) -> bool:
    """True for the many spellings of "no such resource" across AWS services (and moto's renditions)."""
    code = error_code(exc)
    if code in {"404", "NotFound"} or code.startswith("NoSuch") or "NotFound" in code:
        return True
    # SageMaker (and moto's rendition of it) reports a missing resource as a ValidationException.
    message = str(exc).lower()
    return code == "ValidationException" and any(phrase in message for phrase in _MISSING_PHRASES)


_MISSING_PHRASES = ("not found", "does not exist", "could not find", "cannot find")


# Keys whose boto3 spelling is not plain PascalCase of the Pulumi camelCase name.
_SPECIAL_KEYS = {
    "id": "ID",
    "serDeInfo": "SerdeInfo",
    "kmsMasterKeyId": "KMSMasterKeyID",
    "sseAlgorithm": "SSEAlgorithm",
    "kmsKeyId": "KmsKeyId",
}


def pascal(key: str) -> str:
    return _SPECIAL_KEYS.get(key, key[:1].upper() + key[1:])


def to_boto(value: Any, renames: Mapping[str, str] | None = None) -> Any:
    """Convert Pulumi's camelCase input tree to boto3's PascalCase request shape (floats that are whole -> int).

    ``renames`` overrides the spelling of specific camelCase keys wherever they occur in the tree.
    """
    extra = renames or {}
    if isinstance(value, Mapping):
        return {extra.get(k, pascal(k)): to_boto(v, extra) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [to_boto(item, extra) for item in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def same_json(left: str | Mapping[str, Any] | None, right: str | Mapping[str, Any] | None) -> bool:
    """Compare two JSON documents by content (AWS may reorder keys or drop whitespace)."""

    def parse(doc: str | Mapping[str, Any] | None) -> Any:
        return json.loads(doc) if isinstance(doc, str) else doc

    return bool(parse(left) == parse(right))


def tags_list(tags: Mapping[str, str] | None, key_name: str = "Key", value_name: str = "Value") -> list[dict[str, str]]:
    return [{key_name: k, value_name: v} for k, v in (tags or {}).items()]
