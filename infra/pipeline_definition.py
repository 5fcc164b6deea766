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

SECURITY_PARAMETERS: tuple[str, ...] = ("VolumeKmsKeyId", "OutputKmsKeyId", "SubnetIdA", "SubnetIdB", "SecurityGroupId")
"""Parameters through which the definition's jobs get the stack's encryption and network placement:

- ``VolumeKmsKeyId``: ``ProcessingResources.ClusterConfig.VolumeKmsKeyId``, ``ResourceConfig.VolumeKmsKeyId``
  (and ``TransformResources.VolumeKmsKeyId``) of every job step;
- ``OutputKmsKeyId``: ``ProcessingOutputConfig.KmsKeyId``, ``OutputDataConfig.KmsKeyId`` (``TransformOutput``);
- ``SubnetIdA``/``SubnetIdB`` and ``SecurityGroupId``: ``NetworkConfig.VpcConfig`` (processing) and ``VpcConfig``
  (training, models) ``Subnets``/``SecurityGroupIds``.

The program binds all five (a definition that does not declare one is left as it is); the policy pack's
``sagemaker-pipeline-*`` rules check that every job step uses them."""


def security_parameters(*, kms_key_arn: str, subnet_ids: list[str], security_group_id: str) -> dict[str, str]:
    """Values of :data:`SECURITY_PARAMETERS` for a stack: its key, its first two private subnets, the jobs' group."""
    if len(subnet_ids) < 2:
        raise ConfigError(f"the pipeline's jobs need two private subnets (two zones); got {len(subnet_ids)}")
    return {
        "VolumeKmsKeyId": kms_key_arn,
        "OutputKmsKeyId": kms_key_arn,
        "SubnetIdA": subnet_ids[0],
        "SubnetIdB": subnet_ids[1],
        "SecurityGroupId": security_group_id,
    }


def bind_parameter_defaults(
    definition: str, values: Mapping[str, str], *, source: str, extra: Mapping[str, str] | None = None
) -> str:
    """Return ``definition`` with each named parameter's default replaced; parameters not named stay.
    ``extra`` holds more values (the stack's :func:`security_parameters`), bound the same way.

    Raises :class:`ConfigError` naming ``source`` when the JSON is invalid, has no ``Parameters`` list, or a
    parameter the stack must bind (default ``bound-by-infra``) is left unbound.
    """
    try:
        document = json.loads(definition)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"pipeline definition {source} is not valid JSON: {exc}") from exc
    values = {**values, **(extra or {})}
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
