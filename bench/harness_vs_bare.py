"""How much does peakdrill cost a Locust process? One run, one table.

    .venv/bin/python bench/harness_vs_bare.py            # about 1.5 minutes

Against one fast endpoint (peakdrill's built-in keep-alive server, pinned to its own core so
it is not the limit), each on the same single core:

- ``bare``: a plain Locust ``FastHttpUser`` GET loop, no think time, no peakdrill;
- ``harness``: the same loop through peakdrill's hooks (keep-alive fix, per-second HdrHistograms
  recorded and written to a run directory, generator health): ``peakdrill/sizing/locustfile.py``;
- ``wrk``: the endpoint's own limit from this core, so the two above can be read against it;

and, with ``--live``, the harness again while peakdrill's live views watch its run directory
(``bench/live_watcher.py``: the Prometheus metrics scraped every second, the live report page
loaded every 3 seconds), on the generator's own core; they must cost it at most 5%;

and the memory of one idle simulated user: the RSS of a harness process holding N users that
wait, minus one holding a single user, over N - 1.

Requests are counted by the server, not by the generators. On a shared machine a generator gets
less than its core whenever a neighbour is busy, so raw requests/s swing by tens of percent from
run to run; the comparison therefore uses requests per CPU-second of the generator process (what
one core buys), from bare and harness runs interleaved ``--repeat`` times, median of each. The
harness must reach 70% of bare; the exit code is 1 when it does not.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from peakdrill.sizing.calibrate import CALIBRATION_LOCUSTFILE
from peakdrill.sizing.fastserver import FastServer

REQUIRED_RATIO = 0.70
LIVE_REQUIRED_RATIO = 0.95
LIVE_WATCHER = Path(__file__).with_name("live_watcher.py")
BARE_LOCUSTFILE = """\
from locust import FastHttpUser, constant, task


class Bare(FastHttpUser):
    wait_time = constant(0)

    @task
    def get(self):
        self.client.get("/")
