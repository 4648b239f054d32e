"""What a running drill, load or capacity search has recorded so far, tailed from its run directory.

The Prometheus exporter, the live page and the terminal progress bar all read this one feed, and
the feed reads the same files the report reads (histograms, events, generator health, run.json),
so what is watched live is what gets scored. One thread polls every second; readers take a
:class:`Snapshot`, which is immutable, so they never see a poll half done.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

from peakdrill import events
from peakdrill.errors import RunDirError
from peakdrill.histograms import Bucket
from peakdrill.run.live import LiveStats
from peakdrill.run.watch import breach
from peakdrill.rundir import EVENTS_FILE, JsonlTail, RunDir
from peakdrill.slo.model import RuleSet

log = logging.getLogger(__name__)

POLL_S = 1.0
RECENT_HEALTH_S = 5.0  # a load process silent for longer is no longer counted as connected
WAKE_ON = (events.FaultInjected, events.FaultRemoved, events.Abort, events.Interrupted, events.RunFinished)


@dataclass(frozen=True, slots=True)
class Fault:
    fault_id: str
    fault: str
    target: str
    experiment: str
    start_ts: float
    end_ts: float | None  # None while it is active


@dataclass(frozen=True, slots=True)
class Snapshot:
    run_id: str = ""
    kind: str = "drill"
    plan: str = ""  # the drill's (or profile's) name: which plan a fault series belongs to
    start_ts: float = 0.0
    load_start_ts: float | None = None
    load_duration_s: float = 0.0
    stages: tuple[dict, ...] = ()
    stage: str = ""
    stage_users: int = 0
    measured: bool = False
    users: int = 0
    workers: int = 0  # load processes reporting lately, other than masters
    workers_cpu: dict[str, float] = field(default_factory=dict)
    totals: dict[str, Bucket] = field(default_factory=dict)  # per endpoint, since the start
    faults: tuple[Fault, ...] = ()
    rules: dict[str, bool] = field(default_factory=dict)  # rule id -> holds (absent: no data yet)
    aborting: bool = False
    interrupted: bool = False
    saturated: bool = False
    finished: bool = False

    @property
    def inconclusive(self) -> bool:
        return self.interrupted or self.saturated


class LiveFeed(threading.Thread):
    def __init__(self, run: RunDir, ruleset: RuleSet, groups: dict, plan_name: str) -> None:
        super().__init__(name="live-feed", daemon=True)
        self.rundir, self.ruleset, self.groups, self.plan_name = run, ruleset, groups, plan_name
        self.stats = LiveStats(run.path)
        self._events = JsonlTail(run.path / EVENTS_FILE)
        self._totals: dict[str, Bucket] = {}
        self._faults: dict[str, Fault] = {}
        self._saturated = False
        self._state: dict = {"stage": "", "stage_users": 0, "aborting": False, "interrupted": False, "finished": False}
        self._meta: dict = {}
        self._halt = threading.Event()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self.snapshot = Snapshot()

    def run(self) -> None:
        while not self._halt.is_set():
            self._wake.wait(POLL_S)
            self._wake.clear()
            try:
                self.poll()
            except RunDirError as exc:  # a bad line is skipped; the report will name it too
                log.warning("live view: %s", exc)

    def on_event(self, event: events.Event) -> None:
        """A bus handler: a fault or a stop is shown at once, not at the next poll."""
        if isinstance(event, WAKE_ON):
            self._wake.set()

    def stop(self) -> None:
        """Stop polling after one last poll, so the final figures include the workers' last reports."""
        self._halt.set()
        self._wake.set()
        self.join(timeout=5)
        self.poll()

    def poll(self) -> None:
        with self._lock:  # the final poll from stop() must not interleave with the thread's
            if self._meta.get("load_start_ts") is None or self._meta.get("status", "running") == "running":
                self._meta = self.rundir.read_meta()
            for second, name, bucket in self.stats.poll():
                self._totals.setdefault(name, Bucket()).merge(bucket)
            for event in self._events.read_new():
                self._event(event)
            self.snapshot = self._snapshot()

    def _event(self, event: dict) -> None:
        kind, state = event.get("type"), self._state
        if kind == "stage_started":
            state["stage"], state["stage_users"] = str(event.get("stage", "")), int(event.get("users") or 0)
        elif kind == "fault_injected":
            key = str(event.get("fault_id", ""))
            self._faults[key] = Fault(key, str(event.get("fault", "")), str(event.get("target", "")),
                                      str(event.get("experiment", "")), float(event["ts"]), None)
        elif kind == "fault_removed":
            key = str(event.get("fault_id", ""))
            if key in self._faults and self._faults[key].end_ts is None:
                old = self._faults[key]
                self._faults[key] = Fault(old.fault_id, old.fault, old.target, old.experiment, old.start_ts, float(event["ts"]))
        elif kind == "abort":
            state["aborting"] = True
        elif kind == "interrupted":
            state["interrupted"] = state["aborting"] = True
        elif kind == "run_finished":
            state["finished"] = True

    def _stage_measured(self) -> bool:
        stage = next((s for s in self._meta.get("stages", ()) if s.get("name") == self._state["stage"]), None)
        return bool(stage and stage.get("measured"))

    def _rules(self) -> dict[str, bool]:
        found = {}
        for rule in self.ruleset.rules:
            if rule.window == "recovery":
                continue  # only meaningful after a fault, scored by the report
            verdict = breach(self.stats, rule, self.groups)
            if verdict is not None:
                found[rule.id] = not verdict
        return found

    def _generators(self) -> tuple[dict[str, float], int, int, bool]:
        """(CPU % per load process reporting lately, users over them, workers among them, any saturated)."""
        generators = self.stats.generators(RECENT_HEALTH_S)
        if generators is None:
            return {}, 0, 0, False
        recent = self.stats.health(RECENT_HEALTH_S)
        return ({source: sample.cpu_percent for source, sample in recent.items() if sample.cpu_percent is not None},
                sum(sample.users or 0 for sample in recent.values()), generators.workers, bool(generators.saturated))

    def _snapshot(self) -> Snapshot:
        meta, state = self._meta, self._state
        workers_cpu, users, workers, saturated = self._generators()
        self._saturated = self._saturated or saturated  # once saturated, the run cannot pass
        stages = tuple(meta.get("stages") or ())
        load_duration = max((s["end_s"] for s in stages), default=0.0) - min((s["start_s"] for s in stages), default=0.0)
        return Snapshot(run_id=str(meta.get("run_id", "")), kind=str(meta.get("kind", "drill")), plan=self.plan_name,
                        start_ts=float(meta.get("start_ts") or 0.0), load_start_ts=meta.get("load_start_ts"),
                        load_duration_s=load_duration, stages=stages, stage=state["stage"],
                        stage_users=state["stage_users"], measured=self._stage_measured(), users=users,
                        workers=workers, workers_cpu=workers_cpu,
                        totals={name: _copy(bucket) for name, bucket in self._totals.items()},
                        faults=tuple(self._faults.values()), rules=self._rules(), aborting=state["aborting"],
                        interrupted=state["interrupted"], saturated=self._saturated, finished=state["finished"])


def _copy(bucket: Bucket) -> Bucket:
    return Bucket(dict(bucket.counts), bucket.failures)
