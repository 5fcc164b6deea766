"""The embedded emulator's replacements for moto's costs that grow with the data (mlops/local/moto_fixes.py) give
moto's own answers: each is run side by side with the method it replaces, on the same objects. Its conditional
puts are atomic where moto's are not."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, cast

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.dynamodb.exceptions import ItemSizeTooLarge
from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict
from moto.kinesis.models import Shard
from moto.s3.models import S3Backend
from moto.s3.responses import S3Response

from mlops.local import moto_fixes


def shard_with(records: int) -> Shard:
    shard = Shard(0, 0, 2**128)
    for n in range(records):
        shard.put_record(f"key-{n}", f"data-{n}", str(n))
        time.sleep(0.0005)  # records apart in time: how far behind the newest one each is differs
    return shard


@pytest.mark.parametrize("records", [0, 1, 40])
def test_a_shards_newest_and_oldest_sequence_numbers_are_motos(records: int) -> None:
    shard = shard_with(records)
    assert moto_fixes.newest_sequence_number(shard) == moto_fixes.original(Shard, "get_max_sequence_number")(shard)
    assert moto_fixes.oldest_sequence_number(shard) == moto_fixes.original(Shard, "get_min_sequence_number")(shard)
    assert moto_fixes.newest_sequence_number(shard) == records


def test_get_records_returns_motos_records_position_and_lag_for_every_position_and_limit() -> None:
    shard = shard_with(40)
    moto_get_records = moto_fixes.original(Shard, "get_records")
    for last in ("0", "1", "17", "39", "40", "41", "500"):
        for limit in (None, 0, -1, 1, 7, 39, 40, 10_000):
            ours = moto_fixes.records_after(shard, last, limit)
            theirs = moto_get_records(shard, last, limit)
            assert ours[0] == theirs[0] and all(a is b for a, b in zip(ours[0], theirs[0], strict=True)), (last, limit)
            assert (ours[1], ours[2]) == (theirs[1], theirs[2]), (last, limit)
    assert moto_fixes.records_after(shard_with(0), "0", 5) == moto_get_records(shard_with(0), "0", 5)


def _built(init: Any, attrs: dict[str, Any]) -> Item | type[Exception]:
    item = cast(Item, Item.__new__(Item))
    try:
        init(item, DynamoType({"S": "key"}), None, attrs)
    except ItemSizeTooLarge:
        return ItemSizeTooLarge
    return item


ATTRIBUTE_SETS: list[dict[str, Any]] = [
    {},
    {"pk": {"S": "key"}, "amount": {"N": "12.5"}, "tags": {"SS": ["a", "b"]}, "seen": {"BOOL": True}},
    {"pk": {"S": "key"}, "nested": {"M": {"a": {"L": [{"N": "1"}, {"S": "x" * 30}]}, "b": {"NULL": True}}}},
    {f"f{n}": {"N": str(n * 1.1)} for n in range(16)},
    # at moto's limit: 2 + 404,998 bytes is not over it; one byte more is
    {"pk": {"S": "x" * (moto_fixes.ITEM_SIZE_LIMIT - 2)}},
    {"pk": {"S": "x" * (moto_fixes.ITEM_SIZE_LIMIT - 1)}},
    {"a": {"S": "x" * 300_000}, "b": {"S": "y" * 300_000}},  # each fits, together they do not
]


@pytest.mark.parametrize("attrs", ATTRIBUTE_SETS, ids=range(len(ATTRIBUTE_SETS)))
def test_an_item_is_built_or_refused_as_moto_builds_or_refuses_it(attrs: dict[str, Any]) -> None:
    ours = _built(moto_fixes.item_init, attrs)
    theirs = _built(moto_fixes.original(Item, "__init__"), attrs)
    if theirs is ItemSizeTooLarge:
        assert ours is ItemSizeTooLarge
        return
    assert isinstance(ours, Item) and isinstance(theirs, Item)
    assert ours == theirs and ours.to_json() == theirs.to_json()
    assert type(ours.attrs) is LimitedSizeDict and list(ours.attrs) == list(theirs.attrs)
    with pytest.raises(ItemSizeTooLarge):  # an attribute set later is still measured (moto's update path)
        ours.attrs["added"] = DynamoType({"S": "x" * moto_fixes.ITEM_SIZE_LIMIT})


def test_the_emulators_process_installs_every_replacement() -> None:
    code = "from mlops.local import moto_fixes; print(' '.join(moto_fixes.apply()))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert done.stdout.split() == [
        "Shard.get_max_sequence_number",
        "Shard.get_min_sequence_number",
        "Shard.get_records",
        "Item.__init__",
        "S3Response.put_object",
        "moto.backends.list_of_moto_modules",
        "moto.core.utils._load_service_model",
        "moto.core.utils.service_name_from_moto_package_name",
        "AccountSpecificBackend.get_session",
        "moto.core.utils.get_service_model",
        "moto.core.responses.get_service_model",
        "moto.core.routing.get_service_model",
        "moto.core.utils.get_pagination_model",
        "moto.core.responses.get_pagination_model",
    ]


def test_requests_arriving_together_load_a_services_model_once() -> None:
    calls: list[str] = []
    gate = threading.Barrier(8)

    def slow_load(service_name: str) -> object:
        calls.append(service_name)
        time.sleep(0.05)  # the others arrive while the first load runs
        return object()

    load = moto_fixes.loaded_once(slow_load)

    def request(service_name: str) -> object:
        gate.wait()
        return load(service_name)

    with ThreadPoolExecutor(8) as pool:
        models = list(pool.map(request, ["s3"] * 6 + ["ec2"] * 2))
    assert sorted(calls) == ["ec2", "s3"]  # moto's own cache loaded s3 six times here, ec2 twice
    assert len({id(m) for m in models[:6]}) == 1 and models[6] is models[7]


def test_the_model_loaded_once_is_motos_model_of_the_service() -> None:
    from moto.core import utils

    load = moto_fixes.loaded_once(moto_fixes.original(utils, "get_service_model"))
    model = load("kinesis")
    assert load("kinesis") is model
    assert model.service_name == "kinesis" and "PutRecords" in model.operation_names


def test_models_come_from_one_loader_with_motos_answer() -> None:
    from moto.core import utils

    for service, model in (("kinesis", "service-2"), ("glue", "paginators-1")):
        assert moto_fixes.load_service_model(service, model) == moto_fixes.original(utils, "_load_service_model")(
            service, model
        )
    assert moto_fixes.load_service_model("kinesis", "service-2") is moto_fixes.load_service_model(
        "kinesis", "service-2"
    ), "loaded once, not per call as moto's new loader per call does"


@pytest.mark.parametrize("package", ["s3", "sagemakerruntime", "dynamodbstreams", "resourcegroupstaggingapi", "ec2"])
def test_an_error_responses_service_name_is_motos(package: str) -> None:
    from moto.core import utils

    assert moto_fixes.package_service_name(package) == utils.service_name_from_moto_package_name(package)


def test_the_service_names_of_many_packages_come_from_one_listing(monkeypatch: pytest.MonkeyPatch) -> None:
    from botocore.session import Session

    listings: list[int] = []
    list_services = Session.get_available_services

    def counted(self: Session) -> list[str]:
        listings.append(1)
        return list(list_services(self))

    monkeypatch.setattr(Session, "get_available_services", counted)
    moto_fixes.service_names_by_package.cache_clear()
    try:
        names = [moto_fixes.package_service_name(p) for p in ("s3", "ec2", "sagemakerruntime", "iam", "s3")]
    finally:
        moto_fixes.service_names_by_package.cache_clear()  # the next test lists with botocore's own method
    assert names == ["s3", "ec2", "sagemaker-runtime", "iam", "s3"]
    assert len(listings) == 1  # moto listed botocore's services again for each package


def test_the_backends_session_reads_models_through_the_one_loader_and_lists_motos_regions() -> None:
    # In a process of its own: the session is moto's, made once per process.
    code = (
        "import boto3; from mlops.local import moto_fixes; moto_fixes.apply(); "
        "from moto.core.base_backend import AccountSpecificBackend as B; session = B.get_session(); "
        "print(session is B.get_session(), session._session.get_component('data_loader') is "
        "moto_fixes.shared_loader(), all(session.get_available_regions(s) == "
        "boto3.Session().get_available_regions(s) for s in ('kinesis', 'sagemaker', 's3')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert done.stdout.split() == ["True", "True", "True"]


def test_motos_service_modules_are_listed_once_with_motos_answer() -> None:
    from moto import backends

    listed = moto_fixes.moto_modules()
    assert listed == tuple(moto_fixes.original(backends, "list_of_moto_modules")())
    assert {"s3", "kinesis", "dynamodb", "sagemaker"} <= set(listed) and "core" in listed
    assert moto_fixes.moto_modules() is listed  # the same listing, not made again


def test_a_moto_without_a_replaced_method_stops_the_server_naming_it() -> None:
    class Changed:
        pass

    with pytest.raises(RuntimeError, match=r"Changed\.get_records is gone"):
        moto_fixes._replace(Changed, "get_records", moto_fixes.records_after)


def test_the_emulators_process_imports_motos_ec2_on_a_thread_of_its_own() -> None:
    code = (
        "import sys; from mlops.local import moto_server; thread = moto_server.preload(); "
        "print(thread.name, thread.daemon); thread.join(120); print('moto.ec2.models' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=150)
    assert done.stdout.split() == ["moto-preload", "True", "True"]


def _two_writers_create(monkeypatch: pytest.MonkeyPatch, put_object: Any) -> tuple[list[str], bytes]:
    """Two writers put one key with ``If-None-Match: *`` at once, each request served on a thread of its own as
    the server serves them: their outcomes and the object left."""
    from moto import mock_aws

    store = S3Backend.put_object

    def slow_store(self: S3Backend, *args: Any, **kwargs: Any) -> Any:
        time.sleep(0.5)  # both requests are in the handler before either object is stored
        return store(self, *args, **kwargs)

    monkeypatch.setattr(S3Backend, "put_object", slow_store)
    monkeypatch.setattr(S3Response, "put_object", put_object)
    gate = threading.Barrier(2)
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="tables")

        def create(body: bytes) -> str:
            gate.wait()
            try:
                s3.put_object(Bucket="tables", Key="t/_delta_log/5.json", Body=body, IfNoneMatch="*")
            except ClientError as refused:
                return str(refused.response["Error"]["Code"])
            return body.decode()

        with ThreadPoolExecutor(2) as pool:
            outcomes = list(pool.map(create, [b"first", b"second"]))
        left = s3.get_object(Bucket="tables", Key="t/_delta_log/5.json")["Body"].read()
    return outcomes, left


def test_of_two_writers_creating_one_key_at_once_one_is_refused_and_the_others_object_stays(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    guarded = moto_fixes.conditional_puts_one_at_a_time(moto_fixes.original(S3Response, "put_object"))
    outcomes, left = _two_writers_create(monkeypatch, guarded)
    assert sorted(outcomes)[0] == "PreconditionFailed"
    created = sorted(outcomes)[1]
    assert left.decode() == created


def test_motos_own_conditional_put_lets_both_writers_create_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """The race the guard closes, shown on moto's own method (so the test above can see it)."""
    outcomes, _left = _two_writers_create(monkeypatch, moto_fixes.original(S3Response, "put_object"))
    assert sorted(outcomes) == ["first", "second"]
