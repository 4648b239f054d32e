"""Can one Locust master take the reports of 200 workers x 20 endpoints? CPU and lag, one table.

    .venv/bin/python bench/master_ingest.py --workers 200 --endpoints 20 --seconds 120   # ~3 minutes

Starts a real Locust master (``locust --master --headless`` with peakdrill's hooks and
``--peakdrill-run-dir``) and, in one other process, N simulated workers speaking Locust's own
protocol over ZeroMQ: ``client_ready``, heartbeats every second, ``spawning``/``spawning_complete``
on ``spawn``, and every 3 s (Locust's report interval) a real ``stats`` message: Locust's
``RequestStats`` serialised as a worker serialises it, plus peakdrill's payload (sparse per-second
histograms from :class:`peakdrill.histograms.Recorder`, one health sample per second). At stop they
answer peakdrill's flush. The simulated load is ``--rps`` requests/s in total, over every worker
and endpoint, with lognormal response times.

Measured: the master's CPU (user + system, from /proc via psutil) over the steady part of the run,
as a share of one core; how far each written second lags behind real time (when its record appeared
in the file minus the end of the second); and that the run directory holds exactly the requests
the workers sent. Exit code 1 when CPU > 50% of a core or the lag's maximum > 10 s.
"""

from __future__ import annotations

import sys

if "--simulate" in sys.argv:  # the simulated workers run under gevent, as Locust workers do
    from gevent import monkey

    monkey.patch_all()

import argparse
import json
import os
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
LOCUSTFILE = ROOT / "tests" / "target_locustfile.py"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def simulate(port: int, workers: int, endpoints: int, rps: float, counts_file: Path) -> None:
    """The simulated workers (runs in its own process, under gevent like Locust)."""
    import random

    import gevent
    import gevent.event
    from locust import __version__
    from locust.rpc import Message, zmqrpc
    from locust.stats import RequestStats

    from peakdrill.histograms import Recorder
    from peakdrill.loadgen.plugin import FINAL_MESSAGE, FLUSH_MESSAGE, PAYLOAD_KEY

    names = [f"/api/endpoint-{i:02d}" for i in range(endpoints)]
    sent = {"requests": 0}
    done = gevent.event.Event()

    class Worker:
        def __init__(self, index: int) -> None:
            self.id = f"sim-{index}-{os.getpid()}"
            self.source = f"worker-{index}-{os.getpid()}"
            self.client = zmqrpc.Client("127.0.0.1", port, self.id)
            self.stats, self.recorder, self.health = RequestStats(), Recorder(self.source), []
            self.users, self.running, self.rng = 0, False, random.Random(index)

        def payload(self, everything: bool = False) -> dict:
            histograms = self.recorder.drain(None if everything else int(time.time()))
            health, self.health = self.health, []
            return {"source": self.source, "histograms": histograms, "health": health}

        def report(self) -> None:
            data = {"stats": self.stats.serialize_stats(), "stats_total": self.stats.total.get_stripped_report(),
                    "errors": self.stats.serialize_errors(), "user_count": self.users,
                    "user_classes_count": {"PacedGetUser": self.users}, PAYLOAD_KEY: self.payload()}
            self.stats.errors = {}
            self.client.send(Message("stats", data, self.id))

        def listen(self) -> None:
            while True:
                msg = self.client.recv()
                if msg.type == "spawn":
                    self.client.send(Message("spawning", None, self.id))
                    self.users = sum(msg.data["user_classes_count"].values())
                    self.running = True
                    self.client.send(Message("spawning_complete", {"user_classes_count": msg.data["user_classes_count"],
                                                                   "user_count": self.users}, self.id))
                elif msg.type == FLUSH_MESSAGE:
                    self.running = False
                    self.client.send(Message(FINAL_MESSAGE, self.payload(everything=True), self.id))
                elif msg.type == "stop":
                    self.running = False
                    self.client.send(Message("client_stopped", None, self.id))
                elif msg.type == "quit":
                    done.set()
                    return

        def live(self) -> None:
            """Each second: this worker's share of the requests, a heartbeat, a health sample; a report every 3 s."""
            tick = 0
            while not done.is_set():
                gevent.sleep(1.0 - time.time() % 1.0)
                now = time.time()
                if self.running:
                    count = int(rps / workers) + (self.rng.random() < (rps / workers) % 1)
                    for _ in range(count):
                        name, latency = self.rng.choice(names), self.rng.lognormvariate(3.0, 0.6)
                        self.stats.log_request("GET", name, latency, 512)
                        self.recorder.record(int(now) - 1, f"GET {name}", latency, False)
                    sent["requests"] += count
                    self.health.append({"ts": now - 0.5, "source": self.source, "cpu_percent": 35.0,
                                        "users": self.users, "rps": count})
                self.client.send(Message("heartbeat", {"state": "running" if self.running else "ready",
                                                       "current_cpu_usage": 35.0, "current_memory_usage": 90e6}, self.id))
                tick += 1
                if self.running and tick % 3 == 0:
                    self.report()

    fleet = [Worker(i) for i in range(workers)]
    for worker in fleet:
        worker.client.send(Message("client_ready", __version__, worker.id))
        gevent.spawn(worker.listen)
        gevent.spawn(worker.live)
    done.wait()
    counts_file.write_text(json.dumps(sent))


