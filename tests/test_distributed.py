"""Distributed load runs: two local workers merge exactly, a master and a worker run as separate
processes (a multi-machine run on one box), and several masters' run directories merge exactly."""

from __future__ import annotations

import csv
import json
import socket
from collections import Counter

import pytest

from loadkit import LOCUSTFILE, finish, peakdrill, start_peakdrill, write_profile
from oracle import assert_percentile
from peakdrill.histograms import merge_buckets
from peakdrill.report.rundata import load_run
from peakdrill.rundir.histfiles import iter_records, load_buckets
from runfactory import CACHE_READ, make_run
from targets import slot_server

def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def target():
    with slot_server(slots=64, service_s=0.002) as server:
        yield server


@pytest.mark.slow
def test_two_workers_merge_exactly_into_the_single_process_reference(target, tmp_path):
    raw, reports = tmp_path / "raw", tmp_path / "reports"
    raw.mkdir()
    result = peakdrill("load", write_profile(tmp_path, users=30, seconds=8), "--host", target.url, "--workers", "2",
                       "--locustfile", LOCUSTFILE, "--reports-dir", str(reports), "--no-progress",
                       env={"PEAKDRILL_TEST_RAW_DIR": str(raw)})
    # INCONCLUSIVE: the shop's SLO endpoints (cache reads, orders, chats) do not exist on this target.
    assert result.returncode == 3, result.stdout[-3000:] + result.stderr[-3000:]
    (run_dir,) = reports.iterdir()
    meta = json.loads((run_dir / "run.json").read_text())
    assert (meta["kind"], meta["status"], meta["workers"]) == ("load", "completed", 2)

    # The master merged its workers' histograms; generator.jsonl keeps each worker's own requests.
    per_source = Counter({s: n for s, n in load_run(run_dir).health.requests.items() if s.startswith("worker-")})
    assert sum(per_source.values()) == sum(record.count for record in iter_records(run_dir))
    raw_files = {path.stem.removeprefix("raw-"): path.read_text().splitlines() for path in raw.glob("raw-*.txt")}
    assert len(per_source) == len(raw_files) == 2
    for source, count in per_source.items():  # each worker's histograms hold exactly its own requests
        assert count == len(raw_files[source.rsplit("-", 1)[1]]) > 50, (source, count)

    merged = merge_buckets(load_buckets(run_dir).values())
    raw_samples = [line.split("\t") for lines in raw_files.values() for line in lines]
    latencies = [float(latency_ms) for _, latency_ms, _, _ in raw_samples]
    assert merged.count == sum(per_source.values()) == len(raw_samples)
    assert merged.failures == sum(failed == "1" for _, _, failed, _ in raw_samples)
    for percentile in (50, 90, 99, 99.9, 100):
        assert_percentile(merged.percentile_ms(percentile), latencies, percentile)

    locust = {row["Name"]: row for row in csv.DictReader((run_dir / "locust_stats.csv").open())}
    assert int(locust["Aggregated"]["Request Count"]) == merged.count
    assert json.loads((run_dir / "score.json").read_text())["totals"]["requests"] == merged.count
    assert target.requests >= merged.count


@pytest.mark.slow
def test_a_master_and_a_worker_in_separate_processes_record_one_run(target, tmp_path):
    port, reports = str(free_port()), tmp_path / "reports"
    profile = write_profile(tmp_path, users=10, seconds=6)
    master = start_peakdrill("load", profile, "--host", target.url, "--master", "--workers", "1", "--master-bind-host",
                             "127.0.0.1", "--master-port", port, "--wait-for-workers", "60", "--locustfile", LOCUSTFILE,
                             "--reports-dir", str(reports), "--no-report", "--no-progress")
    worker = start_peakdrill("load", profile, "--worker", "--master-host", "127.0.0.1", "--master-port", port,
                             "--locustfile", LOCUSTFILE, "--reports-dir", str(tmp_path / "worker-logs"))
    try:
        master_out = finish(master, timeout=120).stdout
        worker_out = finish(worker, timeout=60).stdout
    finally:
        for process in (master, worker):
            if process.poll() is None:  # after a failure above: stop whichever still runs, with its Locust
                finish(process, timeout=0.1)
    assert master.returncode == 0, master_out[-3000:]
    assert worker.returncode == 0 and "the master ended the test" in worker_out, worker_out[-3000:]

    (run_dir,) = reports.iterdir()
    sources = Counter({s: n for s, n in load_run(run_dir).health.requests.items() if n})
    assert sum(sources.values()) == sum(record.count for record in iter_records(run_dir))
    assert len(sources) == 1 and next(iter(sources)).startswith("worker-"), sources
    locust = {row["Name"]: row for row in csv.DictReader((run_dir / "locust_stats.csv").open())}
    assert int(locust["Aggregated"]["Request Count"]) == sum(sources.values()) > 20
    assert not list((tmp_path / "worker-logs").glob("*/histograms")), "a worker writes no run data of its own"


