"""How long does `peakdrill report` take on a peak-sized run, and how much memory? One run, one row.

    .venv/bin/python bench/report_at_scale.py --seconds 3600 --endpoints 20 --workers 200   # ~2 min

Writes a realistic run directory with peakdrill's own encoder, as a master writes it (format 2,
the default): per second and endpoint one merged histogram of that second's requests (lognormal
response times, 5-300 ms medians by endpoint, a cache outage making the cache reads 15x slower for
5 minutes, 0.5% failures), one ``generator.jsonl`` line per second with a column per load process
(``--workers``), the drill's events and a scrape every 2 s kept as the scraper keeps it. Format 1
(``--format 1``: one record and one health line per load process per second, as before format 2)
is there to compare with. Then it runs ``peakdrill report`` on it in a child process and prints
the directory's size, the report's wall time and the child's peak RSS (``ru_maxrss``).

Requests are spread over the endpoints by a Zipf-like weight, ``--rps`` in total, so a record
holds from a few to a few hundred distinct buckets, as on a real peak.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from peakdrill.histograms import Bucket, indices_of
from peakdrill.report.servermetrics import keep_used
from peakdrill.rundir import FORMAT_VERSION, RunDir, append_lines
from peakdrill.rundir.histfiles import hist_record

START_TS = 1_795_302_900.0
FAULT = (1200, 1500)  # the cache outage, in seconds of the run
CACHE_ENDPOINTS = 4


def _endpoints(count: int) -> list[tuple[str, float, float]]:
    """(name, median ms, share of the requests) per endpoint."""
    weights = 1 / np.arange(1, count + 1)
    weights /= weights.sum()
    medians = np.geomspace(5, 300, count)
    return [(f"GET /api/endpoint-{i:02d}" if i >= CACHE_ENDPOINTS else f"GET /api/products/{i}", float(m), float(w))
            for i, (m, w) in enumerate(zip(medians, weights))]


def _run_json(path: Path, args, endpoints) -> None:
    RunDir(path).write_meta({
        "format": args.format, "run_id": path.name, "kind": "drill", "drill": {"name": "bench"},
        "stages": [{"name": "warm-up", "start_s": 0, "end_s": 60, "users": 100, "measured": False},
                   {"name": "peak", "start_s": 60, "end_s": args.seconds, "users": 1000, "measured": True}],
        "timeline": [{"at_s": FAULT[0] - 5, "experiment": "experiments/cache-outage.yaml", "title": "cache outage",
                      "recovery_target_s": 60}],
        "endpoints": {"cache_read": [name for name, _, _ in endpoints[:CACHE_ENDPOINTS]],
                      "order": [endpoints[CACHE_ENDPOINTS][0]]},
        "slo": {"cache_read_p99_ms": 400, "order_success_rate": 0.98, "recovery_window_s": 10},
        "start_ts": START_TS, "end_ts": START_TS + args.seconds, "status": "completed"})


def _events(path: Path, seconds: int) -> None:
    fault = {"fault_id": "cache-1", "fault": "cache-outage", "target": "redis", "experiment": "experiments/cache-outage.yaml"}
    events = [(0, {"type": "run_started"}), (FAULT[0], {"type": "fault_injected", **fault}),
              (FAULT[1], {"type": "fault_removed", **fault, "by": "rollback"}), (seconds, {"type": "run_finished"})]
    append_lines(path / "events.jsonl", [{"ts": START_TS + t, "t": t, **e} for t, e in events])


def _scrapes(path: Path, seconds: int) -> None:
    lines = []
    for t in range(0, seconds, 2):
        text = "\n".join(f'shop_cache_op_duration_seconds_{kind}{{op="get",result="{result}"}} {t * 50 + 1}'
                         for kind in ("count", "sum", "bucket") for result in ("hit", "miss", "error"))
        lines.append({"ts": START_TS + t, "url": "http://127.0.0.1:8800/metrics", "ok": True,
                      "text": keep_used("# TYPE shop_cache_op_duration_seconds histogram\n" + text)})
    append_lines(path / "server-metrics.jsonl", lines)


def _second(rng, endpoints, rps: float, t: int) -> list[tuple[str, np.ndarray, int]]:
    """(endpoint, bucket indices of its requests, failures) for one second."""
    result = []
    for number, (name, median, share) in enumerate(endpoints):
        count = rng.poisson(rps * share)
        if not count:
            continue
        slow = 15 if number < CACHE_ENDPOINTS and FAULT[0] <= t < FAULT[1] else 1
        micros = np.clip(np.round(rng.lognormal(np.log(median * slow * 1000), 0.6, count)), 1, 3_600_000_000)
        result.append((name, indices_of(micros.astype(np.int64)), int(rng.binomial(count, 0.005))))
    return result


def _bucket(index: np.ndarray, failures: int) -> Bucket:
    keys, counts = np.unique(index, return_counts=True)
    return Bucket(dict(zip(keys.tolist(), counts.tolist())), failures)


def write_run(path: Path, args) -> None:
    endpoints = _endpoints(args.endpoints)
    (path / "histograms").mkdir(parents=True)
    (path / "journals").mkdir()
    _run_json(path, args, endpoints)
    _events(path, args.seconds)
    _scrapes(path, args.seconds)
    rng = np.random.default_rng(9)
    workers = [f"worker-{i}-{4000 + i}" for i in range(args.workers)]
    names = ["master-3999", *workers]
    hist_path = path / "histograms" / "master-3999.jsonl"
    for t in range(args.seconds):
        second = int(START_TS) + t
        records, health = [], []
        share = rng.multinomial(1000, [1 / args.workers] * args.workers) / 1000  # who sent what, this second
        for name, index, failures in _second(rng, endpoints, args.rps, t):
            if args.format == 2:
                records.append(hist_record(second, name, _bucket(index, failures)))
            else:  # one record per worker: split the second's requests among them
                parts = np.split(rng.permutation(index), np.cumsum((share * len(index)).astype(int))[:-1])
                records += [hist_record(second, name, _bucket(part, 0), source=worker)
                            for worker, part in zip(workers, parts) if len(part)]
        cpu = np.round(rng.uniform(30, 60, args.workers), 1).tolist()
        if args.format == 2:
            line = {"second": second, "master": "master-3999", "cpu_percent": [2.0, *cpu],
                    "users": [0] + [1000 // args.workers] * args.workers,
                    "rps": [0, *np.round(share * args.rps).astype(int).tolist()],
                    "requests": [0, *np.round(share * args.rps).astype(int).tolist()]}
            health.append({"names": names, **line} if t == 0 else line)
        else:
            health += [{"ts": second + 0.5, "source": w, "cpu_percent": c, "users": 1000 // args.workers,
                        "rps": round(s * args.rps)} for w, c, s in zip(workers, cpu, share)]
        append_lines(hist_path, records)
        append_lines(path / "generator.jsonl", health)


def _size_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


def time_report(path: Path, out: Path) -> tuple[float, float, float, int]:
    """Wall seconds, CPU seconds, peak RSS (MB) and exit code of `peakdrill report` in a child process.
    On a shared machine the wall time includes waiting for a core; the CPU time does not."""
    started = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-m", "peakdrill.cli", "report", str(path), "--output-dir", str(out)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) not in (0, 1, 3):
        raise SystemExit(f"peakdrill report failed: {child.stderr.read().decode()[-2000:]}")
    return elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=3600)
    parser.add_argument("--endpoints", type=int, default=20)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--rps", type=float, default=2000.0, help="requests per second over all endpoints")
    parser.add_argument("--format", type=int, choices=(1, 2), default=FORMAT_VERSION)
    parser.add_argument("--keep", metavar="DIR", help="write the run directory here and keep it")
    parser.add_argument("--report-only", metavar="RUN_DIR", help="only time the report of this run directory")
    args = parser.parse_args()
    if args.report_only:
        elapsed, cpu, rss_mb, _ = time_report(Path(args.report_only), Path(tempfile.mkdtemp(prefix="peakdrill-bench-")))
        print(f"{args.report_only}: {_size_mb(Path(args.report_only)):.1f} MB, report {elapsed:.1f} s (CPU {cpu:.1f} s), "
              f"peak RSS {rss_mb:.0f} MB")
        return 0
    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="peakdrill-bench-"))
    path = base / f"bench-{args.seconds}s-{args.endpoints}ep-{args.workers}w-f{args.format}"
    try:
        started = time.perf_counter()
        write_run(path, args)
        written = time.perf_counter() - started
        elapsed, cpu, rss_mb, code = time_report(path, base / "out")
        score = json.loads((base / "out" / "score.json").read_text())
        print("| seconds | endpoints | workers | format | requests | run dir | report time (CPU) | report peak RSS |")
        print(f"| {args.seconds} | {args.endpoints} | {args.workers} | {args.format} | {score['totals']['requests']:,} | "
              f"{_size_mb(path):.1f} MB | {elapsed:.1f} s ({cpu:.1f} s) | {rss_mb:.0f} MB |")
        print(f"(written in {written:.0f} s; verdict {score['verdict']}, exit {code})", file=sys.stderr)
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
