"""The records of a run directory's data files, checked field by field.

Each ``parse_*`` takes one decoded JSON object and where it came from (file and line) and returns a
typed value, or raises :class:`RunDirError` naming the file, the line and the field. Hostile or
damaged data (wrong types, negative counts, failures above the count, a second far outside the run)
is refused here, before any arithmetic could loop or overflow on it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from peakdrill.errors import RunDirError
from peakdrill.rundir.jsonl import quote

# A histogram second may lie this far outside [start_ts, planned end]: clocks of load machines
# differ a little and a run stops a few seconds after its last stage.
SECOND_SLACK_S = 600
# A run without a planned end (no stages, still running) is read for at most this long.
MAX_OPEN_RUN_S = 48 * 3600
MAX_COUNT = 2**48


@dataclass(frozen=True)
class Where:
    path: Path
    line: int

    def error(self, problem: str, value: Any = None) -> RunDirError:
        quoted = "" if value is None else f": {quote(value)}"
        return RunDirError(f"{self.path}:{self.line}: {problem}{quoted}; fix or delete that line "
                           f"(format: docs/run-directory.md)")


def whole(record: dict, key: str, where: Where, minimum: int = 0, maximum: int = MAX_COUNT) -> int:
    value = record.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise where.error(f"'{key}' must be a whole number from {minimum} to {maximum}", value)
    return value


def real(record: dict, key: str, where: Where, default: float | None = None, minimum: float | None = None) -> float | None:
    value = record.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or (minimum is not None and value < minimum):
        raise where.error(f"'{key}' must be a number" + (f" >= {minimum:g}" if minimum is not None else ""), value)
    return float(value)


def text(record: dict, key: str, where: Where, default: str | None = None) -> str:
    value = record.get(key, default)
    if not isinstance(value, str):
        raise where.error(f"'{key}' must be a string", value)
    return value


@dataclass(frozen=True)
class SecondSpan:
    """The wall-clock seconds a run's histogram records may name."""

    first: int
    last: int

    @classmethod
    def of_run(cls, start_ts: float, planned_end_ts: float | None) -> SecondSpan:
        end = planned_end_ts if planned_end_ts is not None else start_ts + MAX_OPEN_RUN_S
        return cls(int(start_ts) - SECOND_SLACK_S, int(max(end, start_ts)) + SECOND_SLACK_S)


@dataclass(frozen=True, slots=True)
class HistRecord:
    second: int
    name: str
    count: int
    failures: int
    hist: str


def parse_hist(record: dict, where: Where, span: SecondSpan) -> HistRecord:
    """One line of ``histograms/*.jsonl`` (format 1: one per worker; format 2: one per master)."""
    second = record.get("second")
    if isinstance(second, bool) or not isinstance(second, int):
        raise where.error("'second' must be a whole number of Unix epoch seconds", second)
    if not span.first <= second <= span.last:
        raise where.error(f"'second' lies outside the run (seconds {span.first}..{span.last} from run.json's "
                          f"start_ts and stages)", second)
    count = whole(record, "count", where)
    failures = whole(record, "failures", where)
    if failures > count:
        raise where.error(f"'failures' ({failures}) is more than 'count' ({count})")
    hist = record.get("hist")
    if not isinstance(hist, str):
        raise where.error("'hist' must be a base64 HdrHistogram string", hist)
    if "late" in record and not isinstance(record["late"], bool):
        raise where.error("'late' must be true or false", record["late"])
    return HistRecord(second, text(record, "name", where), count, failures, hist)


@dataclass(frozen=True, slots=True)
class HealthSample:
    """One load process's health in one second."""

    ts: float
    source: str
    cpu_percent: float | None  # None: no health sample that second, only its request count
    users: int | None
    rps: float | None
    intended_rps: float | None = None  # open model only
    achieved_rps: float | None = None
    requests: int | None = None  # format 2: requests it started in that second (from its histograms)


def parse_health_v1(record: dict, where: Where) -> HealthSample:
    users = record.get("users")
    if users is not None:
        users = whole(record, "users", where)
    requests = record.get("requests")
    if requests is not None:
        requests = whole(record, "requests", where)
    return HealthSample(ts=real(record, "ts", where, minimum=0) or 0.0, source=text(record, "source", where, "?"),
                        cpu_percent=real(record, "cpu_percent", where, None, minimum=0),
                        users=users, rps=real(record, "rps", where, None, minimum=0),
                        intended_rps=real(record, "intended_rps", where, None, minimum=0),
                        achieved_rps=real(record, "achieved_rps", where, None, minimum=0), requests=requests)


