"""Compensations of multi-step registry changes run newest first, and what they could not undo is reported."""

from __future__ import annotations

from mlops.registry.undo import Undo


def test_steps_are_undone_newest_first_and_the_error_says_so() -> None:
    done: list[str] = []
    undo = Undo("promoting model 'm' v2")
    undo.add("package restored", lambda: done.append("package"))
    undo.add("alias restored", lambda: done.append("alias"))
    cause = RuntimeError("tag refused")

    undo.run(cause)

    assert done == ["alias", "package"]
    assert cause.__notes__ == ["promoting model 'm' v2 failed; undone: alias restored; package restored"]


def test_a_failing_compensation_does_not_stop_the_others_and_is_reported() -> None:
    done: list[str] = []

    def broken() -> None:
        raise OSError("tracking server gone")

    undo = Undo("registering model 'm'")
    undo.add("version 3 deleted", lambda: done.append("version"))
    undo.add("package rejected", broken)
    cause = RuntimeError("alias refused")

    undo.run(cause)

    assert done == ["version"]
    assert cause.__notes__ == [
        "registering model 'm' failed; undone: version 3 deleted",
        "registering model 'm' failed; could NOT undo: package rejected (OSError: tracking server gone)",
    ]


def test_steps_run_once() -> None:
    calls: list[int] = []
    undo = Undo("op")
    undo.add("step", lambda: calls.append(1))
    undo.run(RuntimeError("first"))
    undo.run(RuntimeError("second"))
    assert calls == [1]
