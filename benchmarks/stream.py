"""Benchmark: the event stream on one emulator - producer, consumer, event-to-online-feature freshness - and what
those figures mean against Kinesis's per-shard write limits.

    .venv/bin/python benchmarks/stream.py [--rows 20000] [--naive 1000] [--rate 400] [--seconds 15]

One platform in a temporary state dir (``mlops local up``: moto's Kinesis and DynamoDB, the infra program), then,
in this process, on the platform's ports:

1. producer: the kit's producer (:func:`pipelines.stream.produce.send`: PutRecords batches of up to 500, failed
   entries retried) vs a naive loop of one ``put_record`` call per event, on the same prepared events;
2. consumer: :func:`pipelines.stream.consume.consume` draining what step 1 sent into the online store (DynamoDB):
   records/s read, items written;
3. freshness: a producer thread puts events at a steady ``--rate`` (one put every 100 ms) while the consumer
   runs; an event's freshness is the time from the start of the put that carried it to the end of the
   online-store write that made its features current (the consumer's ``process``), p50/p99 over the run;
4. the same against Kinesis's documented limits: a shard takes 1,000 records/s or 1 MiB/s written, whichever
   comes first for the measured record size; the table shows how many shards the measured rates would need and
   what the stack's shard count carries.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
MLOPS = str(Path(sys.executable).parent / "mlops")
DATASET = "card_transactions"
SHARD_RECORDS_PER_S = 1_000
SHARD_BYTES_PER_S = 1_048_576


@dataclass
class Figures:
    rows: int = 0
    record_bytes: float = 0.0
    kit_per_s: float = 0.0
    naive_per_s: float = 0.0
    consumer_per_s: float = 0.0
    consumer_written: int = 0
    steady_rate: float = 0.0
    freshness_ms: list[float] = field(default_factory=list)
    shards: int = 1


def platform_in(state_dir: Path) -> Any:
    from mlops.outputs import load_outputs
    from mlops.settings import load_settings
    from mlops.wiring import build_platform

    settings = load_settings(target="moto", state_dir=state_dir)
    return build_platform(settings, load_outputs(settings.resolved_outputs_file, settings.stack_name))


def prepared_events(platform: Any, work: Path, rows: int, seed: int) -> list[Any]:
    """``rows`` card transactions as the producer sends them (checked and encoded; entity key as partition key)."""
    from mlops.datasets import find_definition
    from pipelines.stream.produce import prepare
    from pipelines.stream.quarantine import Quarantine

    path = work / f"events-{seed}.parquet"
    argv = [MLOPS, "data", "generate", DATASET, "--rows", str(rows), "--seed", str(seed), "--out", str(path)]
    subprocess.run(argv, check=True, capture_output=True, cwd=REPO, env=os.environ.copy(), timeout=300)
    definition = find_definition(DATASET, REPO / "pipelines" / "datasets")
    quarantine = Quarantine(platform.services.object_store, platform.layout.bucket("quarantine"), DATASET, "produce")
    return list(prepare(path, definition, quarantine).records)


def producers(platform: Any, events: list[Any], naive: int, figures: Figures) -> None:
    from mlops.local.clients import clients_of
    from pipelines.stream.produce import send

    started = time.perf_counter()
    sent, _, _ = send(platform.services.events, events)
    figures.kit_per_s = sent / (time.perf_counter() - started)
    kinesis, stream = clients_of(platform).client("kinesis"), platform.services.events.name
    started = time.perf_counter()
    for event in events[:naive]:
        kinesis.put_record(StreamName=stream, Data=event.data, PartitionKey=event.key)
    figures.naive_per_s = naive / (time.perf_counter() - started)


def drain(platform: Any, figures: Figures) -> None:
    from mlops.datasets import find_definition
    from pipelines.stream.consume import consume

    definition = find_definition(DATASET, REPO / "pipelines" / "datasets")
    result = consume(platform, definition, idle_seconds=1.0)
    figures.consumer_per_s = result.read / max(result.seconds - 1.0, 1e-9)  # minus the final idle second
    figures.consumer_written = result.written


def freshness(platform: Any, events: list[Any], rate: float, seconds: float, figures: Figures) -> None:
    """Steady produce at ``rate`` while the consumer runs; freshness per event from its put to its store write."""
    from mlops.datasets import find_definition
    from pipelines.stream import consume as consuming

    definition = find_definition(DATASET, REPO / "pipelines" / "datasets")
    put_at: dict[str, float] = {}
    done = threading.Event()
    total = min(len(events), int(rate * seconds))

    def produce() -> None:
        step, started = max(1, int(rate / 10)), time.perf_counter()
        for start in range(0, total, step):
            chunk = events[start : start + step]
            now = time.perf_counter()
            for event in chunk:
                put_at[json.loads(event.data)["transaction_id"]] = now
            platform.services.events.put(chunk)
            ahead = (start + step) / rate - (time.perf_counter() - started)
            if ahead > 0:
                time.sleep(ahead)
        figures.steady_rate = total / (time.perf_counter() - started)
        done.set()

    original = consuming.StreamConsumer.process

    def timed_process(self: Any, deliveries: list[Any]) -> dict[str, str]:
        positions = original(self, deliveries)
        written = time.perf_counter()
        for delivery in deliveries:
            sent = put_at.get(json.loads(delivery.data)["transaction_id"])
            if sent is not None:
                figures.freshness_ms.append((written - sent) * 1000)
        return positions

    consuming.StreamConsumer.process = timed_process  # type: ignore[method-assign]
    producer = threading.Thread(target=produce, daemon=True)
    producer.start()
    try:
        consuming.consume(platform, definition, idle_seconds=2.0, max_records=total)
    finally:
        consuming.StreamConsumer.process = original  # type: ignore[method-assign]
        done.wait(timeout=seconds * 3)


def stack_shards(platform: Any) -> int:
    from mlops.local.clients import clients_of

    kinesis = clients_of(platform).client("kinesis")
    summary = kinesis.describe_stream_summary(StreamName=platform.services.events.name)["StreamDescriptionSummary"]
    return int(summary.get("OpenShardCount") or 1)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)] if ordered else float("nan")


def table(f: Figures, naive: int) -> str:
    per_shard = min(SHARD_RECORDS_PER_S, SHARD_BYTES_PER_S / f.record_bytes)
    bound = "records" if per_shard == SHARD_RECORDS_PER_S else "bytes"
    lines = [
        f"event stream on one emulator (moto), {f.rows:,} events of {f.record_bytes:.0f} bytes; "
        f"{os.cpu_count()} cores, load 1-min avg {os.getloadavg()[0]:.1f}",
        f"{'measure':<44} {'value':>12}  {'shards it needs':>15}",
        f"{'producer, naive put_record loop (' + str(naive) + ')':<44} {f.naive_per_s:>10,.0f}/s  "
        f"{math.ceil(f.naive_per_s / per_shard):>15}",
        f"{'producer, the kit (PutRecords batches)':<44} {f.kit_per_s:>10,.0f}/s  "
        f"{math.ceil(f.kit_per_s / per_shard):>15}",
        f"{'  kit vs naive':<44} {f.kit_per_s / f.naive_per_s:>11.1f}x  {'(goal >= 30x)':>15}",
        f"{'consumer into the online store':<44} {f.consumer_per_s:>10,.0f}/s  "
        f"{math.ceil(f.consumer_per_s / per_shard):>15}",
        f"{'steady produce rate (freshness run)':<44} {f.steady_rate:>10,.0f}/s  "
        f"{math.ceil(f.steady_rate / per_shard):>15}",
        f"{'freshness p50 (put -> online features)':<44} {_pct(f.freshness_ms, 0.5):>10,.0f}ms",
        f"{'freshness p99':<44} {_pct(f.freshness_ms, 0.99):>10,.0f}ms  "
        f"({len(f.freshness_ms):,} events, mean {statistics.fmean(f.freshness_ms or [0]):,.0f} ms)",
        f"Kinesis: a shard takes {per_shard:,.0f} records/s of this size (bound by {bound}: 1,000 records/s or "
        f"1 MiB/s); the stack's {f.shards} shard(s) carry {f.shards * per_shard:,.0f} records/s written, "
        f"{f.shards * 2 * SHARD_BYTES_PER_S / f.record_bytes:,.0f} records/s read (2 MiB/s per shard).",
        "One consumer process is measured: more shards need more consumers (one lease owner per shard) once the "
        "written rate passes the consumer's rate.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=20_000, help="Events the kit's producer sends.")
    parser.add_argument("--naive", type=int, default=1_000, help="Events the naive put_record loop sends.")
    parser.add_argument("--rate", type=float, default=400.0, help="Steady produce rate of the freshness run.")
    parser.add_argument("--seconds", type=float, default=15.0, help="Length of the freshness run.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-stream-") as tmp:
        work = Path(tmp)
        state_dir = work / "state"
        os.environ.update({"MLOPS_STATE_DIR": str(state_dir), "MLOPS_CONFIG_FILE": str(work / "absent.yaml")})
        os.environ["MLOPS_LOCAL_SPARK__ENABLED"] = "false"  # no job runs here
        subprocess.run([MLOPS, "local", "up"], check=True, capture_output=True, cwd=REPO, timeout=600)
        try:
            figures = run(platform_in(state_dir), work, args)
        finally:
            subprocess.run([MLOPS, "local", "down"], capture_output=True, cwd=REPO, timeout=120)
    print(table(figures, args.naive))


def run(platform: Any, work: Path, args: argparse.Namespace) -> Figures:
    figures = Figures(shards=stack_shards(platform))
    events = prepared_events(platform, work, args.rows, seed=1)
    figures.rows = len(events)
    figures.record_bytes = statistics.fmean(len(e.data) + len(e.key.encode()) for e in events)
    producers(platform, events, args.naive, figures)
    print(f"producer: kit {figures.kit_per_s:,.0f}/s, naive {figures.naive_per_s:,.0f}/s", file=sys.stderr)
    drain(platform, figures)
    print(f"consumer: {figures.consumer_per_s:,.0f}/s", file=sys.stderr)
    steady = prepared_events(platform, work, int(args.rate * args.seconds), seed=2)
    freshness(platform, steady, args.rate, args.seconds, figures)
    return figures


if __name__ == "__main__":
    main()
