"""Training: pure steps, the SageMaker-contract entry point, the wiring that runs and registers a model."""
