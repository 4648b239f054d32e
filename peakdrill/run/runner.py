"""Runs every run: Locust load and a drill's Chaos Toolkit experiments on one clock, recorded as it happens.

The shape is chaoslib's ``Runner._run``: everything that was started is stopped in ``finally``,
whatever happened (an abort, Ctrl-C, SIGTERM, a crash), and the run directory is closed with an
honest status so the report can still be written from what was recorded.

``peakdrill load`` and ``peakdrill capacity`` are drills without a timeline: they run through
here too, with a :class:`RunMode` saying what differs (run.json kind, Locust topology,
and when to end the load early).
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
import platform
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from peakdrill import __version__, events
from peakdrill.chaos.client import Target
from peakdrill.run.locust import LoadSpec, LocustProcess, Topology
from peakdrill.run.plan import RunPlan
from peakdrill.run.schedule import STAGES_ENV, START_AT_ENV, stages_json, utc_text
from peakdrill.run.scraper import MetricsScraper
from peakdrill.run.steps import StepProcesses
from peakdrill.run.watch import Clock, DrillWatcher, print_timeline_event
from peakdrill.errors import DrillError
from peakdrill.integrity.afterload import IntegrityHook
from peakdrill.rundir import FORMAT_VERSION, RunDir, iso
from peakdrill.safety import Allowlist

log = logging.getLogger(__name__)

LOAD_START_TIMEOUT_S = 60.0
POLL_S = 0.5
# How long the runner waits at the end for experiments to finish their rollbacks; one still running
# after that plays them on its own (it is detached) and records them in events.jsonl.
ROLLBACK_WAIT_S = 120.0


class _Terminated(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C: stop in order and keep the data."""


def _raise_terminated(signum, frame):
    raise _Terminated()


@dataclass(slots=True, frozen=True)
class RunMode:
    """What a load run or a capacity search changes about a drill run; the defaults are a drill's."""

    kind: str = "drill"
    topology: Topology = Topology()
    meta: dict = field(default_factory=dict)  # extra run.json fields, written at the start
    # False: record the timeline in run.json but inject nothing (a shard other than 0 of several masters).
    run_timeline: bool = True
    # The instant (Unix time) the load's first stage starts, shared by several masters; None: at once.
    start_at_ts: float | None = None
    # Added to the run id: shards of one drill start in the same second and must not share an id.
    run_suffix: str = ""
    # Polled while the load runs with the run directory; a non-empty reason ends the load early.
    stop_when: Callable[[Path], str] | None = None


