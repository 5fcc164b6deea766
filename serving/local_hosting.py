"""What the local endpoint runner hosts for a model version: the same container contract SageMaker gets.

:func:`hosting_spec` resolves the registered version and describes the container (serve module, environment)
and the CreateModel / CreateEndpointConfig requests exactly as :mod:`serving.deploy` sends them to SageMaker,
so the emulator records what AWS would, and the local process reads the environment the real container reads.
"""

from __future__ import annotations

from mlops.local.endpoint_runner import LOCAL_IMAGE, HostingSpec
from mlops.local.platform import Platform
from serving.deploy import container_environment, endpoint_config_request, model_request, names_for
from serving.model import registry_uri, resolve_version

LOCAL_INSTANCE_TYPE = "ml.m5.large"
"""Recorded on the emulator's endpoint configuration; locally the process runs on this machine."""


def hosting_spec(platform: Platform, dataset: str, version: str | None = None) -> HostingSpec:
    """The spec for ``dataset``'s model ``version`` (default: the ``champion`` alias) at the stack's endpoint."""
    tracking_uri = platform.outputs.mlflow_tracking_uri
    name, resolved = resolve_version(tracking_uri, registry_uri(dataset, version))
    model_uri = registry_uri(name, resolved)
    names = names_for(platform.outputs, resolved)
    environment = container_environment(dataset, model_uri, tracking_uri, platform.outputs)
    return HostingSpec(
        endpoint=names.endpoint,
        model_uri=model_uri,
        version=resolved,
        module="serving",
        environment=environment,
        model_request=model_request(names, platform.outputs, LOCAL_IMAGE, environment),
        endpoint_config_request=endpoint_config_request(names, platform.outputs, LOCAL_INSTANCE_TYPE, 1),
        # the container image carries the dataset definitions; locally they are read from the checkout
        extra_environment={"SERVING_DATASETS_DIR": str(platform.settings.datasets_dir.resolve())},
    )
