"""Capacity search: the steps of load, each step's figures, the knee, and ``capacity.json``.

A step holds a fixed user count for ``step_s``; its first third settles (users spawning, queues
filling) and is left out. The rest is judged from the merged per-second histograms of the run
directory: it holds when every SLO rule of the search holds over it (peakdrill/load/capacity_rules.py),
breaks when one fails, and is inconclusive when a rule had no requests in it. The knee is the last step of
the unbroken run of held steps from the start; capacity is the throughput measured there. The
same analysis ends the load early (once a step broke) and writes capacity.json at the end; the
headroom verdict is the report's (peakdrill/report/capacity.py).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from peakdrill.run.live import LiveStats
from peakdrill.errors import SpecError
from peakdrill.histograms import Bucket, merge_buckets
from peakdrill.load.capacity_rules import judge_rules, rules_from_meta
from peakdrill.rundir.histfiles import load_buckets
from peakdrill.load.plan import COMMAND_LINE
from peakdrill.report.capacity import offered_load
from peakdrill.rundir import RunDir
from peakdrill.slo.model import RuleSet
from peakdrill.spec.profile import Stage

REFERENCE_ORDER_ENDPOINT = "POST /api/orders"  # the reference shop's; another shop's comes from its map

CAPACITY_FILE = "capacity.json"
MAX_STEPS = 50
# Workers report every 3 s and the master writes on receipt: a second is on disk within ~5 s.
REPORT_LAG_S = 5.0
MIN_MEASURED_S = 2
WARM_UP = "warm-up"


# The options that set the steps, by what is stepped (users of a closed model, arrivals of an open one).
STEP_OPTIONS = {"users": ("--start-users", "--step-users", "--max-users"),
                "req/s": ("--start-rate", "--step-rate", "--max-rate")}


@dataclass(slots=True, frozen=True)
class CapacitySearch:
    """How the load steps up and what breaks a step. Steps are users (closed model) or arrivals per
    second (open model, served by a pool of ``pool_users``), in the profile's real units, scaled
    like any stage."""

    unit: Literal["users", "req/s"]
    start: float
    step: float
    maximum: float
    step_s: float
    rules: RuleSet  # what breaks a step: capacity_rules.step_rules
    pool_users: int | None = None
    forecast_rps: float | None = None
    forecast_orders_per_s: float | None = None
    headroom: float = 0.30
    order_endpoints: tuple[str, ...] = (REFERENCE_ORDER_ENDPOINT,)
    excluded_endpoints: tuple[str, ...] = ("CS first response",)

    def __post_init__(self) -> None:
        start_option, step_option, max_option = STEP_OPTIONS[self.unit]
        checks = ((start_option, self.start, f"pass e.g. {start_option} 10"),
                  (step_option, self.step, f"pass e.g. {step_option} 10"),
                  ("--step-duration", self.step_s, "pass e.g. --step-duration 30s"))
        for option, value, fix in checks:
            if not value > 0:
                raise SpecError(COMMAND_LINE, option, f"{value!r} is not above 0", fix)
        if self.headroom < 0:
            raise SpecError(COMMAND_LINE, "--headroom", f"{self.headroom!r} is negative", "pass e.g. --headroom 0.3 for 30%")
        if self.maximum < self.start:
            raise SpecError(COMMAND_LINE, max_option, f"{self.maximum:g} is below {start_option} {self.start:g}",
                            f"raise {max_option} or lower {start_option}")
        if self.steps > MAX_STEPS:
            raise SpecError(COMMAND_LINE, step_option, f"{self.step:g} gives {self.steps} steps up to {self.maximum:g}",
                            f"take bigger steps or a lower {max_option} (at most {MAX_STEPS} steps)")

    @property
    def steps(self) -> int:
        return int((self.maximum - self.start) // self.step) + 1

    @property
    def settle_s(self) -> float:
        return self.step_s / 3

    def stages(self, scale: float) -> list[Stage]:
        """A warm-up, then one stage per distinct scaled step; a step's new users spawn within about a second.

        The warm-up (the first step's load for a settle time, not measured) keeps the spawning of the
        first users out of the generator's health checks, as a drill's warm-up does."""
        values: list[float] = []
        for index in range(self.steps):
            value = (self.start + index * self.step) * scale
            value = max(1, round(value)) if self.unit == "users" else round(value, 3)
            if not values or value != values[-1]:
                values.append(value)
        if self.unit == "users":
            steps = [Stage(name=f"{users} users", duration=self.step_s, users=users, spawn_rate=float(users))
                     for users in values]
        else:
            pool = max(1, round(self.pool_users * scale))
            steps = [Stage(name=f"{rate:g} req/s", duration=self.step_s, users=pool, spawn_rate=float(pool),
                           arrival_rate=rate) for rate in values]
        return [steps[0].model_copy(update={"name": WARM_UP, "duration": self.settle_s, "measured": False}), *steps]

    def meta(self, scale: float) -> dict:
        """run.json's ``capacity``: what the analysis needs, with the forecast at the run's scale."""
        def scaled(value: float | None) -> float | None:
            return None if value is None else value * scale
        return {"rules": self.rules.to_dict(), "step_s": self.step_s, "settle_s": self.settle_s,
                "order_endpoints": list(self.order_endpoints), "excluded_endpoints": list(self.excluded_endpoints),
                "forecast": {"rps": scaled(self.forecast_rps), "orders_per_s": scaled(self.forecast_orders_per_s),
                             "scale": scale},
                "headroom_target": self.headroom}


@dataclass(slots=True, frozen=True)
class StepResult:
    step: int
    users: int
    offered_rps: float | None  # the arrival rate of an open-model step
    start_s: float
    end_s: float
    measured_s: int
    requests: int
    failures: int
    orders: int
    rps: float
    orders_per_s: float
    p95_ms: float
    error_ratio: float
    held: bool | None  # None: too little data to judge, or a rule had no requests in the step
    why: str
    broken_by: tuple[str, ...] = ()  # the rules that failed over the step, by name
    inconclusive_rules: tuple[str, ...] = ()  # the rules with no requests in the step


def _judge(step: int, stage: dict, start_ts: float, buckets: dict[tuple[int, str], Bucket], settings: dict,
           rules: RuleSet, groups: dict) -> StepResult:
    first = int(start_ts + stage["start_s"] + settings["settle_s"] + 0.999)  # whole seconds only
    last = int(start_ts + stage["end_s"]) - 1
    excluded, orders = set(settings["excluded_endpoints"]), set(settings["order_endpoints"])
    seconds = {s for s, _ in buckets if first <= s <= last}
    http = merge_buckets(b for (s, name), b in buckets.items() if s in seconds and name not in excluded)
    placed = merge_buckets(b for (s, name), b in buckets.items() if s in seconds and name in orders)
    measured = len(seconds)
    p95 = round(http.percentile_ms(95), 2)
    ratio = round(http.failures / http.count, 5) if http.count else 0.0
    held, why, judgement = None, f"only {measured} s measured (needs {MIN_MEASURED_S})", None
    if measured >= MIN_MEASURED_S and http.count:
        by_name: dict[str, Bucket] = {}
        for (s, name), bucket in buckets.items():
            if s in seconds:
                by_name.setdefault(name, Bucket()).merge(bucket)
        judgement = judge_rules(rules, by_name, measured, groups, excluded)
        held = False if judgement.broken_by else None if judgement.inconclusive else True
        why = judgement.why
    return StepResult(step=step, users=int(stage.get("users") or 0), offered_rps=stage.get("arrival_rate"), start_s=stage["start_s"], end_s=stage["end_s"],
                      measured_s=measured, requests=http.count, failures=http.failures,
                      orders=placed.count - placed.failures, rps=round(http.count / measured, 2) if measured else 0.0,
                      orders_per_s=round((placed.count - placed.failures) / measured, 3) if measured else 0.0,
                      p95_ms=p95, error_ratio=ratio, held=held, why=why,
                      broken_by=judgement.broken_by if judgement else (),
                      inconclusive_rules=judgement.inconclusive if judgement else ())


def judge_steps(run_dir: Path, until_ts: float | None = None,
                buckets: dict[tuple[int, str], Bucket] | None = None) -> list[StepResult]:
    """The steps that ended before ``until_ts`` (if given) and began before the data ends, up to and
    including the first broken one. ``buckets`` are the run's merged histograms if already at hand."""
    meta = RunDir(run_dir).read_meta()
    settings, start_ts = meta["capacity"], meta["start_ts"]
    rules, groups = rules_from_meta(settings["rules"]), dict(meta.get("endpoints") or {})
    buckets = load_buckets(run_dir) if buckets is None else buckets
    data_end = max((second for second, _ in buckets), default=start_ts) + 1
    stages = [s for s in meta.get("stages", []) if s["name"] != WARM_UP
              and start_ts + s["start_s"] < data_end and (until_ts is None or start_ts + s["end_s"] <= until_ts)]
    results = []
    for number, stage in enumerate(stages, start=1):
        results.append(_judge(number, stage, start_ts, buckets, settings, rules, groups))
        if results[-1].held is False:
            break
    return results


class StopPastTheKnee:
    """The runner's ``stop_when``: once a finished step broke the SLO, there is nothing more to learn."""

    def __init__(self) -> None:
        self._judged = 0
        self._live: LiveStats | None = None  # reads only what was appended since the last step
        self._stage_ends: list[float] = []  # fixed once the load has started

    def __call__(self, run_dir: Path) -> str:
        until = time.time() - REPORT_LAG_S
        if not self._stage_ends:
            meta = RunDir(run_dir).read_meta()
            self._stage_ends = [meta["start_ts"] + stage["end_s"] for stage in meta.get("stages", [])]
            self._live = LiveStats(run_dir)
        finished = sum(1 for end in self._stage_ends if end <= until)
        if finished <= self._judged:  # judge each step once, when its data is on disk
            return ""
        self._judged = finished
        self._live.poll()
        results = judge_steps(run_dir, until, self._live.buckets)
        if results and results[-1].held is False:
            broke = results[-1]
            return f"step {broke.step} ({offered_load(broke.users, broke.offered_rps)}) broke the SLO: {broke.why}"
        return ""


def write_capacity(run_dir: Path) -> dict:
    """Judge every step of a finished search and write capacity.json (format: docs/capacity.md)."""
    run = RunDir(run_dir)
    meta = run.read_meta()
    settings = meta["capacity"]
    steps = judge_steps(run_dir)
    knee = None
    for step in steps:
        if not step.held:
            break
        knee = step
    broke = steps[-1] if steps and steps[-1].held is False else None
    result = {"format": 2, "slo": {"rules": settings["rules"]["rules"]},
              "step_s": settings["step_s"], "settle_s": settings["settle_s"],
              "order_endpoints": settings["order_endpoints"], "excluded_endpoints": settings["excluded_endpoints"],
              "steps": [asdict(step) for step in steps],
              "knee": asdict(knee) if knee else None, "broke_at": asdict(broke) if broke else None,
              "forecast": settings["forecast"], "headroom_target": settings["headroom_target"]}
    # The seconds after the step that broke were only the time it took to stop: nothing there is scored,
    # so a generator that choked on the overload then does not make the search's result untrusted.
    # stages[0] is the warm-up, stages[k] step k.
    run.update_meta(stages=[dict(stage, measured=stage["name"] != WARM_UP and index <= len(steps))
                            for index, stage in enumerate(meta.get("stages", []))])
    path = run_dir / CAPACITY_FILE
    tmp = path.with_name(f".{CAPACITY_FILE}.tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
    return result