def _versions() -> dict:
    found = {"peakdrill": __version__, "python": platform.python_version()}
    for package in ("locust", "chaostoolkit-lib", "chaostoolkit"):
        try:
            found[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            pass
    return found


def _initial_meta(plan: RunPlan, run: RunDir, start_ts: float, mode: RunMode) -> dict:
    drill = plan.drill
    meta = {
        "format": FORMAT_VERSION, "run_id": run.run_id, "kind": mode.kind,
        "profile": {"name": plan.profile.name, "file": str(plan.profile_file)},
        "scale": plan.scale, "workers": plan.workers,
        "target": {"url": plan.target_url, "allowed_hosts": list(plan.allowed_hosts)},
        "stages": [], "timeline": [],
        "slo": {"recovery_window_s": plan.ruleset.recovery_window_s}, "slo_rules": plan.ruleset.to_dict(),
        "endpoints": drill.endpoints.model_dump(), "abort": drill.abort.model_dump(),
        "integrity": drill.integrity.model_dump(mode="json") if drill.integrity else None,
        "versions": _versions(),
        "start_ts": start_ts, "started_at": iso(start_ts), "load_start_ts": None, "end_ts": None, "ended_at": None,
        "status": "running",
    }
    if mode.kind == "drill":
        meta["drill"] = {"name": drill.name, "file": str(plan.drill_file), "description": drill.description}
    return meta | mode.meta


def _on_the_clock(plan: RunPlan, offset_s: float) -> dict:
    """Stage and timeline positions relative to the run start, now that the load's start is known."""
    stages, cursor = [], offset_s
    for stage in plan.stages:
        stages.append({"name": stage.name, "start_s": round(cursor, 3), "end_s": round(cursor + stage.duration, 3),
                       "users": stage.users, "arrival_rate": stage.arrival_rate, "measured": stage.measured})
        cursor += stage.duration
    timeline = [{"at_s": round(offset_s + step.at_s, 3), "experiment": str(step.path), "title": step.title,
                 "recovery_target_s": step.recovery_target_s} for step in plan.timeline]
    return {"stages": stages, "timeline": timeline}


@dataclass(slots=True)
class DrillRun:
    plan: RunPlan
    run: RunDir
    bus: events.EventBus
    locust: LocustProcess
    show_progress: bool
    mode: RunMode = RunMode()
    status: str = "failed"
    watcher: DrillWatcher | None = None
    ended_early: str = ""
    steps: StepProcesses | None = None

    def _wait_for_load_start(self) -> float:
        """The load clock starts at the profile shape's first tick, which it writes to events.jsonl."""
        topology = self.mode.topology
        timeout = LOAD_START_TIMEOUT_S + (topology.wait_for_workers_s if topology.role == "master" else 0)
        if self.mode.start_at_ts is not None:
            timeout += max(0.0, self.mode.start_at_ts - time.time())
        deadline = time.monotonic() + timeout
        events_file = self.run.path / events.EVENTS_FILE
        while time.monotonic() < deadline:
            if self.locust.poll() is not None:
                raise DrillError(f"{self.locust.spec.locustfile}: Locust exited before the load started (it rejects the "
                                 f"locustfile or an option); fix what its log says:\n{self.locust.log_tail()}")
            if events_file.exists():
                for line in events_file.read_text(encoding="utf-8").splitlines():
                    if '"stage_started"' in line:
                        return float(json.loads(line)["ts"])
            time.sleep(0.2)
        raise DrillError(f"Locust did not start the load within {timeout:.0f}s; its log says:\n{self.locust.log_tail()}")

    def _load_over(self) -> bool:
        if self.mode.stop_when and not self.ended_early:
            self.ended_early = self.mode.stop_when(self.run.path)
        return self.locust.poll() is not None or self.watcher.aborted.is_set() or bool(self.ended_early)

    def _sleep_until(self, deadline_ts: float) -> bool:
        """Wait for ``deadline_ts``; False if the load ended (or was ended early) or the drill aborted first."""
        while time.time() < deadline_ts:
            if self._load_over():
                return False
            time.sleep(min(POLL_S, max(0.0, deadline_ts - time.time())))
        return True

    def _next_fault(self, load_elapsed: float) -> str:
        if not self.plan.timeline:
            return "no faults planned"
        if not self.mode.run_timeline:
            return "faults: shard 0 runs them"
        upcoming = [step for step in self.plan.timeline if step.at_s > load_elapsed]
        if not upcoming:
            return "no more faults"
        return f"next: {upcoming[0].display_name} in {upcoming[0].at_s - load_elapsed:.0f}s"

    def execute(self) -> None:
        plan, start_ts = self.plan, self.run.read_meta()["start_ts"]
        pid = self.locust.start()
        self.bus.publish(events.LoadStarted(pid=pid, workers=plan.workers))
        load_start = self._wait_for_load_start()
        self.run.update_meta(load_start_ts=load_start, **_on_the_clock(plan, load_start - start_ts))
        clock = Clock(run_start_ts=start_ts, load_start_ts=load_start, stages=plan.stages)
        self.watcher = DrillWatcher(self.run.path, clock, plan.abort_rules, plan.drill.endpoints.model_dump(), self.bus,
                                    self._next_fault, self.show_progress, on_abort=self.steps.interrupt_all)
        self.watcher.start()
        # Each entry starts at its time in its own process, whatever still runs: entries may overlap.
        for step in plan.timeline if self.mode.run_timeline else ():
            if not self._sleep_until(load_start + step.at_s):
                break
            self.steps.start(step)
        self._sleep_until(load_start + plan.load_duration_s + 5)
        limit = start_ts + plan.time_limit_s
        while not self._load_over() and time.time() < limit:
            time.sleep(POLL_S)
        if self.ended_early:
            print(f"peakdrill: ending the load early: {self.ended_early}", flush=True)
        self.status = "aborted" if self.watcher.aborted.is_set() else "completed"


def _locust_env(plan: RunPlan, mode: RunMode) -> tuple[tuple[str, str], ...]:
    """What Locust's shape and journeys need: the stages (already scaled and sharded), the endpoint
    map, the common start."""
    env = (*plan.locust_env, (STAGES_ENV, stages_json(plan.stages)))
    return env + (((START_AT_ENV, utc_text(mode.start_at_ts)),) if mode.start_at_ts is not None else ())


def run_drill(plan: RunPlan, reports_dir: Path, show_progress: bool = True, mode: RunMode = RunMode(),
              observers: tuple = ()) -> RunDir:
    """Run ``plan``; each observer (e.g. :class:`peakdrill.live.LiveViews`) gets ``start(run, bus)``
    once the run directory exists and ``finish()`` once the run has ended."""
    run = RunDir.create(reports_dir, plan.drill.name + mode.run_suffix)
    start_ts = time.time()
    run.write_meta(_initial_meta(plan, run, start_ts, mode))
    bus = events.EventBus()
    bus.subscribe(events.JsonlEventWriter(run.path, start_ts))
    if show_progress:
        bus.subscribe(print_timeline_event(start_ts))
    chaos_log = logging.FileHandler(run.path / "chaostoolkit.log")
    logging.getLogger("chaostoolkit").addHandler(chaos_log)

    locust = LocustProcess(LoadSpec(locustfile=Path(plan.drill.load.locustfile), profile=plan.profile_file, scale=plan.scale,
                                    workers=plan.workers, host=plan.target_url, run_dir=run.path,
                                    topology=mode.topology, env=_locust_env(plan, mode),
                                    allowed_hosts=plan.allowed_hosts))
    scraper = MetricsScraper(Target(plan.target_url.rstrip("/"), Allowlist(plan.allowed_hosts)), run.path)
    drill = DrillRun(plan=plan, run=run, bus=bus, locust=locust, show_progress=show_progress, mode=mode,
                     steps=StepProcesses(run, bus, start_ts))
    integrity = (IntegrityHook(run.path, plan.drill.integrity, plan.allowed_hosts, plan.target_url, start_ts,
                               plan.integrity_dir) if plan.drill.integrity is not None else None)
    previous_sigterm = signal.signal(signal.SIGTERM, _raise_terminated)
    events.activate(bus)
    try:
        bus.publish(events.RunStarted(run_id=run.run_id))
        for observer in observers:
            observer.start(run, bus)
        scraper.start()
        if integrity is not None:
            integrity.start()
        drill.execute()
    except KeyboardInterrupt as exc:
        drill.status = "interrupted"
        bus.publish(events.Interrupted(signal="SIGTERM" if isinstance(exc, _Terminated) else "SIGINT"))
    except Exception:
        drill.status = "failed"
        raise
    finally:
        # A second Ctrl-C must not cut the clean-up short: it is what keeps the target safe.
        previous_sigint = signal.signal(signal.SIGINT, signal.SIG_IGN) if threading.current_thread() is threading.main_thread() else None
        try:
            # Every experiment still running is stopped and rolled back before the load stops:
            # its recovery is measured under load, and an abort or Ctrl-C leaves nothing injected.
            drill.steps.interrupt_all()
            drill.steps.wait(ROLLBACK_WAIT_S)
            if drill.watcher:
                drill.watcher.stop()
            bus.publish(events.LoadStopped(exit_code=locust.stop()))
            scraper.stop()
            if integrity is not None:
                integrity.finish(bus, load_ran=drill.watcher is not None)
            end_ts = time.time()
            run.update_meta(status=drill.status, end_ts=end_ts, ended_at=iso(end_ts))
            bus.publish(events.RunFinished(status=drill.status))
            for observer in observers:
                observer.finish()
        finally:
            events.activate(None)
            logging.getLogger("chaostoolkit").removeHandler(chaos_log)
            chaos_log.close()
            signal.signal(signal.SIGTERM, previous_sigterm)
            if previous_sigint is not None:
                signal.signal(signal.SIGINT, previous_sigint)
    return run
