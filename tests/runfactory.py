"""Synthetic but realistic run directories for the report tests (format: docs/run-directory.md).

Two load processes record into :class:`peakdrill.histograms.Recorder` exactly as the Locust hooks
do: cache-backed product reads (~5 ms, ~80 ms while the cache is out and for ``recovery_lag_s``
after), order placement and payment, a tracking read, and the ``CS first response``
pseudo-endpoint. Every raw latency is kept in :attr:`SyntheticRun.samples` so tests can build
single-histogram references.
"""

from __future__ import annotations

import json
import math
import random
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from peakdrill.histograms import Recorder
from peakdrill.rundir.histfiles import records_of

CACHE_READ = "GET /api/products/[id]"
ORDER = "POST /api/orders"
PAY = "POST /api/orders/[id]/pay"
TRACKING = "GET /api/tracking/[id]"
CS = "CS first response"


@dataclass
class RunSpec:
    duration_s: int = 120
    warmup_s: int = 20
    fault: tuple[float, float] | None = (45.0, 75.0)  # t of injection and removal
    fault_removed: bool = True
    recovery_lag_s: float | None = 5.0  # reads stay slow this long after removal; None: never recover
    normal_cache_ms: float = 5.0
    fault_cache_ms: float = 80.0
    cache_reads_per_s: int = 30  # per source
    orders_per_s: int = 4  # per source; each order is followed by a payment
    order_failure_rate: float = 0.005
    cs_first_response_s: float = 8.0
    saturated: tuple[int, float, float] | None = None  # (source index, from t, to t) at 97% CPU
    status: str = "completed"  # or interrupted, aborted, failed, running
    stop_at: float | None = None  # data ends here (interrupted/crashed runs)
    torn_last_line: bool = False
    recovery_target_s: float = 30.0
    recovery_window_s: int = 10
    sources: tuple[str, ...] = ("worker-1-41001", "worker-2-41002")
    start_ts: float = 1795302900.12
    run_id: str = "20261121-231500-demo"
    seed: int = 7
    server_metrics: bool = True


@dataclass
class SyntheticRun:
    path: Path
    spec: RunSpec
    samples: dict[tuple[int, str], list[float]] = field(default_factory=lambda: defaultdict(list))
    record_count: int = 0  # sum of `count` over every histogram record written

    def latencies(self, name: str, seconds=None) -> list[float]:
        return [v for (s, n), values in self.samples.items() if n == name and (seconds is None or s in seconds)
                for v in values]


def _cache_latency(spec: RunSpec, t: float, rng: random.Random) -> float:
    slow = False
    if spec.fault is not None:
        inject, remove = spec.fault
        until = math.inf if (spec.recovery_lag_s is None or not spec.fault_removed) else remove + spec.recovery_lag_s
        slow = inject <= t < until
    median = spec.fault_cache_ms if slow else spec.normal_cache_ms
    return rng.lognormvariate(math.log(median), 0.25)


