"""Typed timeline events and the bus that carries them from runners to writers.

Running and reporting are separate: the drill runner, the Locust plugin and the chaos provider
publish events; handlers (the ``events.jsonl`` writer, the progress printer) consume them. A
failing handler is logged and dropped for that event, it never aborts a drill.

The chaos provider runs inside ``chaos run`` too, where there is no drill: ``publish`` then goes
nowhere, because no bus is active.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import ClassVar

log = logging.getLogger(__name__)

EVENTS_FILE = "events.jsonl"


@dataclass(slots=True, frozen=True, kw_only=True)
class Event:
    type: ClassVar[str] = "event"
    ts: float = field(default_factory=time.time)

    def to_json(self) -> dict:
        return {"ts": self.ts, "type": self.type, **{k: v for k, v in asdict(self).items() if k != "ts"}}


@dataclass(slots=True, frozen=True, kw_only=True)
class RunStarted(Event):
    type: ClassVar[str] = "run_started"
    run_id: str


@dataclass(slots=True, frozen=True, kw_only=True)
class LoadStarted(Event):
    type: ClassVar[str] = "load_started"
    pid: int
    workers: int


@dataclass(slots=True, frozen=True, kw_only=True)
class StageStarted(Event):
    type: ClassVar[str] = "stage_started"
    stage: str
    users: int


@dataclass(slots=True, frozen=True, kw_only=True)
class ExperimentStarted(Event):
    type: ClassVar[str] = "experiment_started"
    experiment: str
    title: str


@dataclass(slots=True, frozen=True, kw_only=True)
class FaultInjected(Event):
    type: ClassVar[str] = "fault_injected"
    fault_id: str
    fault: str
    target: str
    experiment: str = ""


@dataclass(slots=True, frozen=True, kw_only=True)
class FaultRemoved(Event):
    type: ClassVar[str] = "fault_removed"
    fault_id: str
    fault: str
    target: str
    experiment: str = ""
    by: str = "method"


@dataclass(slots=True, frozen=True, kw_only=True)
class ExperimentFinished(Event):
    type: ClassVar[str] = "experiment_finished"
    experiment: str
    status: str
    deviated: bool


@dataclass(slots=True, frozen=True, kw_only=True)
class Abort(Event):
    type: ClassVar[str] = "abort"
    reason: str


@dataclass(slots=True, frozen=True, kw_only=True)
class Reconciled(Event):
    """The acknowledgements were reconciled against the systems of record (reconciliation.json)."""

    type: ClassVar[str] = "reconciled"
    kinds: int
    lost: int
    duplicated: int
    phantom: int
    inconclusive: int


@dataclass(slots=True, frozen=True, kw_only=True)
class Interrupted(Event):
    type: ClassVar[str] = "interrupted"
    signal: str


@dataclass(slots=True, frozen=True, kw_only=True)
class WorkerJoined(Event):
    """A Locust worker connected to the master (written by the master)."""

    type: ClassVar[str] = "worker_joined"
    worker: str
    connected: int  # workers connected now


@dataclass(slots=True, frozen=True, kw_only=True)
class WorkerLost(Event):
    """A worker left while the load ran: it quit, or the master stopped hearing its heartbeats."""

    type: ClassVar[str] = "worker_lost"
    worker: str
    connected: int
    how: str


@dataclass(slots=True, frozen=True, kw_only=True)
class GeneratorSaturated(Event):
    """A load process sat at saturated CPU for several seconds: what it measured is suspect."""

    type: ClassVar[str] = "generator_saturated"
    source: str
    cpu_percent: float


@dataclass(slots=True, frozen=True, kw_only=True)
class LoadStopped(Event):
    type: ClassVar[str] = "load_stopped"
    exit_code: int | None


@dataclass(slots=True, frozen=True, kw_only=True)
class RunFinished(Event):
    type: ClassVar[str] = "run_finished"
    status: str


Handler = Callable[[Event], None]


class EventBus:
    def __init__(self) -> None:
        self._handlers: list[Handler] = []
        # The experiment being run; fault events published by the provider, which cannot know
        # which drill step called it, are stamped with it.
        self.experiment = ""

    def subscribe(self, handler: Handler) -> None:
        self._handlers.append(handler)

    def timeline(self) -> dict:
        for handler in self._handlers:
            if isinstance(handler, JsonlEventWriter):
                return {"file": str(handler.path), "start_ts": handler.start_ts, "experiment": self.experiment}
        return {}

    def publish(self, event: Event) -> None:
        if getattr(event, "experiment", None) == "" and self.experiment:
            event = replace(event, experiment=self.experiment)
        for handler in self._handlers:
            try:
                handler(event)
            except Exception:  # a writer's bug must not abort a drill that is injecting faults
                log.exception("event handler %r failed on %s; the drill goes on", handler, event.type)


class JsonlEventWriter:
    """Appends each event as one line of ``events.jsonl``, with ``t`` relative to the run start.

    One ``write`` of a whole line on an O_APPEND descriptor, so the drill runner and the Locust
    master can both append to the same file without tearing each other's lines.
    """

    def __init__(self, run_dir: Path, start_ts: float) -> None:
        self.path = run_dir / EVENTS_FILE
        self.start_ts = start_ts
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        record = event.to_json()
        record["t"] = round(event.ts - self.start_ts, 3)
        line = (json.dumps(record, sort_keys=False) + "\n").encode("utf-8")
        with self._lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, line)
            finally:
                os.close(fd)


_active_bus: EventBus | None = None


def activate(bus: EventBus | None) -> None:
    """Make ``bus`` the target of :func:`publish` (``None`` when the drill ends)."""
    global _active_bus
    _active_bus = bus


def in_a_run() -> bool:
    """True while a peakdrill runner is running (its bus is active in this process)."""
    return _active_bus is not None


def publish(event: Event) -> None:
    if _active_bus is not None:
        _active_bus.publish(event)


def active_timeline() -> dict:
    """Where the running drill records its timeline (empty outside a drill).

    A fault carries this in its ledger record, so that the dead-man watchdog or ``chaos
    recover``, which run in other processes, can still put its removal on the drill's timeline.
    """
    return _active_bus.timeline() if _active_bus is not None else {}


def publish_to(timeline: dict, event: Event) -> None:
    """Publish on the active bus, or else append to the timeline a fault record carried along."""
    if _active_bus is not None or not timeline:
        return publish(event)
    if getattr(event, "experiment", None) == "":
        event = replace(event, experiment=timeline.get("experiment", ""))
    path = Path(timeline["file"])
    if path.parent.is_dir():  # a run directory deleted since is not recreated
        JsonlEventWriter(path.parent, float(timeline["start_ts"]))(event)
