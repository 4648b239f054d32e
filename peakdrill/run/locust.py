"""Runs real Locust, headless, as its own process group.

Three roles (:class:`Topology`): ``local`` is a master with N forked local workers; ``master``
waits for N workers on other machines; ``worker`` joins a master elsewhere and writes nothing
itself (its master records everything). The runner talks to Locust only through the process and
the run directory: the shape ends the test by itself, and stopping early is Locust's own graceful
SIGTERM, escalated to SIGKILL of the process group we created if it does not go in time.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from peakdrill.errors import DrillError
from peakdrill.rundir import RUNNER_PID_ENV, STOP_REQUEST_FILE
from peakdrill.shop.procs import free_port

STOP_GRACE_S = 20.0
SIGTERM_GRACE_S = 5.0
# The shape file is handed to Locust by path: importing it here would load Locust, whose gevent
# monkey-patching must never happen in the drill runner's process.
SHAPE_FILE = importlib.util.find_spec("peakdrill.loadgen.shape").origin


@dataclass(slots=True, frozen=True)
class Topology:
    """Where this Locust process sits in a run: alone with local workers, or one side of a multi-machine run."""

    role: Literal["local", "master", "worker"] = "local"
    # master: the interface and port it listens on for workers; worker: where its master listens.
    master_host: str = "127.0.0.1"
    master_port: int = 5557
    # master: how long to wait for all workers before giving up (Locust's --expect-workers-max-wait).
    wait_for_workers_s: float = 120.0


@dataclass(slots=True, frozen=True)
class LoadSpec:
    locustfile: Path
    profile: Path
    scale: float
    workers: int
    host: str
    run_dir: Path
    topology: Topology = Topology()
    shape_file: str = SHAPE_FILE
    # Extra environment for Locust (a capacity search hands its steps to its shape this way).
    env: tuple[tuple[str, str], ...] = ()
    # Where the users may connect (the run's allowlist); the master sends it on to its workers.
    allowed_hosts: tuple[str, ...] = ()


class LocustProcess:
    def __init__(self, spec: LoadSpec) -> None:
        self.spec = spec
        self.process: subprocess.Popen | None = None

    def command(self) -> list[str]:
        spec, topology = self.spec, self.spec.topology
        common = [sys.executable, "-m", "locust", "-f", f"{spec.locustfile},{spec.shape_file}",
                  "--logfile", str(spec.run_dir / "locust.log")]
        if topology.role == "worker":
            # The master sends the host and the user counts; a worker only needs to find it.
            return [*common, "--worker", "--processes", str(spec.workers),
                    "--master-host", topology.master_host, "--master-port", str(topology.master_port)]
        if topology.role == "master":
            workers = ["--master", "--expect-workers", str(spec.workers),
                       "--expect-workers-max-wait", f"{topology.wait_for_workers_s:g}",
                       "--master-bind-host", topology.master_host, "--master-bind-port", str(topology.master_port)]
        else:
            # Locust's default *:5557 would clash with any other run on this machine, and need not be public.
            port = str(free_port("127.0.0.1"))
            workers = ["--processes", str(spec.workers), "--master-bind-host", "127.0.0.1", "--master-bind-port", port,
                       "--master-host", "127.0.0.1", "--master-port", port]
        return [
            *common, *workers,
            "--headless", "--host", spec.host,
            "--stop-timeout", "5",
            "--only-summary",
            # Locust's own summary beside ours, so anyone can cross-check the totals.
            "--csv", str(spec.run_dir / "locust"),
            "--peakdrill-run-dir", str(spec.run_dir),
            "--peakdrill-allowed-hosts", ",".join(spec.allowed_hosts),
        ]

    def start(self) -> int:
        env = dict(os.environ, PEAKDRILL_PROFILE=str(self.spec.profile), PEAKDRILL_SCALE=str(self.spec.scale),
                   **dict(self.spec.env))
        if self.spec.topology.role != "worker":  # a worker's master owns the run directory and its timeline
            env["PEAKDRILL_RUN_DIR"] = str(self.spec.run_dir)
            env[RUNNER_PID_ENV] = str(os.getpid())  # Locust stops itself if we die
        output = (self.spec.run_dir / "locust.out").open("ab")
        try:
            # Its own session: a Ctrl-C meant for the drill reaches the runner, which stops Locust in order.
            self.process = subprocess.Popen(self.command(), env=env, stdout=output, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, start_new_session=True)
        except OSError as exc:
            raise DrillError(f"could not start Locust ({exc}); is peakdrill installed in this environment?") from exc
        finally:
            output.close()
        return self.process.pid

    def poll(self) -> int | None:
        return self.process.poll() if self.process else None

    def wait(self, timeout: float) -> int | None:
        try:
            return self.process.wait(timeout=timeout) if self.process else None
        except subprocess.TimeoutExpired:
            return None

    def stop(self) -> int | None:
        """Stop gracefully (Locust flushes its last reports), then make sure no process of ours is left."""
        if self.process is None:
            return None
        if self.process.poll() is None and self.spec.topology.role != "worker":
            # Our plugin in the master stops the users and waits for every worker's last report.
            (self.spec.run_dir / STOP_REQUEST_FILE).touch()
            self._wait(STOP_GRACE_S)
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # Locust's own graceful shutdown
            self._wait(SIGTERM_GRACE_S)
        self._signal_group(signal.SIGKILL)  # forked workers that outlived their master
        try:
            return self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return None

    def _wait(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while self.process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)

    def _signal_group(self, signum: int) -> None:
        try:
            os.killpg(self.process.pid, signum)
        except ProcessLookupError:
            pass

    def log_tail(self, lines: int = 15) -> str:
        texts = []
        for name in ("locust.out", "locust.log"):
            path = self.spec.run_dir / name
            if path.exists():
                texts.extend(path.read_text(errors="replace").splitlines()[-lines:])
        return "\n".join(texts)
