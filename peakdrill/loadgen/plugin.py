"""Locust hooks that write trustworthy measurements into a peakdrill run directory.

Each load process records every request into sparse per-second histograms (see
:mod:`peakdrill.histograms`) and samples its own CPU every second. Workers ship both to the master
inside Locust's regular worker reports; the master (or a stand-alone local process) merges them as
they arrive (:class:`peakdrill.loadgen.secondbook.SecondBook`) and writes one record per (second,
endpoint) to ``histograms/master-<pid>.jsonl`` and one health line per second to
``generator.jsonl``. Merging is adding counts, so the files stay exact, and merge exactly across
masters too. The business acknowledgements a locustfile recorded (:mod:`peakdrill.integrity.ack`)
travel in the same reports and are appended, ids grouped per second, to ``acks/master-<pid>.jsonl``.

Without ``--peakdrill-run-dir`` (or ``PEAKDRILL_RUN_DIR``) the hooks do nothing, so the locustfile
behaves like any other under plain ``locust``.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import gevent
import psutil
from locust import events
from locust.env import Environment
from locust.runners import STATE_MISSING, MasterRunner, WorkerRunner

from peakdrill.events import JsonlEventWriter, WorkerJoined, WorkerLost
from peakdrill.histograms import Recorder
from peakdrill.integrity.ack import BOOK as ACKS
from peakdrill.rundir.acks import append_acks
from peakdrill.loadgen import egress, keepalive
from peakdrill.loadgen.openmodel import PACER
from peakdrill.loadgen.secondbook import LOCAL_HOLD_OPEN_S, SecondBook
from peakdrill.rundir import RUNNER_PID_ENV, STOP_REQUEST_FILE, RunDir

keepalive.install()  # every Locust process imports this module: keep connections alive past fd 1024

PAYLOAD_KEY = "peakdrill"
# Custom Locust messages: the master asks every worker to stop and ship all it holds, and waits.
FLUSH_MESSAGE = "peakdrill_flush"
FINAL_MESSAGE = "peakdrill_final"
FINAL_REPORTS_WAIT_S = 10.0


def request_name(request_type: str, name: str) -> str:
    """``GET /item``: the method before the name, unless the locustfile already named it so."""
    return name if str(name).startswith(f"{request_type} ") else f"{request_type} {name}"


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
        self.recorder.record(int(started), request_name(request_type, name), response_time or 0, exception is not None)
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


def _install_worker(environment: Environment) -> None:
    collector = Collector(environment, f"worker-{environment.runner.worker_index}-{os.getpid()}")

    ACKS.enabled = True  # the master decides whether they are kept, as for the histograms

    def on_report(client_id, data):
        histograms, health = collector.drain()
        data[PAYLOAD_KEY] = {"source": collector.source, "histograms": histograms, "health": health,
                             "acks": ACKS.drain()}

    def on_flush(environment, msg, **_):
        # Stop our users first, so that what we ship now is everything this worker will ever measure.
        environment.runner.stop()
        histograms, health = collector.drain(everything=True)
        environment.runner.send_message(FINAL_MESSAGE, {"source": collector.source, "histograms": histograms,
                                                        "health": health, "acks": ACKS.drain()})

    environment.events.report_to_master.add_listener(on_report)
    environment.runner.register_message(FLUSH_MESSAGE, on_flush, concurrent=True)


def _keep_closing(book: SecondBook, own_health: Collector) -> None:
    while True:
        gevent.sleep(1.0)
        book.add(own_health.source, *own_health.drain())
        book.close_due()


def _watch_workers(environment: Environment, run_dir: Path, stopping: list[bool]) -> None:
    """Put each worker that joins, and each that leaves while the load runs, on the run's timeline."""
    timeline = JsonlEventWriter(run_dir, RunDir(run_dir).read_meta()["start_ts"])
    connected: set[str] = set()
    while True:
        gevent.sleep(1.0)
        clients = environment.runner.clients
        now = {client.id for client in clients.all if client.state != STATE_MISSING}
        for worker in sorted(now - connected):
            timeline(WorkerJoined(worker=worker, connected=len(now)))
        if not stopping:  # at the end the master itself lets every worker go
            for worker in sorted(connected - now):
                how = "missed its heartbeats" if worker in clients else "quit"
                timeline(WorkerLost(worker=worker, connected=len(now), how=how))
        connected = now


