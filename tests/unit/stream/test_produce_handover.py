"""The producer puts each chunk while the next is being made, in order; a put's error stops the making and is
raised to the caller, and an error of the caller's side stops the puts."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence

import pytest

from mlops.ports.events import EventStreamError, OutgoingEvent, PutOutcome
from pipelines.stream.produce import CHUNK, send


class _Stream:
    """A stand-in stream: records every put; can hold the first put until released, or fail a put."""

    name = "events"

    def __init__(self, fail_on: int | None = None, hold_first: bool = False) -> None:
        self.puts: list[list[str]] = []
        self.putting = threading.Event()
        self.release = threading.Event()
        self._fail_on, self._hold_first = fail_on, hold_first

    def put(self, records: Sequence[OutgoingEvent]) -> PutOutcome:
        self.putting.set()
        if self._hold_first and not self.puts:
            assert self.release.wait(10)
        if self._fail_on == len(self.puts):
            raise EventStreamError(f"stream {self.name!r}: put {self._fail_on} rejected")
        self.puts.append([record.key for record in records])
        return PutOutcome(sent=len(records), calls=1)

    def subscribe(self, consumer: str, owner: str) -> None:
        raise NotImplementedError


def _event(number: int) -> OutgoingEvent:
    return OutgoingEvent(f"k{number}", b"{}")


def test_a_chunk_is_put_while_the_next_is_made_and_the_order_is_kept() -> None:
    stream = _Stream(hold_first=True)
    made_during_first_put: list[int] = []

    def events() -> Iterator[OutgoingEvent]:
        for number in range(2 * CHUNK + 7):
            if number == CHUNK + 1:  # the first chunk was handed over: its put runs now, the maker goes on
                assert stream.putting.wait(10)
                made_during_first_put.append(number)
                stream.release.set()
            yield _event(number)

    assert send(stream, events()) == (2 * CHUNK + 7, 3, 0)  # type: ignore[arg-type]
    assert made_during_first_put == [CHUNK + 1]
    assert [key for put in stream.puts for key in put] == [f"k{n}" for n in range(2 * CHUNK + 7)]


def test_a_put_that_fails_stops_the_making_and_its_error_reaches_the_caller() -> None:
    stream = _Stream(fail_on=1)
    made: list[int] = []

    def events() -> Iterator[OutgoingEvent]:
        for number in range(50 * CHUNK):
            made.append(number)
            yield _event(number)

    with pytest.raises(EventStreamError, match="put 1 rejected"):
        send(stream, events())  # type: ignore[arg-type]
    assert len(stream.puts) == 1
    assert len(made) < 10 * CHUNK  # not the whole file: the maker stopped soon after the failure


def test_an_error_of_the_makers_side_stops_the_puts_of_what_is_still_handed_over() -> None:
    stream = _Stream(hold_first=True)

    def events() -> Iterator[OutgoingEvent]:
        for number in range(3 * CHUNK):
            if number == 2 * CHUNK + 1:  # two chunks handed over, the first one's put held a second longer
                threading.Timer(1.0, stream.release.set).start()
                raise KeyboardInterrupt
            yield _event(number)

    with pytest.raises(KeyboardInterrupt):
        send(stream, events())  # type: ignore[arg-type]
    assert len(stream.puts) == 1  # the held put ends; the chunk handed over after it is not put
