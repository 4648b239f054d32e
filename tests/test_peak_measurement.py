"""Measurement at peak size (issue 9): the master merges its workers' histograms as they arrive, and
what it writes equals an independent reference computed from the raw samples, even when a
worker's reports arrive late.

The reference is numpy over every raw response time the load processes wrote
(``PEAKDRILL_TEST_RAW_DIR``); HdrHistogram keeps 3 significant digits, so a percentile is compared
by its equivalent value range, computed by the ``hdrhistogram`` package, not by peakdrill.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hdrh.histogram import HdrHistogram

from loadkit import LOCUSTFILE, peakdrill, write_profile
from peakdrill.histograms import Bucket, merge_buckets
from peakdrill.loadgen.secondbook import HOLD_OPEN_S, SecondBook
from peakdrill.report.rundata import ALL, load_run
from peakdrill.report import series as series_module
from peakdrill.report.series import HORIZON_S
from peakdrill.rundir import RunDir
from peakdrill.rundir import histfiles
from peakdrill.rundir.histfiles import iter_records, load_buckets
from targets import slot_server

LAYOUT = HdrHistogram(1, 3_600_000_000, 3)


def _raw_samples(raw_dir: Path) -> list[tuple[int, float, bool]]:
    """(start second, response time ms, failed) of every request any load process made."""
    samples = []
    for path in raw_dir.glob("raw-*.txt"):
        for line in path.read_text().splitlines():
            _, latency, failed, start = line.split("\t")
            samples.append((int(float(start)), float(latency), failed == "1"))
    return samples


def _assert_equals_reference(merged: Bucket, latencies_ms: list[float]) -> None:
    micros = np.sort(np.clip(np.round(np.array(latencies_ms) * 1000), 1, 3_600_000_000).astype(np.int64))
    assert merged.count == micros.size
    for percentile in (50, 90, 99, 99.9):
        exact = int(micros[max(int(percentile / 100 * micros.size + 0.5), 1) - 1])
        reported = round(merged.percentile_ms(percentile) * 1000)
        assert LAYOUT.get_lowest_equivalent_value(exact) <= reported <= LAYOUT.get_highest_equivalent_value(exact), \
            (percentile, exact, reported)
    assert round(merged.max_ms() * 1000) == LAYOUT.get_highest_equivalent_value(int(micros[-1]))


def _run(tmp_path: Path, target, workers: int, seconds: int, env: dict) -> Path:
    raw = tmp_path / "raw"
    raw.mkdir()
    result = peakdrill("load", write_profile(tmp_path, users=40, seconds=seconds), "--host", target.url,
                       "--workers", str(workers), "--locustfile", LOCUSTFILE, "--reports-dir", str(tmp_path / "reports"),
                       "--no-progress", env={"PEAKDRILL_TEST_RAW_DIR": str(raw), "PEAKDRILL_TEST_PACING_S": "0.25", **env})
    assert result.returncode == 3, result.stdout[-3000:] + result.stderr[-3000:]  # no SLO endpoints here
    (run_dir,) = (tmp_path / "reports").iterdir()
    return run_dir


@pytest.fixture
def target():
    with slot_server(slots=64, service_s=0.003) as server:
        yield server


@pytest.mark.slow
def test_a_master_and_three_workers_write_merged_records_equal_to_the_raw_samples(target, tmp_path):
    run_dir = _run(tmp_path, target, workers=3, seconds=10, env={})
    samples = _raw_samples(tmp_path / "raw")
    records = list(iter_records(run_dir))
    assert RunDir(run_dir).meta().format == 2
    # One record per (second, endpoint) for the whole master, not one per worker.
    assert len(records) == len({(r.second, r.name) for r in records})
    assert len(list((tmp_path / "raw").glob("raw-*.txt"))) == 3 and len(samples) > 1000

    by_second = Counter(second for second, _, _ in samples)
    buckets = load_buckets(run_dir)
    assert {second: b.count for (second, _), b in buckets.items()} == dict(by_second)
    _assert_equals_reference(merge_buckets(buckets.values()), [latency for _, latency, _ in samples])
    assert merge_buckets(buckets.values()).failures == sum(failed for _, _, failed in samples)

    data = load_run(run_dir)  # the report's streaming path gives the same
    series = data.series(ALL)
    assert dict(zip(series.seconds.tolist(), series.count.tolist())) == dict(by_second)
    _assert_equals_reference(data.endpoint_totals["GET /"], [latency for _, latency, _ in samples])
    workers = {s: n for s, n in data.health.requests.items() if s.startswith("worker-")}
    assert len(workers) == 3 and sum(workers.values()) == len(samples)
    score = json.loads((run_dir / "score.json").read_text())
    assert score["totals"]["requests"] == len(samples)


@pytest.mark.slow
def test_a_worker_whose_reports_arrive_late_loses_and_misplaces_no_sample(target, tmp_path):
    delay = HOLD_OPEN_S + 6  # past the master's hold-open time: its records must be written late
    run_dir = _run(tmp_path, target, workers=2, seconds=14,
                   env={"PEAKDRILL_TEST_DELAY_WORKER": "1", "PEAKDRILL_TEST_DELAY_S": str(delay)})
    samples = _raw_samples(tmp_path / "raw")
    lines = [json.loads(line) for path in (run_dir / "histograms").glob("*.jsonl") for line in path.read_text().splitlines()]
    assert any(line.get("late") for line in lines), "the delayed worker's records should have come after the hold"

    expected = Counter(second for second, _, _ in samples)
    buckets = load_buckets(run_dir)
    assert {second: b.count for (second, _), b in buckets.items()} == dict(expected)
    for second in expected:  # each second's histogram is exactly its own samples
        _assert_equals_reference(buckets[(second, "GET /")], [lat for s, lat, _ in samples if s == second])
    series = load_run(run_dir).series(ALL)
    assert dict(zip(series.seconds.tolist(), series.count.tolist())) == dict(expected)


def test_the_report_merges_records_later_than_its_streaming_horizon(tmp_path, monkeypatch):
    """A master holds a second open HOLD_OPEN_S; what comes later is written as 'late' (here, far
    later than the report's streaming horizon) and still lands in its own second."""
    now = [1_000_000.0]
    (tmp_path / "histograms").mkdir()
    RunDir(tmp_path).write_meta({"run_id": "late", "start_ts": now[0], "end_ts": now[0] + 400, "status": "completed"})
    book = SecondBook(tmp_path, "master-1", clock=lambda: now[0])
    rng = np.random.default_rng(5)
    reference: dict[int, Bucket] = {}
    held: list[tuple[int, list[dict]]] = []
    for step in range(400):
        second = int(now[0])
        for worker in ("worker-0-1", "worker-1-2"):
            bucket = Bucket()
            for latency in rng.lognormal(2.0, 0.5, size=5):
                bucket.record(float(latency), False)
                reference.setdefault(second, Bucket()).record(float(latency), False)
            index = sorted(bucket.counts)
            wire = [{"second": second, "name": "GET /", "failures": 0, "index": index,
                     "counts": [bucket.counts[i] for i in index]}]
            if worker == "worker-1-2" and step < 20:
                held.append((second, wire))  # this worker's first 20 s arrive 300 s late
            else:
                book.add(worker, wire, [{"ts": now[0], "cpu_percent": 30.0, "users": 2, "rps": 5}])
        if step == 320:
            for _, wire in held:
                book.add("worker-1-2", wire, [])
        now[0] += 1
        book.close_due()
    book.close_all()
    assert book.late_records == 20
    # Small batches, closing seconds as soon as the horizon allows: what a long run does.
    monkeypatch.setattr(series_module, "OPEN_LIMIT", 0)
    monkeypatch.setattr(histfiles, "BATCH", 16)
    data = load_run(tmp_path)
    assert any(f"more than {HORIZON_S} s out of order" in w for w in data.warnings)
    series = data.series(ALL)
    assert dict(zip(series.seconds.tolist(), series.count.tolist())) == {s: b.count for s, b in reference.items()}
    for row, second in enumerate(series.seconds.tolist()):
        assert series.p(99.0)[row] == reference[second].percentile_ms(99)
    assert data.health.requests == {"worker-0-1": 2000, "worker-1-2": 2000}


def _format2_shard(path: Path, start_ts: float, seed: int) -> list[float]:
    """A master's run directory written by SecondBook: 30 s of two workers; returns every latency."""
    (path / "histograms").mkdir(parents=True)
    RunDir(path).write_meta({"run_id": path.name, "start_ts": start_ts, "end_ts": start_ts + 30, "status": "completed",
                             "stages": [{"name": "peak", "start_s": 0, "end_s": 30, "users": 4, "measured": True}]})
    now = [start_ts]
    book = SecondBook(path, "master-7", clock=lambda: now[0])
    rng, latencies = np.random.default_rng(seed), []
    for _ in range(30):
        for worker in ("worker-1-100", "worker-2-101"):  # the same names on both machines
            bucket = Bucket()
            for latency in rng.lognormal(2.5, 0.7, size=20):
                bucket.record(float(latency), False)
                latencies.append(float(latency))
            index = sorted(bucket.counts)
            book.add(worker, [{"second": int(now[0]), "name": "GET /", "failures": 0, "index": index,
                               "counts": [bucket.counts[i] for i in index]}],
                     [{"ts": now[0], "cpu_percent": 20.0, "users": 2, "rps": 20}])
        now[0] += 1
        book.close_due()
    book.close_all()
    return latencies


def test_format_2_shards_of_several_masters_merge_exactly(tmp_path):
    a = _format2_shard(tmp_path / "20261121-231500-peak", 1_795_302_900.0, 1)
    b = _format2_shard(tmp_path / "20261121-231502-peak", 1_795_302_902.0, 2)
    result = peakdrill("merge", str(tmp_path / "20261121-231500-peak"), str(tmp_path / "20261121-231502-peak"),
                       "-o", str(tmp_path / "merged"), "--no-report")
    assert result.returncode == 0, result.stdout + result.stderr
    data = load_run(tmp_path / "merged")
    _assert_equals_reference(data.endpoint_totals["GET /"], a + b)
    # Same-named workers on two machines stay apart, each with its own requests.
    assert data.health.requests == {"20261121-231500-peak/worker-1-100": 600, "20261121-231500-peak/worker-2-101": 600,
                                    "20261121-231502-peak/worker-1-100": 600, "20261121-231502-peak/worker-2-101": 600}
