"""Model registry: MLflow versions with ``challenger``/``champion`` aliases, SageMaker model packages in step."""
