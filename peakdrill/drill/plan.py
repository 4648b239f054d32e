"""Turns a drill file into a checked plan: everything is loaded and validated before anything runs.

A bad profile, a missing experiment, an experiment Chaos Toolkit rejects, a fault scheduled after
the load ends or a target host that is not allowed all stop here, before a request is sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from peakdrill.errors import SpecError
from peakdrill.run.experiments import ExperimentStep, prepare
from peakdrill.run.plan import RunPlan
from peakdrill.safety import ensure_allowed
from peakdrill.shop.state import load_state
from peakdrill.spec.drill import Drill, load_drill
from peakdrill.spec.profile import load_profile


@dataclass(slots=True, frozen=True)
class Overrides:
    """Command-line settings that take precedence over the drill file."""

    target: str | None = None
    shop_dir: str = ".peakdrill/shop"
    allow_hosts: tuple[str, ...] = ()
    scale: float | None = None
    workers: int | None = None


@dataclass(slots=True, frozen=True)
class DrillPlan(RunPlan):
    """A run plan with the drill's timeline: experiments at their times on the load's clock."""

    steps: tuple[ExperimentStep, ...] = ()

    @property
    def timeline(self) -> tuple[ExperimentStep, ...]:
        return self.steps


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