def test_several_masters_run_directories_merge_exactly(tmp_path):
    shard_a = make_run(tmp_path / "a", run_id="20261121-231500-peak", sources=("worker-1-100", "worker-2-101"), seed=1)
    shard_b = make_run(tmp_path / "b", run_id="20261121-231502-peak", sources=("worker-1-100",), seed=2,
                       start_ts=shard_a.spec.start_ts + 2)
    out = tmp_path / "merged"
    result = peakdrill("merge", str(shard_a.path), str(shard_b.path), "-o", str(out))
    assert result.returncode in (0, 1, 3) and f"run completed: {out}" in result.stdout, result.stdout + result.stderr

    merged = load_buckets(out)
    a, b = load_buckets(shard_a.path), load_buckets(shard_b.path)
    assert set(merged) == set(a) | set(b)
    assert sum(x.count for x in merged.values()) == shard_a.record_count + shard_b.record_count
    reads = merge_buckets(bucket for (_, name), bucket in merged.items() if name == CACHE_READ)
    latencies = shard_a.latencies(CACHE_READ) + shard_b.latencies(CACHE_READ)
    assert reads.count == len(latencies)
    for percentile in (50, 95, 99):
        assert_percentile(reads.percentile_ms(percentile), latencies, percentile)

    # Same-named load processes on two machines stay apart, and the run covers both shards.
    sources = {record["source"] for path in (out / "histograms").glob("*.jsonl")
               for record in map(json.loads, path.read_text().splitlines()) if "source" in record}
    assert {"20261121-231500-peak/worker-1-100", "20261121-231502-peak/worker-1-100"} <= sources
    meta = json.loads((out / "run.json").read_text())
    assert meta["start_ts"] == shard_a.spec.start_ts and [s["run_id"] for s in meta["shards"]] == [
        "20261121-231500-peak", "20261121-231502-peak"]
    score = json.loads((out / "score.json").read_text())
    assert score["totals"]["requests"] == shard_a.record_count + shard_b.record_count


def test_merge_refuses_a_non_empty_output_and_a_shard_given_twice(tmp_path):
    shard = make_run(tmp_path / "a")
    again = peakdrill("merge", str(shard.path), str(shard.path), "-o", str(tmp_path / "out"))
    assert again.returncode == 2 and "listed twice" in again.stderr
    other = make_run(tmp_path / "b", run_id="20261121-231502-demo")
    taken = peakdrill("merge", str(shard.path), str(other.path), "-o", str(tmp_path / "a"))
    assert taken.returncode == 2 and "not empty" in taken.stderr


@pytest.mark.parametrize(("args", "quoted"), [
    (["--host", "http://203.0.113.7:8800"], "refusing to send load or faults to '203.0.113.7'"),
    ([], "--host: no target given"),
    (["--host", "http://127.0.0.1:9", "--workers", "0"], "argument --workers: '0' is out of range"),
    (["--host", "http://127.0.0.1:9", "--master", "--worker"], "a process is either the master or a worker"),
])
def test_bad_load_runs_are_refused_before_any_load(tmp_path, args, quoted):
    result = peakdrill("load", write_profile(tmp_path, users=1, seconds=1), "--locustfile", LOCUSTFILE,
                       "--reports-dir", str(tmp_path / "r"), *args, timeout=60)
    assert result.returncode == 2 and quoted in result.stderr, result.stderr
    assert not (tmp_path / "r").exists()
