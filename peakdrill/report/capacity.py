"""The capacity headroom verdict, scored from the capacity.json that ``peakdrill capacity`` writes.

Headroom = capacity at the knee / forecast peak (at the run's scale) - 1, in orders/s when the
forecast gives orders, else in requests/s. The search's bounds decide what can be said: a search
that never broke only proves a lower bound, one whose first step broke only an upper bound, and a
bound on the wrong side of the target is INCONCLUSIVE, never a guess.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from peakdrill.errors import RunDirError
from peakdrill.report.verdict import FAIL, INCONCLUSIVE, PASS, Verdict

VERDICT_ID = "capacity_headroom"
TITLE = "Capacity headroom over the forecast peak"


def _number(value: Any, optional: bool = False) -> float | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise TypeError(f"expected a number, got {value!r:.40}")
    return float(value)


def _whole(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**53:
        raise TypeError(f"expected a whole number, got {value!r:.40}")
    return value


@dataclass(frozen=True)
class CapacityStep:
    step: int
    users: int
    offered_rps: float | None  # an open-model step's arrival rate
    rps: float
    orders_per_s: float
    p95_ms: float
    error_ratio: float
    held: bool | None
    why: str
    broken_by: tuple[str, ...] = ()  # the SLO rules that failed over the step, by name

    @classmethod
    def parse(cls, raw: Any) -> CapacityStep:
        if not isinstance(raw, dict):
            raise TypeError(f"a step must be an object, got {type(raw).__name__}")
        held = raw["held"]
        if held is not None and not isinstance(held, bool):
            raise TypeError(f"'held' must be true, false or null, got {held!r:.40}")
        return cls(step=_whole(raw["step"]), users=_whole(raw["users"]), offered_rps=_number(raw.get("offered_rps"), True),
                   rps=_number(raw["rps"]), orders_per_s=_number(raw["orders_per_s"]), p95_ms=_number(raw["p95_ms"]),
                   error_ratio=_number(raw["error_ratio"]), held=held, why=str(raw.get("why", "")),
                   broken_by=tuple(str(name) for name in raw.get("broken_by", ())))

    @property
    def load(self) -> str:
        return offered_load(self.users, self.offered_rps)

    def value(self, basis: str) -> float:
        return self.orders_per_s if basis == "orders/s" else self.rps


def offered_load(users: int, offered_rps: float | None) -> str:
    """What a capacity step offered: its users, or (open model) its arrival rate."""
    return f"{users} users" if offered_rps is None else f"{offered_rps:g} req/s offered"


@dataclass(frozen=True)
class Capacity:
    steps: tuple[CapacityStep, ...]
    knee: CapacityStep | None
    broke_at: CapacityStep | None
    basis: str  # "orders/s" or "requests/s"
    forecast: float | None  # at the run's scale
    scale: float
    target: float  # headroom needed, as a ratio
    rules: tuple[str, ...]  # the SLO rules that judged each step, by name

    def to_dict(self) -> dict:
        return {"basis": self.basis, "forecast": self.forecast, "scale": self.scale, "target": self.target,
                "knee": self.knee.__dict__ if self.knee else None,
                "broke_at": self.broke_at.__dict__ if self.broke_at else None,
                "steps": [step.__dict__ for step in self.steps]}


def parse_capacity(raw: Any, source: str) -> Capacity:
    try:
        forecast, slo = raw["forecast"], raw["slo"]
        if not isinstance(forecast, dict) or not isinstance(slo, dict) or not isinstance(raw["steps"], list):
            raise TypeError("'forecast' and 'slo' must be objects and 'steps' a list")
        basis = "orders/s" if forecast.get("orders_per_s") else "requests/s"
        peak = _number(forecast.get("orders_per_s") or forecast.get("rps"), optional=True)
        return Capacity(
            steps=tuple(CapacityStep.parse(step) for step in raw["steps"]),
            knee=CapacityStep.parse(raw["knee"]) if raw.get("knee") else None,
            broke_at=CapacityStep.parse(raw["broke_at"]) if raw.get("broke_at") else None,
            basis=basis, forecast=peak if peak is None or peak > 0 else None,
            scale=_number(forecast.get("scale", 1.0)), target=_number(raw["headroom_target"]),
            rules=_rule_names(slo))
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise RunDirError(f"{source}: not a capacity result ({type(exc).__name__}: {exc}); "
                          f"re-run `peakdrill capacity` or see docs/capacity.md for the format") from exc


def _rule_names(slo: dict) -> tuple[str, ...]:
    """The step rules by name; a format-1 capacity.json had only a p95 and an error-ratio budget."""
    if "rules" in slo:
        return tuple(str(rule["name"]) for rule in slo["rules"])
    return (f"*: p95 <= {_number(slo['p95_ms']):g}ms", f"*: error_ratio <= {_number(slo['error_ratio']) * 100:g}%")


def _step_text(step: CapacityStep, basis: str) -> str:
    return (f"{step.value(basis):g} {basis} at {step.load} (p95 {step.p95_ms:g} ms, "
            f"errors {step.error_ratio:.2%})")


def headroom_verdict(capacity: Capacity) -> Verdict:
    basis, target_pct = capacity.basis, round(capacity.target * 100, 1)

    def verdict(word: str, headroom: float | None, window: str, detail: str) -> Verdict:
        measured = None if headroom is None else round(headroom * 100, 1)
        return Verdict(VERDICT_ID, TITLE, word, measured, target_pct, "%", ">=", window, detail,
                       "no data" if measured is None else f"{measured:+g}%")

    if not capacity.forecast:
        return verdict(INCONCLUSIVE, None, "", "no forecast peak to compare with: give the profile a forecast, "
                                               "or pass --forecast-orders-per-s or --forecast-rps")
    forecast = f"forecast peak {capacity.forecast:g} {basis} at scale {capacity.scale:g}"
    if basis == "orders/s" and not any(step.orders_per_s for step in capacity.steps):
        return verdict(INCONCLUSIVE, None, "", f"no orders measured in any step; {forecast}")
    if capacity.knee is None:
        if capacity.broke_at is None:
            return verdict(INCONCLUSIVE, None, "", f"no step could be judged ({capacity.steps[0].why})" if capacity.steps
                           else "no step was measured long enough to judge")
        # The first step already broke: its throughput is only an upper bound of the capacity.
        upper = capacity.broke_at.value(basis) / capacity.forecast - 1
        word = FAIL if upper < capacity.target else INCONCLUSIVE
        return verdict(word, upper, f"first step: {capacity.broke_at.load}",
                       f"even the first step broke ({capacity.broke_at.why}): capacity is below "
                       f"{_step_text(capacity.broke_at, basis)}; {forecast}"
                       + ("" if word == FAIL else "; start the search lower"))
    headroom = capacity.knee.value(basis) / capacity.forecast - 1
    window = f"knee: step {capacity.knee.step}, {capacity.knee.load}"
    detail = f"capacity {_step_text(capacity.knee, basis)}; {forecast}"
    if capacity.broke_at is None:
        if headroom >= capacity.target:
            return verdict(PASS, headroom, window, detail + "; the SLO never broke, so capacity is at least this")
        raise_option = "--max-users" if capacity.knee.offered_rps is None else "--max-rate"
        return verdict(INCONCLUSIVE, headroom, window, detail + "; the SLO never broke before the search ended: "
                                                                f"raise {raise_option} to find the knee")
    detail += f"; broke at {capacity.broke_at.load} ({capacity.broke_at.why})"
    return verdict(PASS if headroom >= capacity.target else FAIL, headroom, window, detail)


def capacity_result(capacity: Capacity, step: CapacityStep) -> str:
    """How a step of the search ended, as the report's tables show it."""
    if capacity.knee is not None and step.step == capacity.knee.step:
        return "held (knee)"
    return {True: "held", False: f"broke: {step.why}", None: f"inconclusive: {step.why}"}[step.held]
