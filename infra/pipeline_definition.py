"""Bind the stack's values into the SageMaker pipeline definition the training code produced.

The definition is stack-independent: role, data locations and image are pipeline *parameters*. The program
sets their ``DefaultValue`` from this stack's resources, so an execution started without arguments (by the
retraining rule, or from the console) runs against the right stack.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from mlops.contracts import UNBOUND
from mlops.errors import ConfigError


def bind_parameter_defaults(definition: str, values: Mapping[str, str], *, source: str) -> str:
    """Return ``definition`` with each named parameter's default replaced; parameters not named stay.

    Raises :class:`ConfigError` naming ``source`` when the JSON is invalid, has no ``Parameters`` list, or a
    parameter the stack must bind (default ``bound-by-infra``) is left unbound.
    """
    try:
        document = json.loads(definition)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"pipeline definition {source} is not valid JSON: {exc}") from exc
    parameters = document.get("Parameters") if isinstance(document, dict) else None
    if not isinstance(parameters, list):
        raise ConfigError(f"pipeline definition {source} has no 'Parameters' list")
    for parameter in parameters:
        name = parameter.get("Name") if isinstance(parameter, dict) else None
        if isinstance(name, str) and name in values:
            parameter["DefaultValue"] = values[name]
    unbound = sorted(str(p.get("Name")) for p in parameters if isinstance(p, dict) and p.get("DefaultValue") == UNBOUND)
    if unbound:
        raise ConfigError(f"pipeline definition {source} has parameters the stack does not bind: {', '.join(unbound)}")
    return json.dumps(document, sort_keys=True)
