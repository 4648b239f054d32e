"""Chaos Toolkit experiments as drill steps: loaded and validated up front, each run in its own process.

They run through chaoslib itself, exactly as ``chaos run`` would (same validation, same
rollback strategy, same journal), on the main thread of their own process
(``peakdrill.run.stepproc``): chaoslib's signal handling only works there. SIGUSR1 (an abort, a
Ctrl-C of the runner, the runner's death) interrupts the method and chaoslib plays the rollbacks.
An experiment that does not use peakdrill's provider gets its fault window from its journal
(``peakdrill.run.journalfaults``).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from chaoslib.exceptions import ChaosException
from chaoslib.experiment import ensure_experiment_is_valid, run_experiment
from chaoslib.types import Strategy

from peakdrill import events
from peakdrill.chaos.target import CONFIG_KEY as ALLOWED_HOSTS_KEY
from peakdrill.run.journalfaults import journal_fault
from peakdrill.errors import SpecError, quote
from peakdrill.spec.safeyaml import load_yaml

log = logging.getLogger(__name__)


@dataclass(slots=True, frozen=True)
class ExperimentStep:
    index: int
    at_s: float
    path: Path
    title: str
    configuration: dict
    recovery_target_s: float
    experiment: dict

    @property
    def display_name(self) -> str:
        return self.path.stem


def prepare(index: int, at_s: float, path: Path, overrides: dict, recovery_target_s: float,
            shop_dir: Path | None = None, allowed_hosts: tuple[str, ...] | None = None) -> ExperimentStep:
    """Load and validate an experiment with its drill variables, before any load or fault starts.

    ``shop_dir`` points experiments that declare a ``shop_dir`` variable at the drill's shop;
    ``allowed_hosts`` (the drill's) reaches every peakdrill activity through its ``configuration``:
    the targets it acts on and every HTTP call it makes are checked against them.
    """
    # Read as peakdrill reads every spec (size cap, duplicate keys, alias bombs), not with chaoslib's
    # loader; JSON is YAML. What Chaos Toolkit then checks is the same as `chaos validate`.
    experiment = load_yaml(path, what="experiment")
    configuration = experiment.get("configuration")
    if configuration is None:
        configuration = experiment["configuration"] = {}
    if not isinstance(configuration, dict):
        raise SpecError(str(path), "configuration", f"a {type(configuration).__name__}, not a mapping",
                        "write configuration as name: value lines")
    known = set(configuration)
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise SpecError(str(path), f"configuration.{unknown[0]}", f"the drill sets variable {unknown[0]!r} but the experiment does not declare it",
                        f"declare it under configuration, or use one of {quote(sorted(map(str, known)))}")
    if shop_dir is not None and "shop_dir" in known:
        overrides = {"shop_dir": str(shop_dir), **overrides}
    configuration.update(overrides)
    if allowed_hosts is not None:
        configuration[ALLOWED_HOSTS_KEY] = list(allowed_hosts)
    try:
        ensure_experiment_is_valid(experiment)
    except ChaosException as exc:
        raise SpecError(str(path), "", f"invalid experiment: {quote(str(exc), 300, raw=True)}",
                        "fix the activity named there; `chaos validate` shows the same check") from exc
    except (TypeError, AttributeError, KeyError, IndexError, ValueError) as exc:  # chaoslib trips on wrong shapes
        raise SpecError(str(path), "", f"Chaos Toolkit cannot read it ({type(exc).__name__}: {quote(str(exc), raw=True)})",
                        "compare it with experiments/*.yaml; `chaos validate` on it shows more") from exc
    return ExperimentStep(index=index, at_s=at_s, path=path, title=experiment.get("title", path.stem),
                          configuration=experiment.get("configuration", {}), recovery_target_s=recovery_target_s,
                          experiment=experiment)


def _settings(experiment: dict) -> dict:
    """What ``chaos run`` would build from the experiment's ``runtime`` section, except that a drill
    always plays rollbacks: its safety promise does not depend on what a file asks for."""
    hypothesis = (experiment.get("runtime") or {}).get("hypothesis", {"strategy": "default"})
    return {"runtime": {"rollbacks": {"strategy": "always"}, "hypothesis": hypothesis}}


def run_prepared(spec: dict, bus: events.EventBus, state: dict) -> dict:
    """Run one experiment of a step file to its end (rollbacks included) and keep its journal.

    ``state``: ``interrupted`` (set before it starts: do not start) and ``runner_lost`` (the guardian
    interrupted it: its rollbacks were played without the runner). Returns the journal."""
    experiment, name, journal_path = spec["experiment"], spec["experiment_file"], Path(spec["journal"])
    bus.experiment = name
    bus.publish(events.ExperimentStarted(experiment=name, title=spec["title"]))
    seen = _FaultEvents()
    bus.subscribe(seen)
    journal: dict = {}
    try:
        if not state.get("interrupted"):
            journal = run_experiment(experiment, settings=_settings(experiment), strategy=Strategy.DEFAULT)
        return journal
    finally:
        journal_path.parent.mkdir(parents=True, exist_ok=True)
        journal_path.write_text(json.dumps(journal or {"status": "not-run"}, indent=2, default=str), encoding="utf-8")
        if not seen.count:
            _publish_journal_fault(bus, journal, f"{Path(name).stem}#{spec['index']}",
                                   "guardian" if state.get("runner_lost") else "")
        bus.publish(events.ExperimentFinished(experiment=name, status=journal.get("status", "interrupted"),
                                              deviated=bool(journal.get("deviated"))))
        bus.experiment = ""


class _FaultEvents:
    """Counts the faults peakdrill's own provider recorded while the experiment ran."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, event: events.Event) -> None:
        self.count += isinstance(event, events.FaultInjected)


def _publish_journal_fault(bus: events.EventBus, journal: dict, fault_id: str, removed_by: str) -> None:
    fault = journal_fault(journal)
    if fault is None:
        return
    bus.publish(events.FaultInjected(ts=fault.inject_ts, fault_id=fault_id, fault=fault.name, target=fault.provider,
                                     provider=fault.provider))
    if fault.remove_ts is not None:
        bus.publish(events.FaultRemoved(ts=fault.remove_ts, fault_id=fault_id, fault=fault.name, target=fault.provider,
                                        by=removed_by or fault.removed_by))
