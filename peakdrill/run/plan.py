"""The plan of a run: what every run (drill, load, capacity) needs, checked before anything runs.

A drill's plan (:class:`peakdrill.drill.plan.DrillPlan`) extends it with its timeline of experiments.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from peakdrill.run.experiments import ExperimentStep
from peakdrill.slo.check import check_rules
from peakdrill.slo.model import Rule, RuleSet
from peakdrill.slo.presets import with_integrity
from peakdrill.spec.drill import Drill, abort_rules
from peakdrill.spec.endpoints import endpoints_env, request_names
from peakdrill.spec.profile import Profile, Stage

# Time Locust may take beyond the profile before the runner stops it.
END_GRACE_S = 30.0


@dataclass(slots=True, frozen=True)
class RunPlan:
    """Everything a run needs, loaded and checked before anything starts. ``drill`` carries the
    run's settings (target, load, endpoint groups, abort limits, rules): read from a drill file, or
    built from the command line for a load run or a capacity search."""

    drill: Drill
    drill_file: Path
    profile: Profile
    profile_file: Path
    stages: tuple[Stage, ...]
    scale: float
    workers: int
    target_url: str
    allowed_hosts: tuple[str, ...]
    shop_dir: Path | None
    rules: RuleSet | None = None  # the command line's rules; None: the drill's slo: section
    integrity_base: Path | None = None  # where the integrity section's paths are relative to; None: the drill's folder

    @property
    def timeline(self) -> tuple[ExperimentStep, ...]:
        """The experiments the runner plays on the load's clock: none; a drill's plan adds its own."""
        return ()

    @property
    def ruleset(self) -> RuleSet:
        return with_integrity(self.rules, self.drill.integrity) if self.rules is not None else self.drill.ruleset()

    @property
    def integrity_dir(self) -> Path:
        return self.integrity_base or self.drill_file.parent

    @property
    def abort_rules(self) -> tuple[Rule, ...]:
        """The rules that stop the run: the ``abort:`` section's limits, plus rules marked ``abort: true``."""
        return abort_rules(self.drill.abort) + self.ruleset.aborts

    def check_rules(self, source: str) -> None:
        """Rules that cannot match (an unknown group, a glob matching nothing in the map) stop here."""
        check_rules(self.ruleset, source, self.drill.endpoints.model_dump(),
                    request_names(self.drill.target.endpoint_map), [stage.name for stage in self.stages],
                    list(self.drill.integrity.kinds) if self.drill.integrity else [])

    @property
    def locust_env(self) -> tuple[tuple[str, str], ...]:
        """Environment for Locust only: the journeys read the target's paths from its endpoint map."""
        return endpoints_env(self.drill.target.endpoint_map)

    @property
    def load_duration_s(self) -> float:
        return sum(stage.duration for stage in self.stages)

    @property
    def time_limit_s(self) -> float:
        return min(self.drill.max_duration, self.load_duration_s + END_GRACE_S)
