"""Turns a profile and a target into a checked plan for a load run: a drill with no timeline.

A load run goes through the run engine (one code path for recording, stopping and reporting), so
its plan is a :class:`RunPlan` (no timeline) whose drill settings are built here from the command
line instead of read from a drill file. Everything is validated before anything runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from peakdrill.errors import COMMAND_LINE, SpecError, quote
from peakdrill.integrity.config import load_integrity
from peakdrill.run.plan import END_GRACE_S, RunPlan
from peakdrill.safety import LOOPBACK_HOSTS, ensure_allowed
from peakdrill.slo.model import RuleSet
from peakdrill.slo.presets import REFERENCE_SHOP, preset
from peakdrill.spec.drill import Drill, Load
from peakdrill.spec.profile import Stage, load_profile

DEFAULT_LOCUSTFILE = "loadtests/locustfile.py"


@dataclass(slots=True, frozen=True)
class LoadOptions:
    """What the command line says about a load run."""

    profile_file: Path
    host: str
    scale: float = 1.0
    workers: int = 1
    locustfile: Path = Path(DEFAULT_LOCUSTFILE)
    allow_hosts: tuple[str, ...] = ()
    endpoints: Path | None = None  # the target's endpoint map; None: the reference shop's paths
    # --slo/--threshold; None: the reference shop's preset with its own locustfile, no rules with another.
    rules: RuleSet | None = None
    rules_source: str = COMMAND_LINE
    integrity: Path | None = None  # --integrity FILE: the reconcilers to run after the load


def positive(value: float, option: str, fix: str) -> float:
    if not value > 0:
        raise SpecError(COMMAND_LINE, option, f"{value!r} is not above 0", fix)
    return value


def _run_name(profile_name: str) -> str:
    # Run ids are directory names; a profile's name may hold spaces.
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", profile_name).strip("-") or "load"


def build_load_plan(options: LoadOptions, stages: list[Stage] | None = None) -> RunPlan:
    """The plan of a load run; ``stages`` (already scaled) replace the profile's, as a capacity search does."""
    positive(options.scale, "--scale", "pass e.g. --scale 0.01 to run a hundredth of the profile")
    positive(options.workers, "--workers", "pass --workers 1 or more")
    if not options.locustfile.is_file():
        raise SpecError(COMMAND_LINE, "--locustfile", f"{quote(str(options.locustfile))} does not exist",
                        f"give the path of a locustfile, e.g. {DEFAULT_LOCUSTFILE}")
    if options.endpoints is not None and not options.endpoints.is_file():
        raise SpecError(COMMAND_LINE, "--endpoints", f"{quote(str(options.endpoints))} does not exist",
                        "give the target's endpoint map, e.g. loadtests/targets/reference-shop.yaml")
    profile = load_profile(options.profile_file)
    integrity = load_integrity(options.integrity) if options.integrity is not None else None
    allowed = (*LOOPBACK_HOSTS, *options.allow_hosts)
    ensure_allowed(options.host, allowed, COMMAND_LINE)
    stages = stages if stages is not None else profile.scaled_stages(options.scale)
    duration = sum(stage.duration for stage in stages)
    try:
        # model_validate, not Drill(...): the drill's validators may return an updated copy
        # (the scored names of the endpoint map), which a constructor call would drop.
        drill = Drill.model_validate(dict(
            name=_run_name(profile.name), description=profile.description,
            target=dict(url=options.host, allowed_hosts=list(allowed),
                        **({"endpoint_map": str(options.endpoints)} if options.endpoints else {})),
            load=Load(profile=str(options.profile_file), scale=options.scale, workers=options.workers,
                      locustfile=str(options.locustfile)),
            max_duration=duration + END_GRACE_S, integrity=integrity))
    except ValidationError as exc:
        raise SpecError(COMMAND_LINE, "", f"not a valid load run: {exc.errors()[0]['msg']}",
                        "check the profile path and the numbers given") from exc
    rules = options.rules
    if rules is None:
        rules = preset(REFERENCE_SHOP) if options.locustfile == Path(DEFAULT_LOCUSTFILE) else RuleSet()
    plan = RunPlan(drill=drill, drill_file=options.profile_file, profile=profile, profile_file=options.profile_file,
                     stages=tuple(stages), scale=options.scale, workers=options.workers, target_url=options.host,
                     allowed_hosts=allowed, shop_dir=None, rules=rules,
                     integrity_base=options.integrity.resolve().parent if options.integrity is not None else None)
    plan.check_rules(options.rules_source)
    return plan
