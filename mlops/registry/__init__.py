"""The model registry service: MLflow registered models (versions, aliases, lineage tags) and the cloud's model
packages kept in step, behind the :class:`~mlops.ports.model_registry.ModelRegistry` port.

- :mod:`mlops.registry.session`: how the kit reaches an MLflow tracking server (URI + artifact-store environment).
- :mod:`mlops.registry.mlflow_models`: reading versions, aliases and tags of a registered model.
- :mod:`mlops.registry.service`: :class:`MlflowModelRegistry`, the port's implementation.
- :mod:`mlops.registry.undo`: compensations that keep the two registries in step when a step fails.
- :mod:`mlops.registry.ephemeral`: the same service over a throw-away sqlite store (the ``memory`` choice).
- :mod:`mlops.registry.holdout`: the holdout a version was evaluated on (the gate's and monitoring's data).
"""
