"""Locust hooks that write trustworthy measurements into a peakdrill run directory.

Each load process records every request into per-second HdrHistograms (see
:mod:`peakdrill.histograms`) and samples its own CPU every second. Workers ship both to the master
inside Locust's regular worker reports; the master (or a stand-alone local process) appends them
to ``histograms/<source>.jsonl`` and ``generator.jsonl``. Nothing is summarised on the way, so the
files merge exactly across workers and across masters.

Without ``--peakdrill-run-dir`` (or ``PEAKDRILL_RUN_DIR``) the hooks do nothing, so the locustfile
behaves like any other under plain ``locust``.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

import gevent
import psutil
from locust import events
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from peakdrill.histograms import HISTOGRAM_DIR, Recorder
from peakdrill.loadgen import keepalive
from peakdrill.loadgen.openmodel import PACER

keepalive.install()  # every Locust process imports this module: keep connections alive past fd 1024

GENERATOR_FILE = "generator.jsonl"
PAYLOAD_KEY = "peakdrill"
RUNNER_PID_ENV = "PEAKDRILL_RUNNER_PID"


def _append_lines(path: Path, records: list[dict]) -> None:
    if not records:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as out:
        out.write("".join(json.dumps(record) + "\n" for record in records))


class Collector:
    """Runs in every process that generates load: records requests and its own health."""

    def __init__(self, environment: Environment, source: str) -> None:
        self.environment = environment
        self.source = source
        self.recorder = Recorder(source)
        self.health: list[dict] = []
        self._requests_this_second = 0
        self._process = psutil.Process()
        self._process.cpu_percent()  # the first reading is meaningless; start the interval now
        environment.events.request.add_listener(self.on_request)
        gevent.spawn(self._sample_health)

    def on_request(self, request_type, name, response_time, response_length, exception=None, start_time=None, **_):
        started = start_time if start_time is not None else time.time() - (response_time or 0) / 1000
        self.recorder.record(int(started), f"{request_type} {name}", response_time or 0, exception is not None)
        self._requests_this_second += 1

    def _sample_health(self) -> None:
        while True:
            gevent.sleep(1.0)
            runner = self.environment.runner
            self.health.append({
                "ts": round(time.time(), 3),
                "source": self.source,
                "cpu_percent": self._process.cpu_percent(),
                "users": runner.user_count if runner else 0,
                "rps": self._requests_this_second,
                **PACER.sample(),  # open model: intended against achieved arrival rate
            })
            self._requests_this_second = 0

    def drain(self, everything: bool = False) -> tuple[list[dict], list[dict]]:
        # The current second is still filling up; it ships in the next report unless we stop.
        histograms = self.recorder.drain(None if everything else int(time.time()))
        health, self.health = self.health, []
        return histograms, health


class RunDirWriter:
    """Runs in the master (or a local run): appends what load processes measured to the run dir."""

    def __init__(self, run_dir: Path, source: str) -> None:
        self.hist_path = run_dir / HISTOGRAM_DIR / f"{source}.jsonl"
        self.generator_path = run_dir / GENERATOR_FILE

    def write(self, histograms: list[dict], health: list[dict]) -> None:
        _append_lines(self.hist_path, histograms)
        _append_lines(self.generator_path, health)


def _install_worker(environment: Environment) -> None:
    collector = Collector(environment, f"worker-{environment.runner.worker_index}-{os.getpid()}")
    stopping = {"final": False}

    def on_report(client_id, data):
        histograms, health = collector.drain(everything=stopping["final"])
        data[PAYLOAD_KEY] = {"histograms": histograms, "health": health}

    def on_stop(**_):
        stopping["final"] = True

    environment.events.report_to_master.add_listener(on_report)
    environment.events.test_stop.add_listener(on_stop)
    environment.events.quitting.add_listener(on_stop)


def _install_master(environment: Environment, run_dir: Path) -> None:
    writer = RunDirWriter(run_dir, f"master-{os.getpid()}")
    own_health = Collector(environment, f"master-{os.getpid()}")  # the master's CPU matters too

    def on_worker_report(client_id, data):
        payload = data.get(PAYLOAD_KEY)
        if payload:
            writer.write(payload["histograms"], payload["health"])

    def flush_own_health():
        while True:
            gevent.sleep(3.0)
            writer.write([], own_health.drain()[1])

    environment.events.worker_report.add_listener(on_worker_report)
    gevent.spawn(flush_own_health)


def _install_local(environment: Environment, run_dir: Path) -> None:
    collector = Collector(environment, f"local-{os.getpid()}")
    writer = RunDirWriter(run_dir, collector.source)

    def flush_periodically():
        while True:
            gevent.sleep(3.0)
            writer.write(*collector.drain())

    def flush_all(**_):
        writer.write(*collector.drain(everything=True))

    gevent.spawn(flush_periodically)
    environment.events.test_stop.add_listener(flush_all)
    environment.events.quitting.add_listener(flush_all)


def _stop_when_the_runner_dies(environment: Environment, runner_pid: int) -> None:
    """A drill runner killed with -9 cannot stop its load: the load stops itself instead.

    Its faults are removed by their dead-man timers; without this, Locust would go on loading
    the target until its profile ends, with nobody watching the abort condition.
    """
    try:
        runner = psutil.Process(runner_pid)
    except psutil.NoSuchProcess:
        runner = None

    def watch():
        while runner is not None and runner.is_running() and runner.status() != psutil.STATUS_ZOMBIE:
            gevent.sleep(1.0)
        logging.getLogger(__name__).error("the peakdrill runner (pid %s) is gone: stopping the load", runner_pid)
        environment.runner.quit()

    gevent.spawn(watch)


@events.init_command_line_parser.add_listener
def _add_options(parser) -> None:
    parser.add_argument(
        "--peakdrill-run-dir",
        env_var="PEAKDRILL_RUN_DIR",
        default="",
        include_in_web_ui=False,
        help="write per-second HdrHistograms and generator health into this peakdrill run directory",
    )


@events.init.add_listener
def _on_init(environment: Environment, **_) -> None:
    options = environment.parsed_options
    run_dir = getattr(options, "peakdrill_run_dir", "") if options else ""
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        # Workers ship to the master whatever their own options say: the master decides.
        _install_worker(environment)
    elif run_dir and isinstance(runner, MasterRunner):
        _install_master(environment, Path(run_dir))
    elif run_dir:
        _install_local(environment, Path(run_dir))
    if RUNNER_PID_ENV in os.environ and not isinstance(runner, WorkerRunner):
        _stop_when_the_runner_dies(environment, int(os.environ[RUNNER_PID_ENV]))
