"""Runs real Locust, headless, as its own process group: a master and N local worker processes.

The drill runner talks to Locust only through the process and the run directory: the profile
shape ends the test by itself, and stopping early is Locust's own graceful SIGTERM, escalated to
SIGKILL of the process group we created if it does not go in time.
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

from peakdrill.errors import DrillError

STOP_GRACE_S = 15.0
# The shape file is handed to Locust by path: importing it here would load Locust, whose gevent
# monkey-patching must never happen in the drill runner's process.
SHAPE_FILE = importlib.util.find_spec("peakdrill.loadgen.shape").origin


@dataclass(slots=True, frozen=True)
class LoadSpec:
    locustfile: Path
    profile: Path
    scale: float
    workers: int
    host: str
    run_dir: Path


class LocustProcess:
    def __init__(self, spec: LoadSpec) -> None:
        self.spec = spec
        self.process: subprocess.Popen | None = None

    def command(self) -> list[str]:
        spec = self.spec
        return [
            sys.executable, "-m", "locust",
            "-f", f"{spec.locustfile},{SHAPE_FILE}",
            "--headless", "--host", spec.host,
            "--processes", str(spec.workers),
            "--stop-timeout", "5",
            "--only-summary",
            "--logfile", str(spec.run_dir / "locust.log"),
            # Locust's own summary beside ours, so anyone can cross-check the totals.
            "--csv", str(spec.run_dir / "locust"),
            "--peakdrill-run-dir", str(spec.run_dir),
        ]

    def start(self) -> int:
        env = dict(os.environ, PEAKDRILL_PROFILE=str(self.spec.profile), PEAKDRILL_SCALE=str(self.spec.scale),
                   PEAKDRILL_RUN_DIR=str(self.spec.run_dir))
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
        if self.process.poll() is None:
            # Only the master: it tells its workers to quit, and they send their last reports first.
            self.process.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + STOP_GRACE_S
            while self.process.poll() is None and time.monotonic() < deadline:
                time.sleep(0.2)
        self._signal_group(signal.SIGKILL)  # forked workers that outlived their master
        try:
            return self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return None

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
