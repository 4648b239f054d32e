"""The runner's side of the experiments: one process each (``peakdrill.run.stepproc``), supervised.

Each step's file (``experiments/NN-name.json`` in the run directory) holds the validated
experiment with its variables; it stays there until the step's journal is written, so that
``peakdrill chaos recover --run-dir`` can still play its rollbacks if both the runner and the
experiment's process were killed.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from peakdrill import events
from peakdrill.run.experiments import ExperimentStep
from peakdrill.rundir import RunDir
from peakdrill.shop import procs

log = logging.getLogger(__name__)

STEPS_DIR = "experiments"


@dataclass(slots=True)
class _Running:
    step: ExperimentStep
    process: subprocess.Popen
    reader: threading.Thread


def step_file(run_dir: Path, step: ExperimentStep) -> Path:
    return run_dir / STEPS_DIR / f"{step.index:02d}-{step.path.stem}.json"


class StepProcesses:
    def __init__(self, run: RunDir, bus: events.EventBus, start_ts: float) -> None:
        self.run, self.bus, self.start_ts = run, bus, start_ts
        self._running: list[_Running] = []

    def start(self, step: ExperimentStep) -> None:
        path = step_file(self.run.path, step)
        path.parent.mkdir(parents=True, exist_ok=True)
        me = procs.process(os.getpid())
        spec = {"index": step.index, "experiment_file": str(step.path), "title": step.title,
                "experiment": step.experiment, "journal": str(self.run.journal_path(step.index, str(step.path))),
                "run_dir": str(self.run.path), "start_ts": self.start_ts,
                "owner_pid": os.getpid(), "owner_create_time": me.create_time() if me else 0.0,
                "pid_file": str(path.with_suffix(".pid"))}
        path.write_text(json.dumps(spec, indent=2, default=str), encoding="utf-8")
        with open(path.with_suffix(".log"), "ab") as log_file:
            process = subprocess.Popen([sys.executable, "-m", "peakdrill.run.stepproc", str(path)],
                                       stdout=subprocess.PIPE, stderr=log_file, stdin=subprocess.DEVNULL,
                                       start_new_session=True)
        reader = threading.Thread(target=self._relay, args=(process,), daemon=True, name=f"step-{step.index}")
        reader.start()
        self._running.append(_Running(step, process, reader))

    def _relay(self, process: subprocess.Popen) -> None:
        for line in process.stdout:
            try:
                event = events.from_json(json.loads(line))
            except (ValueError, TypeError):
                log.warning("an experiment process wrote a line that is not an event: %.80r", line)
                continue
            if event is not None:
                self.bus.publish(event)

    def running(self) -> bool:
        return any(r.process.poll() is None for r in self._running)

    def interrupt_all(self) -> None:
        """Stop every running experiment's method; chaoslib plays its rollbacks (SIGUSR1)."""
        for running in self._running:
            if running.process.poll() is None:
                try:
                    os.kill(running.process.pid, signal.SIGUSR1)
                except ProcessLookupError:
                    pass

    def wait(self, timeout_s: float) -> None:
        """Until every experiment has finished (its rollbacks played) and its events are relayed."""
        for running in self._running:
            try:
                running.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                log.warning("experiment %s still running after %.0fs; it plays its own rollbacks when done",
                            running.step.display_name, timeout_s)
                continue
            running.reader.join(timeout=5)