"""


@dataclass(frozen=True, slots=True)
class Throughput:
    name: str
    rps: float
    cpu_percent: float
    per_cpu_second: float


def _median(runs: list[Throughput]) -> Throughput:
    # Each column on its own: the median run by requests/s need not be the median by CPU.
    return Throughput(runs[0].name, *(statistics.median(getattr(r, column) for r in runs)
                                      for column in ("rps", "cpu_percent", "per_cpu_second")))


def _cores() -> tuple[int, int]:
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        sys.exit("bench: needs two cores, one for the generator and one for the server")
    return cores[0], cores[1]


def _locust(locustfile: Path, url: str, users: int, seconds: int, core: int, env: dict[str, str],
            extra: list[str]) -> subprocess.Popen:
    command = [sys.executable, "-m", "locust", "-f", str(locustfile), "--headless", "--host", url,
               "-u", str(users), "-r", str(users), "-t", f"{seconds}s", "--stop-timeout", "0",
               "--only-summary", "--loglevel", "ERROR", *extra]
    return subprocess.Popen(["taskset", "-c", str(core), *command], env=dict(os.environ, **env),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _finish(process: subprocess.Popen) -> None:
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def _measure_generator(name: str, process: subprocess.Popen, server: FastServer, warmup: float, window: float) -> Throughput:
    try:
        time.sleep(warmup)
        locust = psutil.Process(process.pid)  # taskset execs Locust in place: same pid
        locust.cpu_percent()
        before = server.counters.requests
        time.sleep(window)
        rps = (server.counters.requests - before) / window
        cpu = locust.cpu_percent()
        return Throughput(name, rps, cpu, rps / (cpu / 100) if cpu else 0.0)
    finally:
        _finish(process)


def _wrk(url: str, seconds: int, core: int) -> Throughput:
    output = subprocess.run(["taskset", "-c", str(core), "wrk", "-t1", "-c50", f"-d{seconds}s", url],
                            capture_output=True, text=True, timeout=seconds + 30, check=True).stdout
    return Throughput("wrk (-t1 -c50)", float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)), 0.0, 0.0)


def _rss_with_idle_users(url: str, users: int, core: int, scratch: Path) -> int:
    env = {"PEAKDRILL_CALIBRATE_THINK": "3600,3600"}
    process = _locust(CALIBRATION_LOCUSTFILE, url, users, 60, core, env, ["--peakdrill-run-dir", str(scratch)])
    try:
        # All users started (spawn rate = users) and settled after their one request.
        time.sleep(8 + users / 2000)
        return psutil.Process(process.pid).memory_info().rss
    finally:
        process.terminate()
        _finish(process)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=50, help="concurrent users of the GET loops (default 50)")
    parser.add_argument("--seconds", type=int, default=20, help="length of each loop run (default 20)")
    parser.add_argument("--idle-users", type=int, default=5000, help="users for memory per idle user (default 5000)")
    parser.add_argument("--repeat", type=int, default=3, help="interleaved bare/harness runs, median taken (default 3)")
    parser.add_argument("--live", action="store_true",
                        help="also run the harness with the live views watching it (docs/live.md); they must cost <= 5%%")
    args = parser.parse_args()
    generator_core, server_core = _cores()
    os.sched_setaffinity(0, {server_core})  # the server thread lives in this process
    warmup, window = 4.0, args.seconds - 6.0
    with FastServer() as server, tempfile.TemporaryDirectory() as scratch_dir:
        scratch = Path(scratch_dir)
        bare_file = scratch / "bare_locustfile.py"
        bare_file.write_text(BARE_LOCUSTFILE)
        bare_runs, harness_runs, live_runs = [], [], []
        for attempt in range(args.repeat):
            if args.live:
                live_runs.append(_measure_live(server, args, generator_core, scratch / f"live-{attempt}", warmup, window))
            bare_runs.append(_measure_generator("bare Locust FastHttpUser", _locust(
                bare_file, server.url, args.users, args.seconds, generator_core, {}, []), server, warmup, window))
            harness_runs.append(_measure_generator("peakdrill harness (hooks + histograms)", _locust(
                CALIBRATION_LOCUSTFILE, server.url, args.users, args.seconds, generator_core,
                {"PEAKDRILL_CALIBRATE_THINK": "0,0"}, ["--peakdrill-run-dir", str(scratch / f"run-{attempt}")]),
                server, warmup, window))
        wrk = _wrk(server.url, 10, generator_core) if shutil.which("wrk") else None
        one = _rss_with_idle_users(server.url, 1, generator_core, scratch / "idle-1")
        many = _rss_with_idle_users(server.url, args.idle_users, generator_core, scratch / "idle-n")
    bare, harness = _median(bare_runs), _median(harness_runs)
    live = _median(live_runs) if live_runs else None
    per_user = (many - one) / (args.idle_users - 1)
    ratio = harness.per_cpu_second / bare.per_cpu_second
    print(f"{'on 1 core, ' + str(args.users) + ' users, no think time, median of ' + str(args.repeat):<44} "
          f"{'req/s':>8} {'CPU %':>6} {'req/CPU-s':>10} {'of bare':>8}")
    for row in (bare, harness, *([live] if live else [])):
        print(f"{row.name:<44} {row.rps:>8,.0f} {row.cpu_percent:>6.0f} {row.per_cpu_second:>10,.0f} "
              f"{row.per_cpu_second / bare.per_cpu_second:>8.0%}")
    print(f"{wrk.name + ': the endpoint limit':<44} {wrk.rps:>8,.0f}" if wrk else "wrk: not installed (apt-get install wrk)")
    print(f"memory per idle simulated user (harness, {args.idle_users:,} vs 1 users): {per_user / 1024:,.1f} KiB")
    print(f"harness / bare (req per CPU-second) = {ratio:.0%}, required >= {REQUIRED_RATIO:.0%}: "
          f"{'PASS' if ratio >= REQUIRED_RATIO else 'FAIL'}")
    live_ok = True
    if live is not None:
        live_ratio = live.per_cpu_second / harness.per_cpu_second
        live_ok = live_ratio >= LIVE_REQUIRED_RATIO
        print(f"harness with live views / harness (req per CPU-second) = {live_ratio:.0%} "
              f"(req/s {live.rps / harness.rps:.0%}), required >= {LIVE_REQUIRED_RATIO:.0%}: {'PASS' if live_ok else 'FAIL'}")
    return 0 if ratio >= REQUIRED_RATIO and live_ok else 1


def _measure_live(server: FastServer, args, core: int, run_dir: Path, warmup: float, window: float) -> Throughput:
    """The harness run while the live views watch its run directory from the same core."""
    watcher = subprocess.Popen(["taskset", "-c", str(core), sys.executable, str(LIVE_WATCHER), str(run_dir),
                                str(args.seconds)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(1.0)  # run.json written before the first histogram
        return _measure_generator("harness + live views (metrics + page)", _locust(
            CALIBRATION_LOCUSTFILE, server.url, args.users, args.seconds, core,
            {"PEAKDRILL_CALIBRATE_THINK": "0,0"}, ["--peakdrill-run-dir", str(run_dir)]), server, warmup, window)
    finally:
        _finish(watcher)


if __name__ == "__main__":
    sys.exit(main())