def make_run(tmp_path: Path, spec: RunSpec | None = None, **changes) -> SyntheticRun:
    spec = spec or RunSpec(**changes)
    run_dir = Path(tmp_path) / spec.run_id
    (run_dir / "histograms").mkdir(parents=True)
    (run_dir / "journals").mkdir()
    run = SyntheticRun(path=run_dir, spec=spec)
    end_t = spec.stop_at if spec.stop_at is not None else float(spec.duration_s)
    rng = random.Random(spec.seed)
    first, last = int(spec.start_ts), int(spec.start_ts + end_t)
    order_counter = 0
    every = max(1, round(1 / spec.order_failure_rate)) if spec.order_failure_rate > 0 else 0
    for source in spec.sources:
        recorder = Recorder(source)
        lines = []
        for second in range(first, last):
            t = second + 0.5 - spec.start_ts
            if t < 0 or t > end_t:
                continue
            batch = []
            for _ in range(spec.cache_reads_per_s):
                batch.append((CACHE_READ, _cache_latency(spec, t, rng), False))
            for _ in range(spec.orders_per_s):
                order_counter += 1
                failed = bool(every) and order_counter % every == 0
                batch.append((ORDER, rng.lognormvariate(math.log(25), 0.3), failed))
                batch.append((PAY, rng.lognormvariate(math.log(40), 0.3), False))
            batch.append((TRACKING, rng.lognormvariate(math.log(15), 0.3), False))
            batch.append((CS, max(500.0, rng.gauss(spec.cs_first_response_s * 1000, 2500)), False))
            for name, latency, failed in batch:
                recorder.record(second, name, latency, failed)
                run.samples[(second, name)].append(latency)
            if (second - first) % 3 == 2:
                lines.extend(records_of(recorder.drain(before_second=second + 1), source=source))
        lines.extend(records_of(recorder.drain(), source=source))
        run.record_count += sum(r["count"] for r in lines)
        text = "".join(json.dumps(r) + "\n" for r in lines)
        if spec.torn_last_line and source == spec.sources[0]:
            text += json.dumps({"second": last, "name": CACHE_READ, "source": source, "count": 3,
                                "failures": 0, "hist": "HISTFAAAA"})[:57]
        (run_dir / "histograms" / f"{source}.jsonl").write_text(text, encoding="utf-8")
    _write_run_json(run_dir, spec, end_t)
    _write_events(run_dir, spec, end_t)
    _write_generator(run_dir, spec, end_t)
    _write_journal(run_dir, spec)
    if spec.server_metrics:
        _write_server_metrics(run_dir, spec, end_t)
    return run


def _write_run_json(run_dir: Path, spec: RunSpec, end_t: float) -> None:
    running = spec.status == "running"
    data = {
        "format": 1, "run_id": spec.run_id, "kind": "drill",
        "drill": {"name": "demo", "file": "drills/demo.yaml", "description": "synthetic test drill"},
        "profile": {"name": "demo", "file": "loadtests/profiles/demo.yaml"}, "scale": 1.0,
        "target": {"url": "http://127.0.0.1:8800", "allowed_hosts": ["127.0.0.1", "localhost", "::1"]},
        "stages": [
            {"name": "warm-up", "start_s": 0, "end_s": spec.warmup_s, "users": 20, "measured": False},
            {"name": "steady", "start_s": spec.warmup_s, "end_s": spec.duration_s, "users": 40, "measured": True},
        ],
        "timeline": [{"at_s": spec.fault[0] - 5 if spec.fault else 40, "experiment": "experiments/cache-outage.yaml",
                      "title": "Cache server outage", "recovery_target_s": spec.recovery_target_s}],
        "slo": {"cache_read_p99_ms": 50, "order_success_rate": 0.98, "cs_first_response_s": 30,
                "recovery_window_s": spec.recovery_window_s},
        "endpoints": {"cache_read": [CACHE_READ], "order": [ORDER, PAY], "cs_first_response": [CS]},
        "versions": {"peakdrill": "0.1.0", "locust": "2.47.0", "chaostoolkit-lib": "1.44.0", "python": "3.11.7"},
        "start_ts": spec.start_ts, "started_at": "2026-11-21T23:15:00Z",
        "end_ts": None if running else spec.start_ts + end_t,
        "ended_at": None if running else "2026-11-21T23:17:00Z",
        "status": spec.status,
    }
    (run_dir / "run.json").write_text(json.dumps(data, indent=2), encoding="utf-8")


