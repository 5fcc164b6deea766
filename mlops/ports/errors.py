"""Errors every port raises, named after the condition (not after the service that reported it).

Each port also has its own base error (e.g. :class:`ObjectStoreError`); an adapter raises the class that is both,
e.g. ``ObjectNotFoundError(ObjectStoreError, NotFoundError)``, so a caller can catch by capability or by condition.
"""

from __future__ import annotations

from mlops.errors import MlopsError


class PortError(MlopsError):
    """A port's operation failed; the message names the resource (bucket/key, table, stream, model...)."""


class NotFoundError(PortError):
    """The resource (object, table, stream, model version, endpoint, alias...) does not exist."""


class ConflictError(PortError):
    """Someone else changed the resource first (a concurrent commit, a lease held by another owner)."""


class ThrottledError(PortError):
    """The service refused the call for rate or capacity, and retries within the adapter's budget did not help."""


class ExpiredError(PortError):
    """A position, lease or token the caller held is no longer valid (e.g. an expired read position)."""


class UnavailableError(PortError):
    """The service (or emulator) did not answer at all."""
