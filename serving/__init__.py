"""Online inference: a SageMaker-compatible HTTP server over a framework-free core, plus deployment helpers.

This package ships in the serving image: it imports the core ``mlops`` package, never ``pipelines``.
"""