def _write_events(run_dir: Path, spec: RunSpec, end_t: float) -> None:
    events = [(0.0, {"type": "run_started", "run_id": spec.run_id}),
              (0.2, {"type": "load_started", "pid": 41000, "workers": len(spec.sources)}),
              (0.3, {"type": "stage_started", "stage": "warm-up", "users": 20}),
              (spec.warmup_s, {"type": "stage_started", "stage": "steady", "users": 40})]
    experiment = "experiments/cache-outage.yaml"
    if spec.fault:
        inject, remove = spec.fault
        fault = {"fault_id": "cache-outage-1", "fault": "cache-outage", "target": "redis", "experiment": experiment}
        events.append((inject - 5, {"type": "experiment_started", "experiment": experiment,
                                    "title": "Cache server outage"}))
        events.append((inject, {"type": "fault_injected", **fault}))
        if spec.fault_removed and remove > end_t and spec.status in ("interrupted", "aborted"):
            events.append((end_t, {"type": "fault_removed", **fault, "by": "rollback"}))
        if spec.fault_removed and remove <= end_t:
            events.append((remove, {"type": "fault_removed", **fault, "by": "rollback"}))
            events.append((remove + 1, {"type": "experiment_finished", "experiment": experiment,
                                        "status": "completed", "deviated": False}))
    if spec.status == "interrupted":
        events.append((end_t, {"type": "interrupted", "signal": "SIGINT"}))
    if spec.status != "running":
        events.append((end_t, {"type": "load_stopped", "exit_code": 0}))
        events.append((end_t + 0.1, {"type": "run_finished", "status": spec.status}))
    lines = [json.dumps({"ts": spec.start_ts + t, "t": t, **e}) for t, e in sorted(events, key=lambda x: x[0])
             if t <= end_t + 0.1]
    (run_dir / "events.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _write_generator(run_dir: Path, spec: RunSpec, end_t: float) -> None:
    rng = random.Random(spec.seed + 1)
    lines = []
    for step in range(int(end_t)):
        for index, source in enumerate(spec.sources):
            cpu = 35 + rng.random() * 15
            if spec.saturated and spec.saturated[0] == index and spec.saturated[1] <= step < spec.saturated[2]:
                cpu = 97.0
            lines.append(json.dumps({"ts": spec.start_ts + step + 0.5, "source": source, "cpu_percent": round(cpu, 1),
                                     "users": 20, "rps": float(spec.cache_reads_per_s + 2 * spec.orders_per_s + 2)}))
    (run_dir / "generator.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _write_journal(run_dir: Path, spec: RunSpec) -> None:
    journal = {"chaoslib-version": "1.44.0", "experiment": {"title": "Cache server outage"},
               "status": "completed" if spec.status == "completed" else "interrupted",
               "deviated": False, "steady_states": {}, "run": [], "rollbacks": []}
    (run_dir / "journals" / "01-cache-outage.json").write_text(json.dumps(journal), encoding="utf-8")


def _write_server_metrics(run_dir: Path, spec: RunSpec, end_t: float) -> None:
    counts = {"hit": 0, "miss": 0, "error": 0}
    sums = dict.fromkeys(counts, 0.0)
    lines = []
    for step in range(0, int(end_t), 2):
        in_fault = spec.fault is not None and spec.fault[0] <= step < spec.fault[1]
        adds = {"hit": 0, "miss": 4, "error": 110} if in_fault else {"hit": 100, "miss": 10, "error": 0}
        for result, n in adds.items():
            counts[result] += n
            sums[result] += n * (0.0004 if result != "error" else 0.002)
        text = ["# HELP shop_cache_op_duration_seconds Cache operation latency",
                "# TYPE shop_cache_op_duration_seconds histogram"]
        for result in counts:
            labels = f'op="get",result="{result}"'
            text.append(f'shop_cache_op_duration_seconds_bucket{{{labels},le="0.001"}} {counts[result]}')
            text.append(f'shop_cache_op_duration_seconds_bucket{{{labels},le="+Inf"}} {counts[result]}')
            text.append(f"shop_cache_op_duration_seconds_count{{{labels}}} {counts[result]}")
            text.append(f"shop_cache_op_duration_seconds_sum{{{labels}}} {sums[result]:.6f}")
        record = {"ts": spec.start_ts + step, "url": "http://127.0.0.1:8800/metrics", "ok": True,
                  "text": "\n".join(text) + "\n"}
        if step == 60:
            record = {"ts": spec.start_ts + step, "url": record["url"], "ok": False, "error": "timed out"}
        lines.append(json.dumps(record))
    (run_dir / "server-metrics.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