def _install_master(environment: Environment, run_dir: Path) -> None:
    source = f"master-{os.getpid()}"
    book = SecondBook(run_dir, source)
    own_health = Collector(environment, f"master-{os.getpid()}")  # the master's CPU matters too
    flushed: set[str] = set()
    stopping: list[bool] = []  # non-empty once the test is stopping

    def on_worker_report(client_id, data):
        payload = data.get(PAYLOAD_KEY)
        if payload:
            book.add(payload["source"], payload["histograms"], payload["health"])
            append_acks(run_dir, source, payload.get("acks") or [])

    def on_final(environment, msg, **_):
        book.add(msg.data["source"], msg.data["histograms"], msg.data["health"])
        append_acks(run_dir, source, msg.data.get("acks") or [])
        flushed.add(msg.node_id)

    def collect_final_reports(**_):
        """Runs as the test stops (its end, an interrupt, a dead runner): Locust itself waits only
        half a second for the workers' last reports before it quits, which loses data under load."""
        stopping.append(True)
        runner = environment.runner
        runner.send_message(FLUSH_MESSAGE)
        deadline = time.monotonic() + FINAL_REPORTS_WAIT_S
        while time.monotonic() < deadline and not set(runner.clients.keys()) <= flushed:
            gevent.sleep(0.1)
        book.add(own_health.source, *own_health.drain())
        book.close_all()

    environment.events.worker_report.add_listener(on_worker_report)
    environment.events.test_stopping.add_listener(collect_final_reports)
    environment.events.quitting.add_listener(lambda **_: book.close_all())
    environment.runner.register_message(FINAL_MESSAGE, on_final)
    gevent.spawn(_keep_closing, book, own_health)
    gevent.spawn(_watch_workers, environment, run_dir, stopping)


def _install_local(environment: Environment, run_dir: Path) -> None:
    collector = Collector(environment, f"local-{os.getpid()}")
    book = SecondBook(run_dir, collector.source, hold_open_s=LOCAL_HOLD_OPEN_S)
    ACKS.enabled = True

    def write_acks():
        while True:
            gevent.sleep(3.0)
            append_acks(run_dir, collector.source, ACKS.drain())

    def flush_all(**_):
        book.add(collector.source, *collector.drain(everything=True))
        book.close_all()
        append_acks(run_dir, collector.source, ACKS.drain())

    gevent.spawn(write_acks)
    gevent.spawn(_keep_closing, book, collector)
    environment.events.test_stop.add_listener(flush_all)
    environment.events.quitting.add_listener(flush_all)


def _stop_and_quit(environment: Environment) -> None:
    # stop() gathers every last measurement (see collect_final_reports); quit() then ends Locust.
    environment.runner.stop()
    environment.runner.quit()


def _stop_when_asked(environment: Environment, run_dir: Path) -> None:
    while not (run_dir / STOP_REQUEST_FILE).exists():
        gevent.sleep(0.3)
    logging.getLogger(__name__).info("stop requested by the peakdrill runner: collecting the last reports")
    _stop_and_quit(environment)


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
        _stop_and_quit(environment)

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
    egress.install(environment)  # before any user runs: connections only to the run's allowed hosts
    options = environment.parsed_options
    run_dir = getattr(options, "peakdrill_run_dir", "") if options else ""
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        # Workers ship to the master whatever their own options say: the master decides.
        _install_worker(environment)
        return
    if run_dir and isinstance(runner, MasterRunner):
        _install_master(environment, Path(run_dir))
    elif run_dir:
        _install_local(environment, Path(run_dir))
    if run_dir:
        gevent.spawn(_stop_when_asked, environment, Path(run_dir))
    if RUNNER_PID_ENV in os.environ:
        _stop_when_the_runner_dies(environment, int(os.environ[RUNNER_PID_ENV]))
