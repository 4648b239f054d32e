"""Time windows of a run: measured seconds, fault windows, and how to write spans as text.

A histogram second ``s`` covers the wall-clock interval ``[s, s+1)``. It belongs to a stage when
its midpoint lies inside the stage, and to a fault window when the two intervals overlap.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import PurePosixPath

from peakdrill.report.rundata import DEFAULT_RECOVERY_TARGET_S, RunData, TimelineEntry


@dataclass(frozen=True)
class FaultWindow:
    fault_id: str
    fault: str
    target: str
    experiment: str
    inject_ts: float
    remove_ts: float | None  # None: never removed, lasts until the end of the data
    removed_by: str
    provider: str = ""  # the Chaos Toolkit provider that injected it ("": peakdrill's own)

    def end_ts(self, data_end_ts: float) -> float:
        return self.remove_ts if self.remove_ts is not None else data_end_ts


def stage_at(data: RunData, second: int):
    mid = second + 0.5 - data.info.start_ts
    for stage in data.info.stages:
        if stage.start_s <= mid < stage.end_s:
            return stage
    return None


def is_measured(data: RunData, second: int) -> bool:
    if not data.info.stages:
        return True
    stage = stage_at(data, second)
    return stage is not None and stage.measured


def overlaps(second: int, start_ts: float, end_ts: float) -> bool:
    return second < end_ts and second + 1 > start_ts


def fault_windows(data: RunData) -> list[FaultWindow]:
    open_faults: dict[str, dict] = {}
    windows: list[FaultWindow] = []
    for event in data.events:
        fault_id = str(event.get("fault_id", ""))
        if event.type == "fault_injected":
            open_faults[fault_id] = {"event": event}
        elif event.type == "fault_removed" and fault_id in open_faults:
            start = open_faults.pop(fault_id)["event"]
            windows.append(_window(start, event.ts, str(event.get("by", ""))))
    for pending in open_faults.values():
        windows.append(_window(pending["event"], None, ""))
    return sorted(windows, key=lambda w: w.inject_ts)


def _window(start, remove_ts: float | None, by: str) -> FaultWindow:
    return FaultWindow(
        fault_id=str(start.get("fault_id", "")), fault=str(start.get("fault", "")),
        target=str(start.get("target", "")), experiment=str(start.get("experiment", "")),
        inject_ts=start.ts, remove_ts=remove_ts, removed_by=by, provider=str(start.get("provider", "") or ""),
    )


def overlapping(windows: list[FaultWindow], window: FaultWindow, data_end_ts: float) -> list[FaultWindow]:
    """The other windows that share time with ``window``, directly or through a chain of overlaps
    (a compound fault): recovery is judged only after the last of them ends."""
    cluster, grew = [window], True
    while grew:
        grew = False
        for other in windows:
            if other not in cluster and any(other.inject_ts < w.end_ts(data_end_ts) and w.inject_ts < other.end_ts(data_end_ts)
                                            for w in cluster):
                cluster.append(other)
                grew = True
    return [w for w in windows if w in cluster and w is not window]


def cleared_ts(windows: list[FaultWindow], window: FaultWindow) -> float | None:
    """When ``window`` and every fault overlapping it have all been removed (None: one never was)."""
    group = [window, *overlapping(windows, window, float("inf"))]
    ends = [w.remove_ts for w in group]
    return None if None in ends else max(ends)


def timeline_entry(data: RunData, experiment: str) -> TimelineEntry | None:
    """The run.json timeline entry of an experiment, matched by path, file name or stem."""
    if not experiment:
        return None
    wanted = PurePosixPath(experiment.replace("\\", "/"))
    for entry in data.info.timeline:
        path = PurePosixPath(entry.experiment.replace("\\", "/"))
        if path == wanted or path.name == wanted.name or path.stem == wanted.stem or entry.title == experiment:
            return entry
    return None


def recovery_target_s(data: RunData, window: FaultWindow) -> float:
    entry = timeline_entry(data, window.experiment)
    return entry.recovery_target_s if entry else DEFAULT_RECOVERY_TARGET_S


def spans(seconds: list[int]) -> list[tuple[int, int]]:
    """Consecutive runs of seconds as (first, last + 1)."""
    result: list[tuple[int, int]] = []
    for second in sorted(seconds):
        if result and second == result[-1][1]:
            result[-1] = (result[-1][0], second + 1)
        else:
            result.append((second, second + 1))
    return result


def describe_seconds(data: RunData, seconds: list[int]) -> str:
    """``t=20-45s, t=105-120s`` for a set of wall-clock seconds."""
    if not seconds:
        return "none"
    parts = []
    for first, end in spans(seconds):
        parts.append(f"t={fmt_t(data.t(first))}-{fmt_t(data.t(end))}s")
    return ", ".join(parts)


def fmt_t(t: float) -> str:
    """Run time rounded to the second: histogram data has one-second resolution."""
    return str(math.floor(t + 0.5))
