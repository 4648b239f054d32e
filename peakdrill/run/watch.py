"""Watches a running drill: live progress for the operator and the abort condition for safety.

The abort condition (the rules marked ``abort: true``, and the ``abort:`` section's error ratio and
p95 limits, each broken for its ``sustained`` time) interrupts a running
experiment the way Chaos Toolkit itself offers, with SIGUSR1 ("stop now, keep the rollbacks"), so
the rollbacks always play; between experiments it just tells the runner to stop.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from peakdrill import events
from peakdrill.run.live import LiveStats
from peakdrill.run.schedule import stage_at
from peakdrill.slo.model import ERROR_RATIO, LATENCY, SUCCESS_RATIO, Rule, measure
from peakdrill.slo.select import select
from peakdrill.spec.profile import Stage

PROGRESS_EVERY_S = 5.0
MIN_REQUESTS_FOR_ABORT = 20
# Workers report every few seconds: a process is "connected" if it reported this close to the newest report.
GENERATOR_WINDOW_S = 5.0


@dataclass(slots=True, frozen=True)
class Clock:
    """The drill's one clock. Displayed times count from the run's start (as in events.jsonl);
    the profile's stages and the experiments' ``at`` count from when the load shape started."""

    run_start_ts: float
    load_start_ts: float
    stages: tuple[Stage, ...]

    def elapsed(self) -> float:
        return time.time() - self.run_start_ts

    def load_elapsed(self) -> float:
        return time.time() - self.load_start_ts

    def stage_at(self, load_elapsed: float) -> str:
        stage = stage_at(self.stages, load_elapsed)
        return stage.name if stage else "ending"


class DrillWatcher(threading.Thread):
    def __init__(self, run_dir: Path, clock: Clock, abort_rules: tuple[Rule, ...], groups: dict, bus: events.EventBus,
                 next_fault: Callable[[float], str], show_progress: bool) -> None:
        super().__init__(name="drill-watcher", daemon=True)
        self.live = LiveStats(run_dir)
        self.clock, self.abort_rules, self.groups, self.bus = clock, abort_rules, groups, bus
        self.next_fault = next_fault
        self.show_progress = show_progress
        self.in_experiment = threading.Event()
        self.aborted = threading.Event()
        self._halt = threading.Event()
        self._saturated: set[str] = set()  # load processes already put on the timeline as saturated

    def run(self) -> None:
        last_progress = 0.0
        while not self._halt.wait(1.0):
            self.live.poll()
            if not self.aborted.is_set():
                self._check_abort()
            self._note_saturation()
            now = time.monotonic()
            if self.show_progress and now - last_progress >= PROGRESS_EVERY_S:
                last_progress = now
                self._print_progress()

    def _check_abort(self) -> None:
        reason = next((why for rule in self.abort_rules if (why := breach(self.live, rule, self.groups))), "")
        if reason:
            self.aborted.set()
            self.bus.publish(events.Abort(reason=reason))
            print(f"peakdrill: ABORT: {reason}; rolling back and stopping the load", file=sys.stderr, flush=True)
            if self.in_experiment.is_set():
                os.kill(os.getpid(), signal.SIGUSR1)

    def _note_saturation(self) -> None:
        generators = self.live.generators(GENERATOR_WINDOW_S)
        for source in generators.saturated if generators else ():
            if source not in self._saturated:
                self._saturated.add(source)
                self.bus.publish(events.GeneratorSaturated(source=source, cpu_percent=self.live.cpu_percent(source)))

    def _print_progress(self) -> None:
        elapsed, load_elapsed = self.clock.elapsed(), self.clock.load_elapsed()
        window = self.live.window(5)
        figures = "waiting for the first reports"
        if window is not None:
            figures = f"{window.rps:6.1f} req/s | p95 {window.p95_ms:7.1f} ms | errors {window.error_ratio:6.2%}"
        generators = self.live.generators(GENERATOR_WINDOW_S)
        load = f" | {generators.text}" if generators else ""
        print(f"[t={elapsed:5.0f}s] {self.clock.stage_at(load_elapsed):<10} | {figures}{load} | "
              f"{self.next_fault(load_elapsed)}", flush=True)

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=5)


def breach(live: LiveStats, rule: Rule, groups: dict) -> str | None:
    """Why ``rule`` is broken over its sustained window, "" while it holds, None while it lacks data."""
    seconds = max(1, int(rule.sustained_s))
    names = None if rule.requests == ("*",) else select(rule.requests, live.names, groups)
    bucket = live.bucket(seconds, names)
    if bucket is None or bucket.count < MIN_REQUESTS_FOR_ABORT:
        return None
    kind = rule.metric.kind
    measured = measure(rule.metric, bucket, seconds)
    if rule.bound.holds(measured):
        return ""
    shown = f"{measured:.0%}" if kind in (ERROR_RATIO, SUCCESS_RATIO) else f"{measured:.0f}" + (" ms" if kind == LATENCY else "/s")
    return f"{rule.title}: {rule.metric.text} {shown} over the last {seconds}s breaks {rule.bound.text}"


def print_timeline_event(start_ts: float) -> Callable[[events.Event], None]:
    """A bus handler that shows faults and aborts on the console as they happen."""

    shown = (events.FaultInjected, events.FaultRemoved, events.ExperimentStarted, events.ExperimentFinished,
             events.GeneratorSaturated)

    def handler(event: events.Event) -> None:
        if isinstance(event, shown):
            details = {k: v for k, v in event.to_json().items() if k not in ("ts", "type")}
            print(f"[t={event.ts - start_ts:5.0f}s] {event.type}: {details}", flush=True)

    return handler
