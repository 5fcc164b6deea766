"""The XML front of the GCS emulator (mlops/local/gcs_xml.py): what delta-rs needs and fake-gcs-server lacks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mlops.local import gcp_emulators
from mlops.local.gcs_xml import _keys_after

pytestmark = pytest.mark.server

LISTING = (
    b'<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>b</Name><KeyCount>3</KeyCount>'
    b"<Contents><Key>t/0.json</Key></Contents><Contents><Key>t/1.json</Key></Contents>"
    b"<Contents><Key>t/2.json</Key></Contents></ListBucketResult>"
)


def test_a_listing_keeps_only_the_keys_after_start_after() -> None:
    kept = _keys_after(LISTING, "t/1.json")
    assert b"t/0.json" not in kept and b"t/1.json" not in kept and b"<Key>t/2.json</Key>" in kept
    assert b"<KeyCount>1</KeyCount>" in kept


@pytest.fixture(scope="module")
def front(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if gcp_emulators.unavailable_reason(("gcs",)) is not None:
        pytest.skip(str(gcp_emulators.unavailable_reason(("gcs",))))
    directory: Path = tmp_path_factory.mktemp("gcs")
    started = gcp_emulators.start(directory, names=("gcs",), tied_to_caller=True)
    try:
        yield started.get("gcs").url
    finally:
        gcp_emulators.stop(directory)


def test_an_xml_put_lands_and_a_create_only_put_of_an_existing_object_is_refused(front: str) -> None:
    httpx.post(f"{front}/storage/v1/b", json={"name": "lake"}).raise_for_status()
    create_only = {"x-goog-if-generation-match": "0", "Content-Type": "application/json"}
    first = httpx.put(f"{front}/lake/t%2F_delta_log%2F0.json", content=b"{}", headers=create_only)
    assert first.status_code == 200 and first.headers["ETag"] and first.headers["x-goog-generation"]
    second = httpx.put(f"{front}/lake/t%2F_delta_log%2F0.json", content=b"[]", headers=create_only)
    assert second.status_code == 412  # the commit lost: the version exists
    assert httpx.get(f"{front}/lake/t/_delta_log/0.json").content == b"{}"
    httpx.put(f"{front}/lake/t%2F_delta_log%2F1.json", content=b"{}").raise_for_status()  # unconditional
    listing = httpx.get(
        f"{front}/lake", params={"list-type": "2", "prefix": "t/", "start-after": "t/_delta_log/0.json"}
    )
    assert b"<Key>t/_delta_log/1.json</Key>" in listing.content and b"0.json" not in listing.content
