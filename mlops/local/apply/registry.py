"""Type token -> handler, for every resource type the infra program may declare (``infra/RESOURCE_TYPES.md``)."""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

from mlops.errors import UnsupportedResourceError
from mlops.local.apply.base import Handler
from mlops.local.apply.handlers import (
    autoscaling,
    dynamodb,
    ecr,
    events,
    glue,
    iam,
    kms,
    monitoring,
    network,
    s3_buckets,
    s3_objects,
    sagemaker_hosting,
    sagemaker_registry,
    streaming,
)

_MODULES = (
    kms,
    network,
    s3_buckets,
    s3_objects,
    glue,
    iam,
    streaming,
    dynamodb,
    sagemaker_registry,
    sagemaker_hosting,
    autoscaling,
    monitoring,
    events,
    ecr,
)


def _collect() -> dict[str, Handler]:
    handlers: dict[str, Handler] = {}
    for module in _MODULES:
        for token, handler in module.HANDLERS.items():
            if token in handlers:  # two modules claiming one type would make the apply order-dependent
                raise RuntimeError(f"resource type {token} has handlers in two modules")
            handlers[token] = handler
    return handlers


HANDLERS: Final = MappingProxyType(_collect())


def handler_for(type_token: str, logical_name: str) -> Handler:
    """The handler of ``type_token``; an unknown type is an error naming it, never a silent skip."""
    try:
        return HANDLERS[type_token]
    except KeyError:
        raise UnsupportedResourceError(type_token, logical_name) from None
