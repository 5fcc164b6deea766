"""The ``mlops`` command line: wiring only; every piece of logic lives in the core or a capability package."""
