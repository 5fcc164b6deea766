"""Monitoring on a schedule, locally as on AWS: the schedule expression, its ticks, and one run per tick.

The expression is EventBridge's (``rate(1 hour)``, ``cron(0 * ? * * *)``), the form the stack's other schedules
use. Model Monitor runs hourly (its ``cron(0 * ? * * *)``), and the monitoring alarms judge 3600 s periods, so
hourly is the default (:data:`DEFAULT_SCHEDULE`). Each tick runs :func:`run_tick`, the same function
``mlops monitor run`` calls once: a scheduler elsewhere (cron, EventBridge Scheduler starting a task) runs that
command and gets the same run. A run judges the period that ended at its tick, as Model Monitor's hourly job
judges the previous hour.

Supported cron fields: minute and hour as a number, ``*`` or ``*/n``; the day fields must be ``*`` or ``?``
(anything finer is refused by name rather than misread).
"""

from __future__ import annotations

import re
import time as time_module
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from mlops.errors import MonitoringError

DEFAULT_SCHEDULE = "cron(0 * ? * * *)"
_RATE = re.compile(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)")
_CRON = re.compile(r"cron\((\S+) (\S+) (\S+) (\S+) (\S+)(?: (\S+))?\)")
_UNITS = {"minute": 60, "hour": 3600, "day": 86400}


@dataclass(frozen=True)
class Schedule:
    """Ticks at ``minutes`` past each hour in ``hours`` (cron), or every ``every`` from the epoch (rate)."""

    expression: str
    every: timedelta | None = None
    minutes: tuple[int, ...] = ()
    hours: tuple[int, ...] = ()

    def next_tick(self, after: datetime) -> datetime:
        """The first tick strictly after ``after`` (UTC)."""
        moment = after.astimezone(UTC)
        if self.every is not None:
            step = self.every.total_seconds()
            return datetime.fromtimestamp((moment.timestamp() // step + 1) * step, UTC)
        candidate = moment.replace(second=0, microsecond=0) + timedelta(minutes=1)
        for _ in range(60 * 24 + 1):
            if candidate.minute in self.minutes and candidate.hour in self.hours:
                return candidate
            candidate += timedelta(minutes=1)
        raise MonitoringError(f"schedule {self.expression!r} has no tick within a day")

    def last_tick(self, at: datetime) -> datetime:
        """The latest tick at or before ``at`` (what a run started by hand at ``at`` judges up to)."""
        moment = at.astimezone(UTC)
        if self.every is not None:
            step = self.every.total_seconds()
            return datetime.fromtimestamp(moment.timestamp() // step * step, UTC)
        candidate = moment.replace(second=0, microsecond=0)
        for _ in range(60 * 24 + 1):
            if candidate.minute in self.minutes and candidate.hour in self.hours:
                return candidate
            candidate -= timedelta(minutes=1)
        raise MonitoringError(f"schedule {self.expression!r} has no tick within a day")

    def period_before(self, tick: datetime) -> tuple[datetime, datetime]:
        """The window a run at ``tick`` judges: from the previous tick to ``tick``."""
        probe = tick - timedelta(minutes=1)
        previous = tick - timedelta(days=1)
        while True:
            following = self.next_tick(previous)
            if following >= tick:
                return previous, tick
            if following > probe:
                return following, tick
            previous = following


def _field(value: str, limit: int, name: str, expression: str) -> tuple[int, ...]:
    if value == "*":
        return tuple(range(limit))
    if value.startswith("*/") and value[2:].isdigit() and int(value[2:]) > 0:
        return tuple(range(0, limit, int(value[2:])))
    if value.isdigit() and int(value) < limit:
        return (int(value),)
    raise MonitoringError(f"schedule {expression!r}: {name} field {value!r} is not a number, '*' or '*/n'")


def parse_schedule(expression: str) -> Schedule:
    """An EventBridge ``rate(...)`` or ``cron(...)`` expression (module docstring for what is supported)."""
    text = expression.strip()
    rate = _RATE.fullmatch(text)
    if rate:
        count, unit = int(rate.group(1)), rate.group(2).rstrip("s")
        if count < 1:
            raise MonitoringError(f"schedule {expression!r}: a rate must be at least 1")
        return Schedule(text, every=timedelta(seconds=count * _UNITS[unit]))
    cron = _CRON.fullmatch(text)
    if cron is None:
        raise MonitoringError(f"schedule {expression!r} is neither rate(N unit) nor cron(min hour dom month dow year)")
    minute, hour, *days = (g for g in cron.groups() if g is not None)
    finer = [d for d in days if d not in ("*", "?")]
    if finer:
        raise MonitoringError(f"schedule {expression!r}: day/month fields {finer} are not supported (use * or ?)")
    return Schedule(text, minutes=_field(minute, 60, "minute", text), hours=_field(hour, 24, "hour", text))


def run_on_schedule(
    schedule: Schedule,
    run_tick: Callable[[datetime, datetime], object],
    *,
    runs: int | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    sleep: Callable[[float], object] = time_module.sleep,
) -> int:
    """Wait for each tick and call ``run_tick(start, end)`` with the period it judges; stop after ``runs`` runs
    (forever without). A failing run is reported by ``run_tick``'s caller; the loop goes on to the next tick."""
    done = 0
    while runs is None or done < runs:
        tick = schedule.next_tick(clock())
        wait = (tick - clock()).total_seconds()
        if wait > 0:
            sleep(wait)
        start, end = schedule.period_before(tick)
        run_tick(start, end)
        done += 1
    return done