# A load process at or above this CPU share cannot be trusted to send what it was told to.
SATURATED_CPU_PERCENT = 90.0
SATURATED_SECONDS = 3  # ... for this many consecutive seconds (a spawn's spike is not saturation)
HEALTH_COLUMNS = ("cpu_percent", "users", "rps", "intended_rps", "achieved_rps")
_COLUMNS = HEALTH_COLUMNS + ("requests",)


class HealthTable:
    """Reads format-2 ``generator.jsonl``: one line per master per second, one column per field.

    A line carries ``names`` when its master's set of load processes changed since its previous
    line; the value columns are aligned with the names in force (``null``: no sample that second).
    """

    def __init__(self) -> None:
        self._names: dict[str, list[str]] = {}

    def columns(self, record: dict, where: Where) -> tuple[int, list[str], dict[str, list]]:
        """(second, names in force, the checked columns present on this line)."""
        second = whole(record, "second", where, maximum=2**40)
        master = text(record, "master", where, "")
        if "names" in record:
            names = record["names"]
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise where.error("'names' must be a list of load-process names", names)
            self._names[master] = names
        names = self._names.get(master)
        if names is None:
            raise where.error(f"the first line of master {master!r} has no 'names'")
        columns = {key: _column(record, key, len(names), where) for key in _COLUMNS}
        return second, names, {key: column for key, column in columns.items() if column is not None}

    def parse(self, record: dict, where: Where) -> list[HealthSample]:
        second, names, columns = self.columns(record, where)
        none = [None] * len(names)
        cpu, users, rps, intended, achieved, requests = (columns.get(key, none) for key in _COLUMNS)
        ts = second + 0.5
        return [HealthSample(ts, name, None if cpu[i] is None else float(cpu[i]), users[i],
                             None if rps[i] is None else float(rps[i]),
                             None if intended[i] is None else float(intended[i]),
                             None if achieved[i] is None else float(achieved[i]), requests[i])
                for i, name in enumerate(names) if cpu[i] is not None or requests[i]]


_WHOLE_COLUMNS = {"users", "requests"}


def _column(record: dict, key: str, length: int, where: Where) -> list | None:
    """A format-2 column, every value checked: null or a number >= 0 (whole for counts)."""
    column = record.get(key)
    if column is None:
        return None
    if not isinstance(column, list) or len(column) != length:
        raise where.error(f"'{key}' must be a list of {length} values (one per name)", column)
    whole_only = key in _WHOLE_COLUMNS
    for value in column:
        kind = type(value)
        if value is None or (kind is int and 0 <= value <= MAX_COUNT) or \
                (kind is float and not whole_only and 0 <= value < math.inf):
            continue
        raise where.error(f"'{key}' values must be " + ("whole numbers >= 0" if whole_only else "numbers >= 0")
                          + " or null", value)
    return column


class HealthReader:
    """Health samples out of ``generator.jsonl`` lines of either format, one line at a time."""

    def __init__(self) -> None:
        self.table = HealthTable()

    def samples(self, record: dict, where: Where) -> list[HealthSample]:
        if "second" in record:  # format 2: one line per master per second
            return self.table.parse(record, where)
        return [parse_health_v1(record, where)]


@dataclass(frozen=True, slots=True)
class Event:
    ts: float
    t: float
    type: str
    fields: dict[str, Any]

    def get(self, key: str, default: Any = None) -> Any:
        return self.fields.get(key, default)


def parse_event(record: dict, where: Where, start_ts: float) -> Event:
    t = real(record, "t", where, None)
    ts = real(record, "ts", where, None)
    if ts is None and t is None:
        raise where.error("an event needs 'ts' (Unix epoch seconds) or 't' (seconds since the start)")
    ts = ts if ts is not None else start_ts + t
    kind = text(record, "type", where, "")
    fields = {k: v for k, v in record.items() if k not in ("ts", "t", "type")}
    for key in ("fault_id", "fault", "target", "experiment", "by", "reason", "stage"):
        if key in fields and not isinstance(fields[key], (str, type(None))):
            raise where.error(f"'{key}' must be a string", fields[key])
    return Event(ts=ts, t=t if t is not None else ts - start_ts, type=kind, fields=fields)


@dataclass(frozen=True, slots=True)
class Scrape:
    ts: float
    ok: bool
    text: str
    error: str


def parse_scrape(record: dict, where: Where) -> Scrape:
    ok = record.get("ok", False)
    if not isinstance(ok, bool):
        raise where.error("'ok' must be true or false", ok)
    return Scrape(ts=real(record, "ts", where, 0.0, minimum=0), ok=ok, text=text(record, "text", where, ""),
                  error=str(record.get("error") or ""))
