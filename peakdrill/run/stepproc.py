"""One drill experiment in its own process: ``python -m peakdrill.run.stepproc <step-file>``.

The drill runner starts one per timeline entry, in its own session (a Ctrl-C on the terminal
reaches the runner, which decides), so entries may overlap. It runs the experiment through chaoslib
exactly as ``chaos run`` would, keeps its journal, and hands every event to the runner as one JSON
line on stdout; the runner publishes them on its bus (the events file, the progress printer, the
live view).

It is also the experiment's guardian: a thread checks the runner every :data:`OWNER_POLL_S`. When
the runner is gone (even ``kill -9``), the events go straight to ``events.jsonl``, a ``runner_lost``
event is written, and the experiment is interrupted like an abort (SIGUSR1): chaoslib then plays its
declared rollbacks at once. The bound is documented in docs/chaos.md ("Rollbacks when the runner
dies").
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path

from peakdrill import events
from peakdrill.run.experiments import run_prepared
from peakdrill.shop import procs

OWNER_POLL_S = 0.25


class RelayWriter(events.JsonlEventWriter):
    """Events to the runner through stdout while it listens; to ``events.jsonl`` once it is gone.

    A subclass of the file writer so that the provider's fault ledger still learns where the
    drill's timeline is (``events.active_timeline``) for its dead-man."""

    def __init__(self, run_dir: Path, start_ts: float) -> None:
        super().__init__(run_dir, start_ts)
        self.relaying = True

    def __call__(self, event: events.Event) -> None:
        if self.relaying:
            try:
                sys.stdout.write(json.dumps(event.to_json()) + "\n")
                sys.stdout.flush()
                return
            except (OSError, ValueError):  # the runner closed the pipe: it died
                self.relaying = False
        super().__call__(event)


def _guard(spec: dict, writer: RelayWriter, bus: events.EventBus, state: dict) -> None:
    owner, created = int(spec["owner_pid"]), float(spec["owner_create_time"])
    while not state["done"]:
        if not procs.alive(owner, created):
            writer.relaying = False
            state["runner_lost"] = True
            bus.publish(events.RunnerLost(experiment=spec["experiment_file"], pid=owner))
            os.kill(os.getpid(), signal.SIGUSR1)  # chaoslib: stop the method, play the rollbacks
            return
        time.sleep(OWNER_POLL_S)


def _interrupt_requested(signum, frame) -> None:
    # Outside chaoslib's own handler (before the experiment starts or after it ended) SIGUSR1
    # only means "do not start": chaoslib installs the handler that interrupts while it runs.
    _state["interrupted"] = True


_state = {"done": False, "runner_lost": False, "interrupted": False}


def main(step_file: Path) -> int:
    spec = json.loads(step_file.read_text(encoding="utf-8"))
    signal.signal(signal.SIGUSR1, _interrupt_requested)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the runner decides; it sends SIGUSR1
    Path(spec["pid_file"]).write_text(f"{os.getpid()} {procs.process(os.getpid()).create_time()}\n", encoding="utf-8")
    run_dir = Path(spec["run_dir"])
    # Chaos Toolkit's log of every experiment in one file, as before experiments had their own process.
    chaos_log = logging.FileHandler(run_dir / "chaostoolkit.log")
    chaos_log.setFormatter(logging.Formatter(f"%(asctime)s %(levelname)s [{Path(spec['experiment_file']).stem}] %(message)s"))
    logging.getLogger("chaostoolkit").addHandler(chaos_log)
    logging.getLogger("chaostoolkit").setLevel(logging.INFO)
    writer = RelayWriter(run_dir, float(spec["start_ts"]))
    bus = events.EventBus()
    bus.subscribe(writer)
    events.activate(bus)
    threading.Thread(target=_guard, args=(spec, writer, bus, _state), daemon=True, name="guardian").start()
    try:
        journal = run_prepared(spec, bus, _state)
    finally:
        _state["done"] = True
        events.activate(None)
    return 0 if journal.get("status") in ("completed", "failed", "interrupted", "aborted") else 1


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