def _poll_lag(hist_path: Path, offset: int, lags: list[float]) -> int:
    try:
        with hist_path.open("rb") as stream:
            stream.seek(offset)
            data = stream.read()
    except FileNotFoundError:
        return offset
    complete = data[: data.rfind(b"\n") + 1]
    now = time.time()
    for line in complete.splitlines():
        record = json.loads(line)
        if not record.get("late"):
            lags.append(now - (record["second"] + 1))
    return offset + len(complete)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=200)
    parser.add_argument("--endpoints", type=int, default=20)
    parser.add_argument("--seconds", type=int, default=120)
    parser.add_argument("--rps", type=float, default=2000.0, help="requests per second over all simulated workers")
    parser.add_argument("--simulate", nargs=2, metavar=("PORT", "COUNTS_FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.simulate:
        simulate(int(args.simulate[0]), args.workers, args.endpoints, args.rps, Path(args.simulate[1]))
        return 0

    scratch = Path(tempfile.mkdtemp(prefix="peakdrill-ingest-"))
    run_dir, port = scratch / "run", _free_port()
    run_dir.mkdir()
    master = subprocess.Popen(
        [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--master", "--headless", "--master-bind-host", "127.0.0.1",
         "--master-bind-port", str(port), "--expect-workers", str(args.workers), "-u", str(args.workers),
         "-r", str(args.workers), "-t", f"{args.seconds}s", "--host", "http://127.0.0.1:9", "--peakdrill-run-dir", str(run_dir),
         "--loglevel", "WARNING", "--logfile", str(scratch / "master.log")],
        stdout=subprocess.DEVNULL, stderr=(scratch / "master.err").open("wb"))
    simulator = subprocess.Popen([sys.executable, __file__, "--workers", str(args.workers), "--endpoints", str(args.endpoints),
                                  "--rps", str(args.rps), "--simulate", str(port), str(scratch / "sent.json")])
    watched = psutil.Process(master.pid)
    hist_path = run_dir / "histograms" / f"master-{master.pid}.jsonl"
    lags: list[float] = []
    offset, cpu_start, cpu_end = 0, None, None
    try:
        deadline = time.monotonic() + args.seconds + 120
        while master.poll() is None and time.monotonic() < deadline:
            time.sleep(0.5)
            offset = _poll_lag(hist_path, offset, lags)
            if cpu_start is None and lags:  # steady: the first second is written
                cpu_start = (time.monotonic(), sum(watched.cpu_times()[:2]))
            if cpu_start and time.monotonic() - cpu_start[0] < args.seconds - 15:
                cpu_end = (time.monotonic(), sum(watched.cpu_times()[:2]))
        simulator.wait(timeout=60)
    finally:
        for process in (master, simulator):
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=30)
    sent = json.loads((scratch / "sent.json").read_text())["requests"]
    written = sum(json.loads(line)["count"] for path in (run_dir / "histograms").glob("*.jsonl")
                  for line in path.read_text().splitlines())
    cpu_share = (cpu_end[1] - cpu_start[1]) / (cpu_end[0] - cpu_start[0]) if cpu_start and cpu_end else float("nan")
    lags.sort()
    median = lags[len(lags) // 2] if lags else float("nan")
    print("| workers | endpoints | requests/s | master CPU (share of one core) | lag p50 | lag max | requests sent = written |")
    print(f"| {args.workers} | {args.endpoints} | {args.rps:g} | {cpu_share:.0%} | {median:.1f} s | "
          f"{lags[-1] if lags else float('nan'):.1f} s | {sent:,} = {written:,} |")
    ok = cpu_share <= 0.5 and lags and lags[-1] <= 10 and sent == written
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
