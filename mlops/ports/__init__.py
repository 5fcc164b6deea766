"""The ports: one interface (a ``typing.Protocol``) per capability the pipelines use.

Capability code (``pipelines/``, ``jobs/``, ``serving/``, ``monitoring/``) receives these, never a cloud client.
Each port has an adapter per cloud under ``mlops/adapters/<cloud>/``, an in-memory fake under
``mlops/adapters/memory/`` and, where no emulator runs the service, a local runner under ``mlops/local/``.
:mod:`mlops.wiring` is the one place that picks which implementation a platform gets. Every port raises the
condition-named errors of :mod:`mlops.ports.errors`, so callers never see a cloud SDK's exception.
"""
