"""Chaos Toolkit experiments as drill steps: loaded and validated up front, run on the main thread.

They run through chaoslib itself, exactly as ``chaos run`` would (same validation, same
rollback strategy, same journal); chaoslib's signal handling only works on the main thread, which
is why the drill's timeline runs there. Ctrl-C inside an experiment is handled by chaoslib: it
plays the rollbacks and returns a journal marked interrupted.
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


def run_step(step: ExperimentStep, bus: events.EventBus, journal_path: Path) -> dict:
    """Run one experiment to its end (rollbacks included) and keep its journal; returns the journal."""
    bus.experiment = str(step.path)
    bus.publish(events.ExperimentStarted(experiment=str(step.path), title=step.title))
    journal: dict = {}
    try:
        journal = run_experiment(step.experiment, settings=_settings(step.experiment), strategy=Strategy.DEFAULT)
        return journal
    finally:
        journal_path.write_text(json.dumps(journal or {"status": "not-run"}, indent=2, default=str), encoding="utf-8")
        bus.publish(events.ExperimentFinished(experiment=str(step.path), status=journal.get("status", "interrupted"),
                                              deviated=bool(journal.get("deviated"))))
        bus.experiment = ""
