"""Drills: a load profile and a timeline of Chaos Toolkit experiments on one clock, plus targets."""

from __future__ import annotations

import os
from pathlib import Path

from typing import Any

from pydantic import Field, ValidationInfo, field_validator, model_validator

from peakdrill.errors import SpecError, quote
from peakdrill.integrity.config import Integrity
from peakdrill.safety import LOOPBACK_HOSTS
from peakdrill.slo.model import Rule, RuleSet
from peakdrill.slo.parse import parse_section, rule_from_dict
from peakdrill.slo.presets import REFERENCE_SHOP, reference_shop, with_integrity
from peakdrill.spec.limits import MAX_LOCAL_WORKERS, MAX_SCALE
from peakdrill.spec.endpoints import load_endpoint_map
from peakdrill.spec.loader import Duration, Spec, load_spec


def _relative_to_spec(value: str, info: ValidationInfo) -> str:
    """Paths in a drill are relative to the drill file, so a drill runs from any directory."""
    base = (info.context or {}).get("base_dir")
    path = Path(value)
    if not path.is_absolute() and base is not None:
        path = Path(base) / path
    if not path.is_file():
        raise ValueError(f"file {quote(value)} does not exist or is not a file (looked at {quote(str(path))})")
    return os.path.normpath(path)


class Target(Spec):
    """Either a base URL, or the embedded reference shop (the default) found through its state file."""

    url: str | None = None
    # Relative to the drill file; when absent, the shop `peakdrill shop up` started (--shop-dir).
    shop_dir: str | None = None
    allowed_hosts: list[str] = Field(default_factory=lambda: list(LOOPBACK_HOSTS))
    # How the journeys reach this target (loadtests/targets/*.yaml); absent: the reference shop's paths.
    endpoint_map: str | None = None

    _map = field_validator("endpoint_map")(_relative_to_spec)


class Load(Spec):
    profile: str
    scale: float = Field(default=1.0, gt=0, le=MAX_SCALE)
    workers: int = Field(default=1, gt=0, le=MAX_LOCAL_WORKERS)
    locustfile: str = Field(default="../loadtests/locustfile.py", validate_default=True)

    _paths = field_validator("profile", "locustfile")(_relative_to_spec)


class TimelineEntry(Spec):
    at: Duration
    experiment: str
    vars: dict[str, str | int | float | bool] = Field(default_factory=dict)
    recovery_target: Duration = 60.0

    _paths = field_validator("experiment")(_relative_to_spec)


class Slo(Spec):
    """The reference shop's targets as fields: the form drills had before rules (still accepted)."""

    cache_read_p99_ms: float = Field(default=50.0, gt=0)
    order_success_rate: float = Field(default=0.98, ge=0, le=1)
    cs_first_response_s: float = Field(default=30.0, gt=0)
    recovery_window_s: float = Field(default=10.0, gt=0)


class Endpoints(Spec):
    """Which Locust request names carry each scored quantity."""

    cache_read: list[str] = Field(default_factory=lambda: ["GET /api/products/[id]"])
    order: list[str] = Field(default_factory=lambda: ["POST /api/orders", "POST /api/orders/[id]/pay"])
    cs_first_response: list[str] = Field(default_factory=lambda: ["CS first response"])


class Abort(Spec):
    """Stop the drill and roll everything back when the target is far past budget."""

    error_ratio: float = Field(default=0.5, gt=0, le=1)
    p95_ms: float = Field(default=5000.0, gt=0)
    sustained: Duration = Field(default=10.0, gt=0)


class Drill(Spec):
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    target: Target = Target()
    load: Load
    timeline: list[TimelineEntry] = Field(default_factory=list)
    # A preset name, a list of rules, a rule-file mapping (docs/slo.md) or the legacy Slo fields.
    slo: Any = REFERENCE_SHOP
    endpoints: Endpoints = Endpoints()
    abort: Abort = Abort()
    max_duration: Duration = Field(default=3600.0, gt=0)
    # What was acknowledged against what the system of record stored (docs/integrity.md).
    integrity: Integrity | None = None

    @model_validator(mode="after")
    def _scored_names_from_the_map(self) -> Drill:
        """Another shop's paths give other request names: unless the drill names them, score its map's.
        A bad map stops the drill here, its SpecError naming the map's own file and field."""
        if self.target.endpoint_map is None:
            return self
        found = load_endpoint_map(self.target.endpoint_map).endpoints
        if "endpoints" in self.model_fields_set:
            return self
        names = {op: f"{found[op].method} {found[op].name}" for op in ("product", "place_order", "pay_order")}
        scored = Endpoints(cache_read=[names["product"]], order=[names["place_order"], names["pay_order"]])
        return self.model_copy(update={"endpoints": scored})

    @field_validator("slo")
    @classmethod
    def _rules(cls, value: Any) -> Any:
        _ruleset(value)
        return value

    def ruleset(self) -> RuleSet:
        """The rules this drill is scored by; the named groups are its ``endpoints``."""
        return with_integrity(_ruleset(self.slo), self.integrity)

    @model_validator(mode="after")
    def _sorted_timeline(self) -> Drill:
        times = [entry.at for entry in self.timeline]
        if times != sorted(times):
            raise ValueError(f"timeline entries must be in time order; their 'at' values are {times}")
        return self


def _ruleset(value: Any) -> RuleSet:
    if isinstance(value, dict) and value and set(value) <= set(Slo.model_fields) | {"max_error_ratio"}:
        legacy = {k: v for k, v in value.items() if k != "max_error_ratio"}
        targets = Slo.model_validate(legacy).model_dump() | ({"max_error_ratio": value["max_error_ratio"]}
                                                             if "max_error_ratio" in value else {})
        return reference_shop(targets)
    try:
        return parse_section(value, "slo")
    except SpecError as exc:
        raise ValueError(f"{exc.field}: {exc.problem}" + (f" (fix: {exc.fix})" if exc.fix else "")) from exc


def abort_rules(abort: Abort) -> tuple[Rule, ...]:
    return (rule_from_dict({"id": "abort_error_ratio", "name": "abort: error ratio", "requests": "*",
                            "metric": "error_ratio", "bound": f"< {abort.error_ratio * 100:g}%", "abort": True,
                            "sustained": abort.sustained}, "abort", "error_ratio"),
            rule_from_dict({"id": "abort_p95", "name": "abort: p95", "requests": "*", "metric": "p95",
                            "bound": f"< {abort.p95_ms:g}ms", "abort": True, "sustained": abort.sustained},
                           "abort", "p95_ms"))


def load_drill(path: Path | str) -> Drill:
    return load_spec(Drill, path)
