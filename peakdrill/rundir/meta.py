"""``run.json``: the one typed model of what ran, used by the runner that writes it and every reader.

:meth:`RunMeta.parse` checks every field the report relies on and raises :class:`RunDirError`
naming the file, the field and the bad value; fields it does not model are kept in ``raw`` and
written back unchanged. Format 1 (before per-master merging) and format 2 read the same way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from typing import Any

from peakdrill.errors import RunDirError
from peakdrill.rundir.jsonl import quote

FORMAT_VERSION = 2
READABLE_FORMATS = (1, 2)
DEFAULT_SLO = {"cache_read_p99_ms": 50.0, "order_success_rate": 0.98, "cs_first_response_s": 30.0,
               "recovery_window_s": 10}
DEFAULT_RECOVERY_TARGET_S = 60.0


class RunStatus(str, Enum):
    RUNNING = "running"  # still running, or crashed without finishing
    COMPLETED = "completed"
    INTERRUPTED = "interrupted"
    ABORTED = "aborted"
    FAILED = "failed"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Stage:
    name: str
    start_s: float
    end_s: float
    users: int | None
    measured: bool
    arrival_rate: float | None = None


@dataclass(frozen=True)
class TimelineEntry:
    at_s: float
    experiment: str
    title: str
    recovery_target_s: float


class _Fields:
    """Typed access to one JSON object of run.json, each error naming file and field."""

    def __init__(self, source: str, prefix: str, raw: Any) -> None:
        if not isinstance(raw, dict):
            raise RunDirError(f"{source}: {prefix or 'run.json'} must be a JSON object, got {quote(raw)}")
        self.source, self.prefix, self.raw = source, prefix, raw

    def bad(self, key: str, want: str) -> RunDirError:
        field = f"{self.prefix}.{key}" if self.prefix else key
        return RunDirError(f"{self.source}: '{field}' must be {want}, got {quote(self.raw.get(key))}; "
                           f"see docs/run-directory.md")

    def number(self, key: str, default: float | None = None, *, required: bool = False,
               minimum: float | None = None, allow_inf: bool = False) -> float | None:
        value = self.raw.get(key)
        if value is None:
            if required:
                raise self.bad(key, "a number")
            return default
        if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value) \
                or (math.isinf(value) and not allow_inf):
            raise self.bad(key, "a number")
        if minimum is not None and value < minimum:
            raise self.bad(key, f"a number >= {minimum:g}")
        return float(value)

    def text(self, key: str, default: str = "") -> str:
        value = self.raw.get(key, default)
        if value is None:
            return default
        if not isinstance(value, str):
            raise self.bad(key, "a string")
        return value

    def flag(self, key: str, default: bool) -> bool:
        value = self.raw.get(key, default)
        if not isinstance(value, bool):
            raise self.bad(key, "true or false")
        return value

    def items(self, key: str) -> list:
        value = self.raw.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.bad(key, "a list")
        return value

    def mapping(self, key: str) -> dict:
        value = self.raw.get(key)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.bad(key, "an object")
        return value


@dataclass(frozen=True)
class RunMeta:
    format: int
    run_id: str
    kind: str
    status: RunStatus
    start_ts: float
    end_ts: float | None
    stages: tuple[Stage, ...]
    timeline: tuple[TimelineEntry, ...]
    slo: dict[str, float]
    endpoints: dict[str, tuple[str, ...]]
    raw: dict[str, Any]

    @property
    def title(self) -> str:
        drill = self.raw.get("drill") if isinstance(self.raw.get("drill"), dict) else {}
        profile = self.raw.get("profile") if isinstance(self.raw.get("profile"), dict) else {}
        return str(drill.get("name") or profile.get("name") or self.run_id)

    @property
    def planned_end_ts(self) -> float | None:
        """When the run was meant to end at the latest: the last finite stage end, or end_ts."""
        ends = [self.start_ts + s.end_s for s in self.stages if math.isfinite(s.end_s)]
        if self.end_ts is not None:
            ends.append(self.end_ts)
        return max(ends) if ends else None

    @classmethod
    def parse(cls, raw: Any, source: str = "run.json", default_run_id: str = "") -> RunMeta:
        top = _Fields(source, "", raw)
        fmt = raw.get("format", 1)
        if fmt not in READABLE_FORMATS or isinstance(fmt, bool):
            raise RunDirError(f"{source}: 'format' is {quote(fmt)}; this peakdrill reads formats "
                              f"{', '.join(map(str, READABLE_FORMATS))} (upgrade peakdrill for newer ones)")
        if "start_ts" not in raw:
            raise RunDirError(f"{source}: missing 'start_ts'; run.json must follow docs/run-directory.md")
        status_text = top.text("status", RunStatus.RUNNING.value)
        try:
            status = RunStatus(status_text)
        except ValueError:
            raise top.bad("status", "one of " + ", ".join(s.value for s in RunStatus)) from None
        return cls(
            format=int(fmt), run_id=top.text("run_id") or default_run_id, kind=top.text("kind", "drill"),
            status=status, start_ts=top.number("start_ts", required=True),
            end_ts=top.number("end_ts", None), stages=tuple(_stage(source, i, s) for i, s in enumerate(top.items("stages"))),
            timeline=tuple(_entry(source, i, e) for i, e in enumerate(top.items("timeline"))),
            slo=_slo(source, top.mapping("slo")), endpoints=_endpoints(source, top.mapping("endpoints")), raw=raw)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.raw) | {"format": self.format, "status": self.status.value}


def _stage(source: str, index: int, raw: Any) -> Stage:
    fields = _Fields(source, f"stages.{index}", raw)
    users = raw.get("users")
    if users is not None and (isinstance(users, bool) or not isinstance(users, int) or users < 0):
        raise fields.bad("users", "a whole number >= 0 or null")
    start = fields.number("start_s", 0.0, minimum=0)
    end = fields.number("end_s", math.inf, allow_inf=True)
    if end < start:
        raise fields.bad("end_s", f"a number >= start_s ({start:g})")
    return Stage(name=fields.text("name", f"stage-{index}"), start_s=start, end_s=end, users=users,
                 measured=fields.flag("measured", True), arrival_rate=fields.number("arrival_rate", None, minimum=0))


def _entry(source: str, index: int, raw: Any) -> TimelineEntry:
    fields = _Fields(source, f"timeline.{index}", raw)
    return TimelineEntry(at_s=fields.number("at_s", 0.0), experiment=fields.text("experiment"),
                         title=fields.text("title"),
                         recovery_target_s=fields.number("recovery_target_s", DEFAULT_RECOVERY_TARGET_S, minimum=0))


def _slo(source: str, raw: dict) -> dict[str, float]:
    fields = _Fields(source, "slo", raw)
    slo = dict(DEFAULT_SLO)
    for key in raw:
        slo[str(key)] = fields.number(key, minimum=0)
    return slo


def _endpoints(source: str, raw: dict) -> dict[str, tuple[str, ...]]:
    result = {}
    for key, value in raw.items():
        names = value if isinstance(value, list) else [value]
        if not all(isinstance(name, str) for name in names):
            raise RunDirError(f"{source}: 'endpoints.{key}' must be a list of request names, got {quote(value)}")
        result[str(key)] = tuple(names)
    return result
