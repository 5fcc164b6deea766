"""Costs of moto's server that grow with the data or come with every request, made proportional to the request,
and one race of its S3 made atomic.

The embedded emulator (``mlops.local.moto_server``) applies them before moto serves its first request; the
answers do not change (tests/unit/test_moto_fixes.py runs each replacement and moto's own side by side):

- a Kinesis shard finds its newest sequence number by copying every key it holds (``list(keys)[-1]``), once per
  record put: 30,000 records into a 2-shard stream cost 3.3 s of the server's CPU there, and each later batch
  more, as the stream grows (the demo's produce step, benchmarks/stream.py);
- a Kinesis shard's GetRecords walks the shard from its first record to the caller's position, once per call;
- a DynamoDB item re-measures every attribute it already has each time one is added (quadratic in the item's
  attribute count): 5,600 online-store items of 16 attributes cost 1.9 s of the server's CPU;
- a service's model (botocore's JSON, ~0.1-0.4 s to find and load) is cached per service, but requests that
  arrive together before the first load ends each load it again: the first apply's 8 bucket creations, 12 VPC
  endpoints, 10 egress rules... The loads are made one at a time, once per service and model;
- each of those first loads made a new botocore loader, which lists every service botocore knows (~400
  directories) to find the one asked for, and moto's backends load each service's model a second time through a
  session of their own (its regions: ``Session.get_available_regions`` reads the model's endpoint prefix), and
  every error response lists botocore's services again through a new session to name the service
  (``service_name_from_moto_package_name``): ~2.5 s of the server's CPU in the first apply. One loader serves
  moto's loads and its backends' session (botocore caches each file per loader), and botocore's services are
  listed once for every package's service name (moto listed them again for each package's first error: ~0.15 s
  each, ~0.6 s of the server's CPU in a first apply);
- every request lists moto's package directory (``list_of_moto_modules``: a listdir and ~160 ``isdir``, 0.65 ms)
  to see whether its Host header names a service, which it never does for a client of the server; the listing
  is made once (the installed moto does not change while it runs).

The race: moto's S3 answers a conditional PutObject (``If-None-Match: *``, ``If-Match``) by looking the key up,
then storing, with no lock between, on a server that serves requests on threads. Two writers creating one key
could both succeed, the second overwriting the first: two Delta writers committing the same version of a table
(``_delta_log/<version>.json``, mlops/lake/delta.py) both returned it and one commit was lost. Conditional puts
are made one at a time, so the second sees the first's object, as on S3. An unconditional put is not held: no
writer of the kit mixes the two on one key.

Each replacement keeps moto's results, its exceptions and its quirks (what its GetRecords loop does with a limit
of 0 or less). The moto versions the project allows (``moto>=5.2,<6``) have these methods; :func:`apply` raises
when one is missing, so a moto that changed them fails at the server's start, not with a wrong answer later.
"""

from __future__ import annotations

import bisect
import functools
import threading
from collections.abc import Callable
from types import ModuleType
from typing import Any

# moto's own limit for an item (dynamo_type.LimitedSizeDict): between DynamoDB's measured 409 and 410 KB.
ITEM_SIZE_LIMIT = 405_000
_APPLIED: list[str] = []
_ORIGINALS: dict[tuple[Any, str], Any] = {}


def newest_sequence_number(shard: Any) -> int:
    """The shard's newest sequence number (0 when empty): its keys are ascending, the last one is the newest."""
    return next(reversed(shard.records), 0)


def oldest_sequence_number(shard: Any) -> int:
    """The shard's oldest sequence number (0 when empty)."""
    return next(iter(shard.records), 0)


def records_after(shard: Any, last_sequence_id: str, limit: int | None) -> tuple[list[Any], int, int]:
    """moto's ``Shard.get_records``: the records after ``last_sequence_id`` (at most ``limit``), the last sequence
    number returned (else the one given) and how far the last returned record is behind the newest, in ms."""
    last = int(last_sequence_id)
    keys = list(shard.records)  # one C-level copy per call, not a Python loop over every record
    start = bisect.bisect_right(keys, last)
    # moto's loop checks the limit after every record it passes: a limit of 0 stops it at the first record not
    # after `last` (so it returns every record when the first one is after it, else none); below 0, never.
    end = None if limit is None or limit < 0 or (limit == 0 and start == 0) else start + limit
    results = [shard.records[key] for key in keys[start:end]]
    if not results:
        return results, last, 0
    newest = shard.records[keys[-1]]
    behind = newest.created_at - results[-1].created_at
    return results, results[-1].sequence_number, int(behind * 1000)


def item_init(self: Any, hash_key: Any, range_key: Any, attrs: dict[str, Any]) -> None:
    """moto's ``Item.__init__`` with the item measured once: its sizes are never negative, so the whole item is
    over the limit exactly when moto's attribute-by-attribute check would have raised on one of them."""
    from moto.dynamodb.exceptions import ItemSizeTooLarge
    from moto.dynamodb.models.dynamo_type import DynamoType, LimitedSizeDict
    from moto.dynamodb.models.utilities import bytesize

    self.hash_key = hash_key
    self.range_key = range_key
    converted = {key: DynamoType(value) for key, value in attrs.items()}
    if sum(bytesize(key) + value.size() for key, value in converted.items()) > ITEM_SIZE_LIMIT:
        raise ItemSizeTooLarge
    self.attrs = LimitedSizeDict()
    dict.update(self.attrs, converted)  # measured above; LimitedSizeDict.__setitem__ would measure again


