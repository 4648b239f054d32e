"""Many users in one Locust process, with and without peakdrill's keep-alive fix.

    .venv/bin/python bench/keepalive_at_scale.py --users 15000          # about 3 minutes

Runs the same think-time user (GET /, 5-15 s between requests) twice against the built-in
keep-alive server: once through peakdrill's hooks, once as a plain locustfile, and prints what
the server saw (TCP connections accepted, requests, whole run) next to what Locust reported once
every user was running (p50/p99, ``--reset-stats``) and the generator's CPU. Without the fix, every user whose socket landed past descriptor 1024 reconnects
on each request. Needs an open-file hard limit above the user count (see docs/scaling.md).
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from peakdrill.loadgen.keepalive import raise_fd_limit
from peakdrill.sizing.fastserver import FastServer
from peakdrill.sizing.idle_users import write_idle_locustfile

def run(url: str, users: int, spawn_rate: int, seconds: int, with_fix: bool, scratch: Path) -> dict:
    locustfile = write_idle_locustfile(scratch, with_fix, think_s=(5, 15))
    prefix = scratch / locustfile.stem
    process = subprocess.Popen(
        [sys.executable, "-m", "locust", "-f", str(locustfile), "--headless", "--host", url, "-u", str(users),
         "-r", str(spawn_rate), "-t", f"{seconds}s", "--stop-timeout", "0", "--only-summary", "--loglevel", "ERROR", "--reset-stats",
         "--csv", str(prefix)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    watched = psutil.Process(process.pid)
    cpu = []
    try:
        watched.cpu_percent()
        while process.poll() is None:
            time.sleep(1.0)
            try:
                cpu.append(watched.cpu_percent())
            except psutil.NoSuchProcess:
                break
        process.wait(timeout=seconds + 60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    with open(f"{prefix}_stats.csv", newline="") as stats:
        total = next(row for row in csv.DictReader(stats) if row["Name"] == "Aggregated")
    steady = cpu[len(cpu) // 2:]  # the second half: every user spawned
    return {"p50_ms": float(total["50%"]), "p99_ms": float(total["99%"]), "locust_requests": int(total["Request Count"]),
            "cpu_steady": sum(steady) / max(1, len(steady))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=15000)
    parser.add_argument("--spawn-rate", type=int, default=500)
    parser.add_argument("--seconds", type=int, default=75, help="each run's length (default 75)")
    args = parser.parse_args()
    soft, _ = raise_fd_limit(args.users)
    if soft < args.users + 200:
        sys.exit(f"bench: the open-file limit {soft} is too low for {args.users} users; see docs/scaling.md")
    print(f"{'run':<22} {'users':>7} {'connections':>12} {'requests':>9} {'p50 ms':>7} {'p99 ms':>8} {'CPU % (steady)':>15}")
    for with_fix in (True, False):
        with FastServer() as server, tempfile.TemporaryDirectory() as scratch:
            result = run(server.url, args.users, args.spawn_rate, args.seconds, with_fix, Path(scratch))
            connections, requests = server.counters.connections, server.counters.requests
        name = "peakdrill (fixed)" if with_fix else "plain Locust"
        print(f"{name:<22} {args.users:>7,} {connections:>12,} {requests:>9,} {result['p50_ms']:>7.0f} "
              f"{result['p99_ms']:>8.0f} {result['cpu_steady']:>15.0f}", flush=True)
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end (shared)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
