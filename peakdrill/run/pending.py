"""Pending rollbacks of a drill's experiments, for ``peakdrill chaos recover --run-dir``.

An experiment's step file (``experiments/NN-name.json``) holds the experiment as it ran, with its
variables; its journal is written only after its rollbacks were played. A step file without a
journal whose process is gone (the runner *and* the experiment's own process were killed) still
owes its rollbacks: they are played here through chaoslib, whatever provider they use, and the
timeline records it (``fault_removed`` by ``recover``).
"""

from __future__ import annotations

import json
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from chaoslib.configuration import load_configuration
from chaoslib.rollback import run_rollbacks
from chaoslib.secret import load_secrets

from peakdrill import events
from peakdrill.errors import ChaosError
from peakdrill.run.steps import STEPS_DIR
from peakdrill.shop import procs


@dataclass(frozen=True, slots=True)
class Pending:
    step_file: Path
    spec: dict

    @property
    def name(self) -> str:
        return f"{self.spec['index']:02d} {self.spec['experiment_file']}"


def _running(spec: dict) -> bool:
    try:
        pid, created = Path(spec["pid_file"]).read_text(encoding="utf-8").split()
    except (FileNotFoundError, ValueError):
        return False
    return procs.alive(int(pid), float(created))


def pending(run_dir: Path) -> tuple[list[Pending], list[Pending]]:
    """(owing rollbacks, still running and so playing their own) of a run directory."""
    owing, running = [], []
    for path in sorted((run_dir / STEPS_DIR).glob("*.json")):
        try:
            spec = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ChaosError(f"experiment step file {str(path)!r} is unreadable: {exc} (fix: play its rollbacks by hand, "
                             f"then delete it)") from exc
        if Path(spec["journal"]).exists():
            continue
        (running if _running(spec) else owing).append(Pending(path, spec))
    return owing, running


def play(item: Pending) -> list[dict]:
    """Play the step's declared rollbacks; returns their runs (as in a journal)."""
    experiment = item.spec["experiment"]
    configuration = load_configuration(experiment.get("configuration", {}))
    secrets = load_secrets(experiment.get("secrets", {}), configuration)
    with ThreadPoolExecutor(max_workers=1) as pool:
        runs = [run.result() if isinstance(run, Future) else run
                for run in run_rollbacks(experiment, configuration, secrets, pool, None)]
    runs = [run for run in runs if run]
    journal = {"status": "recovered", "run": [], "rollbacks": runs}
    Path(item.spec["journal"]).parent.mkdir(parents=True, exist_ok=True)
    Path(item.spec["journal"]).write_text(json.dumps(journal, indent=2, default=str), encoding="utf-8")
    writer = events.JsonlEventWriter(Path(item.spec["run_dir"]), float(item.spec["start_ts"]))
    name = item.spec["experiment_file"]
    writer(events.FaultRemoved(fault_id=f"{Path(name).stem}#{item.spec['index']}", fault="rollbacks", target="",
                               experiment=name, by="recover"))
    writer(events.ExperimentFinished(experiment=name, status="recovered", deviated=False))
    return runs