_CONDITIONAL_PUTS = threading.Lock()


def conditional_puts_one_at_a_time(put_object: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """moto's ``S3Response.put_object`` with its check and its store under one lock when the put has a condition."""

    @functools.wraps(put_object)
    def guarded(self: Any) -> Any:
        if self.headers.get("If-None-Match") is None and self.headers.get("If-Match") is None:
            return put_object(self)
        with _CONDITIONAL_PUTS:
            return put_object(self)

    return guarded


def loaded_once(load: Callable[[str], Any]) -> Callable[[str], Any]:
    """``load`` (a per-service model loader) run once per service: a request arriving during a load waits for it."""
    lock = threading.Lock()
    loaded: dict[str, Any] = {}

    def model_of(service_name: str) -> Any:
        if service_name in loaded:
            return loaded[service_name]
        with lock:
            if service_name not in loaded:
                loaded[service_name] = load(service_name)
            return loaded[service_name]

    return model_of


@functools.cache
def shared_loader() -> Any:
    """The server's one data loader: moto's (botocore's with moto's extras to the models), which caches what it
    lists and loads. The backends' session reads only the regions of a service through it (the model's endpoint
    prefix and botocore's endpoint data, which moto's extras leave alone)."""
    from moto.core.loaders import create_loader

    return create_loader()


def load_service_model(service_name: str, model_name: str) -> Any:
    """moto's ``_load_service_model`` on the server's one loader instead of a new one per call."""
    return shared_loader().load_service_model(service_name, model_name)


def package_service_name(moto_package_name: str) -> str:
    """moto's ``service_name_from_moto_package_name``: the botocore service a moto package serves, from one
    listing of botocore's services (they do not change while the server runs)."""
    return service_names_by_package().get(moto_package_name, moto_package_name)


@functools.cache
def service_names_by_package() -> dict[str, str]:
    """moto's lookup table, made once: botocore's service names by their names without hyphens (moto's package
    names), listed by a session as moto lists them (its own loader: moto's extras add no service)."""
    from botocore.session import Session

    return {name.replace("-", ""): name for name in Session().get_available_services()}


@functools.cache
def backend_session() -> Any:
    """moto's backends' boto3 session (made on first use, as moto makes it), reading service data through the
    server's one loader."""
    from moto.core.base_backend import AccountSpecificBackend

    session = original(AccountSpecificBackend, "get_session")()
    if not session._session.get_config_variable("data_path"):  # else its loader reads the models given there
        session._session.register_component("data_loader", shared_loader())
    return session


def _backend_session(_cls: Any) -> Any:
    return backend_session()


@functools.cache
def moto_modules() -> tuple[str, ...]:
    """moto's ``backends.list_of_moto_modules``, listed once: its service packages, in name order."""
    return tuple(original(_backends(), "list_of_moto_modules")())


def _backends() -> Any:
    from moto import backends

    return backends


def _replace(owner: Any, name: str, replacement: Any) -> None:
    if not callable(getattr(owner, name, None)):
        where = owner.__name__ if isinstance(owner, ModuleType) else f"{owner.__module__}.{owner.__name__}"
        raise RuntimeError(f"moto changed: {where}.{name} is gone; update {__name__}")
    _ORIGINALS[(owner, name)] = getattr(owner, name)
    setattr(owner, name, replacement)
    _APPLIED.append(f"{owner.__name__}.{name}")


def original(owner: Any, name: str) -> Any:
    """moto's own ``owner.name``, whether or not :func:`apply` replaced it in this process."""
    return _ORIGINALS.get((owner, name), getattr(owner, name))


def apply() -> list[str]:
    """Install the replacements in moto's classes (once per process); the methods replaced."""
    if _APPLIED:
        return list(_APPLIED)
    from moto.dynamodb.models.dynamo_type import Item
    from moto.kinesis.models import Shard
    from moto.s3.responses import S3Response

    _replace(Shard, "get_max_sequence_number", newest_sequence_number)
    _replace(Shard, "get_min_sequence_number", oldest_sequence_number)
    _replace(Shard, "get_records", records_after)
    _replace(Item, "__init__", item_init)
    _replace(S3Response, "put_object", conditional_puts_one_at_a_time(S3Response.put_object))
    _replace(_backends(), "list_of_moto_modules", moto_modules)
    _load_models_once()
    return list(_APPLIED)


def _load_models_once() -> None:
    """The model loaders in each moto module that imported them by name (``moto.core.errors`` and the services
    import them from ``moto.core.utils`` at call time or after this, and get the replacement)."""
    from moto.core import responses, routing, utils
    from moto.core.base_backend import AccountSpecificBackend

    _replace(utils, "_load_service_model", load_service_model)
    _replace(utils, "service_name_from_moto_package_name", package_service_name)
    _replace(AccountSpecificBackend, "get_session", classmethod(_backend_session))
    service_model = loaded_once(utils.get_service_model)
    pagination_model = loaded_once(utils.get_pagination_model)
    for module in (utils, responses, routing):
        _replace(module, "get_service_model", service_model)
    for module in (utils, responses):
        _replace(module, "get_pagination_model", pagination_model)
