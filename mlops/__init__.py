"""mlops-kit core: settings, client factory, stack outputs, dataset definitions and errors.

The core imports no capability package (``pipelines``, ``jobs``, ``serving``, ``monitoring``, ``infra``);
the CLI in :mod:`mlops.cli` wires them together.
"""

__version__ = "0.1.0"
