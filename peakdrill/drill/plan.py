"""Turns a drill file into a checked plan: everything is loaded and validated before anything runs.

A bad profile, a missing experiment, an experiment Chaos Toolkit rejects, a fault scheduled after
the load ends or a target host that is not allowed all stop here, before a request is sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from peakdrill.drill.experiments import ExperimentStep, prepare
from peakdrill.errors import SpecError
from peakdrill.safety import ensure_allowed
from peakdrill.shop.state import load_state
from peakdrill.slo.check import check_rules
from peakdrill.slo.model import Rule, RuleSet
from peakdrill.slo.presets import with_integrity
from peakdrill.spec.drill import Drill, abort_rules, load_drill
from peakdrill.spec.endpoints import endpoints_env, request_names
from peakdrill.spec.profile import Profile, Stage, load_profile

# Time Locust may take beyond the profile before the runner stops it.
END_GRACE_S = 30.0


@dataclass(slots=True, frozen=True)
class Overrides:
    """Command-line settings that take precedence over the drill file."""

    target: str | None = None
    shop_dir: str = ".peakdrill/shop"
    allow_hosts: tuple[str, ...] = ()
    scale: float | None = None
    workers: int | None = None


@dataclass(slots=True, frozen=True)
class DrillPlan:
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
    steps: tuple[ExperimentStep, ...]
    rules: RuleSet | None = None  # the command line's rules; None: the drill's slo: section
    integrity_base: Path | None = None  # where the integrity section's paths are relative to; None: the drill's folder

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


def _target(drill: Drill, drill_file: Path, overrides: Overrides) -> tuple[str, Path | None]:
    if overrides.target:
        return overrides.target, None
    if drill.target.url:
        return drill.target.url, None
    configured = drill.target.shop_dir
    shop_dir = (drill_file.parent / configured if configured else Path(overrides.shop_dir)).resolve()
    return load_state(shop_dir).url, shop_dir


def build_plan(drill_file: Path, overrides: Overrides = Overrides()) -> DrillPlan:
    drill = load_drill(drill_file)
    profile_file = Path(drill.load.profile)
    profile = load_profile(profile_file)
    scale = overrides.scale if overrides.scale is not None else drill.load.scale
    stages = tuple(profile.scaled_stages(scale, str(profile_file)))
    allowed = tuple(drill.target.allowed_hosts) + tuple(overrides.allow_hosts)
    target_url, shop_dir = _target(drill, drill_file, overrides)
    ensure_allowed(target_url, allowed, str(drill_file))

    duration = sum(stage.duration for stage in stages)
    steps = []
    for index, entry in enumerate(drill.timeline):
        if entry.at >= duration:
            raise SpecError(str(drill_file), f"timeline.{index}.at", f"{entry.at:g}s is at or after the end of the load ({duration:g}s)",
                            "schedule it earlier or lengthen the profile's stages")
        steps.append(prepare(index, entry.at, Path(entry.experiment), dict(entry.vars), entry.recovery_target, shop_dir,
                             allowed))
    plan = DrillPlan(drill=drill, drill_file=drill_file, profile=profile, profile_file=profile_file, stages=stages,
                     scale=scale, workers=overrides.workers if overrides.workers is not None else drill.load.workers,
                      target_url=target_url,
                     allowed_hosts=allowed, shop_dir=shop_dir, steps=tuple(steps))
    plan.check_rules(str(drill_file))
    return plan
