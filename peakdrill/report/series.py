"""Per-second series computed while the histogram records stream by, and the charts made of them.

:class:`SeriesBuilder` takes decoded records in batches. It holds the buckets of the seconds still
open (records of one second come from several workers or masters, a few report intervals apart)
and, once the stream has moved :data:`HORIZON_S` past a second, computes that second's count,
failures and percentiles per endpoint and per declared group, then drops its buckets. What it
keeps grows with seconds x (endpoints + groups) numbers, never with histograms; each endpoint's
whole-run histogram is kept sparse. A record for a second already closed is a straggler: the
caller reads again with the stragglers fed first (see :mod:`peakdrill.report.rundata`).

Percentiles are read off merged histograms exactly as :class:`peakdrill.histograms.Bucket` reads
them (HdrHistogram's rounding), never averaged.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from peakdrill.histograms import COUNTS_LEN, Bucket, highest_equivalent
from peakdrill.slo.select import select

SERIES_PERCENTILES = (50.0, 90.0, 95.0, 99.0, 99.9, 99.99)
HORIZON_S = 120  # a second is closed once records of a second this much later have been read
OPEN_LIMIT = 200_000  # buckets held open before closing what is past the horizon (bounds memory)
_NAME_BITS = 20  # at most ~1M distinct endpoint names in one run
MAX_NAMES = 1 << _NAME_BITS


@dataclass(frozen=True)
class Group:
    """Endpoints selected by name: ``include`` (None: every endpoint) minus ``exclude``, or by SLO
    ``selectors`` (names, globs, ``group:NAME`` resolved through ``named``; see peakdrill.slo.select)."""

    include: frozenset[str] | None = None
    exclude: frozenset[str] = frozenset()
    selectors: tuple[str, ...] = ()
    named: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @classmethod
    def of(cls, names: Iterable[str] | None, exclude: Iterable[str] = ()) -> Group:
        return cls(None if names is None else frozenset(names), frozenset(exclude))

    @classmethod
    def selecting(cls, selectors: Iterable[str], groups: Mapping[str, Iterable[str]]) -> Group:
        return cls(selectors=tuple(selectors), named=tuple(sorted((k, tuple(v)) for k, v in groups.items())))

    def matches(self, name: str) -> bool:
        if self.selectors:
            return bool(select(self.selectors, [name], dict(self.named))) and name not in self.exclude
        return (self.include is None or name in self.include) and name not in self.exclude

    @property
    def names(self) -> frozenset[str] | None:
        """The names it can match, when they are known without seeing the data (for skipping lines)."""
        return None if self.selectors else self.include


@dataclass(frozen=True)
class Series:
    """One row per wall-clock second that has requests: arrays aligned with ``seconds``."""

    seconds: np.ndarray  # int64, ascending
    count: np.ndarray  # int64
    failures: np.ndarray  # int64
    percentiles: dict[float, np.ndarray]  # SERIES_PERCENTILES -> ms
    max: np.ndarray  # ms

    @classmethod
    def empty(cls, percentiles: Iterable[float] = SERIES_PERCENTILES) -> Series:
        nothing = np.empty(0, dtype=np.int64)
        return cls(nothing, nothing, nothing, {p: np.empty(0) for p in percentiles}, np.empty(0))

    def __len__(self) -> int:
        return len(self.seconds)

    def row(self, second: int) -> int | None:
        at = bisect.bisect_left(self.seconds, second)
        return at if at < len(self.seconds) and self.seconds[at] == second else None

    def p(self, percentile: float) -> np.ndarray:
        return self.percentiles[float(percentile)]


def _reduce(key: np.ndarray, index: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sorted by (key, index), equal pairs summed. The input is mostly runs already in order (each
    record's buckets ascend), which the stable sort (timsort) merges in O(n log runs)."""
    combined = key * COUNTS_LEN + index
    order = np.argsort(combined, kind="stable")
    combined, counts = combined[order], counts[order]
    if combined.size == 0:
        return combined, combined, counts
    starts = np.flatnonzero(np.concatenate([[True], combined[1:] != combined[:-1]]))
    if starts.size < combined.size:
        combined, counts = combined[starts], np.add.reduceat(counts, starts)
    return combined // COUNTS_LEN, combined % COUNTS_LEN, counts


def _stats(key: np.ndarray, index: np.ndarray, counts: np.ndarray, percentiles: tuple[float, ...],
           grouped: bool = False):
    """Per distinct key: (key, total, {percentile: ms}, max ms), ordered by key.

    ``grouped``: each key's buckets are already contiguous, ascending and distinct (one record per
    key, as a format-2 master writes them), so nothing needs sorting."""
    if not grouped:
        key, index, counts = _reduce(key, index, counts)
    if key.size == 0:
        return key, key, {p: np.empty(0) for p in percentiles}, np.empty(0)
    seg = np.flatnonzero(np.concatenate([[True], key[1:] != key[:-1]]))
    seg_end = np.concatenate([seg[1:], [key.size]])
    cumulative = np.cumsum(counts)
    before = np.concatenate([[0], cumulative[:-1]])[seg]
    total = cumulative[seg_end - 1] - before
    result = {}
    for percentile in percentiles:
        # HdrHistogram's rank: max(int(p * total / 100 + 0.5), 1), in the same float arithmetic.
        rank = np.maximum(np.floor(min(percentile, 100.0) * total.astype(np.float64) / 100 + 0.5).astype(np.int64), 1)
        position = np.searchsorted(cumulative, before + rank, side="left")
        result[percentile] = highest_equivalent(index[position]) / 1000.0
    maxima = highest_equivalent(index[seg_end - 1]) / 1000.0
    key = key[seg]
    if grouped:
        order = np.argsort(key, kind="stable")
        return key[order], total[order], {p: v[order] for p, v in result.items()}, maxima[order]
    return key, total, result, maxima


def _sums(key: np.ndarray, values: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Sum of ``values`` per ``key``, read at the keys ``at`` (0 where absent)."""
    unique, inverse = np.unique(key, return_inverse=True)
    if unique.size == 0:
        return np.zeros(len(at), dtype=np.int64)
    sums = np.zeros(unique.size, dtype=np.int64)
    np.add.at(sums, inverse, values)
    where = np.minimum(np.searchsorted(unique, at), unique.size - 1)
    return np.where(unique[where] == at, sums[where], 0)


class _Columns:
    """Rows of finished seconds for one series, gathered chunk by chunk."""

    def __init__(self, percentiles: tuple[float, ...]) -> None:
        self.percentiles = percentiles
        self.chunks: list[tuple] = []

    def add(self, seconds, counts, failures, percentiles, maxima) -> None:
        if len(seconds):
            self.chunks.append((seconds, counts, failures, percentiles, maxima))

    def series(self) -> Series:
        if not self.chunks:
            return Series.empty(self.percentiles)
        return Series(seconds=np.concatenate([c[0] for c in self.chunks]),
                      count=np.concatenate([c[1] for c in self.chunks]),
                      failures=np.concatenate([c[2] for c in self.chunks]),
                      percentiles={p: np.concatenate([c[3][p] for c in self.chunks]) for p in self.percentiles},
                      max=np.concatenate([c[4] for c in self.chunks]))


class SeriesBuilder:
    """Builds per-second series per endpoint and per group from a stream of decoded records."""

    def __init__(self, groups: dict[str, Group], base_second: int,
                 percentiles: Iterable[float] = SERIES_PERCENTILES) -> None:
        self.groups = groups
        self.percentiles = tuple(sorted(set(SERIES_PERCENTILES) | {float(p) for p in percentiles}))
        self.base = base_second
        self.names: dict[str, int] = {}
        self._members: dict[str, list[bool]] = {g: [] for g in groups}
        self._open: list[tuple[np.ndarray, ...]] = []  # (rel second, name id, index, count) per bucket
        self._open_records: list[tuple[np.ndarray, ...]] = []  # (rel second, name id, failures) per record
        self._open_size = 0
        self.closed_through: int | None = None  # every second <= this is final (relative)
        self.newest = -1
        self._by_name: dict[int, _Columns] = {}
        self._by_group = {g: _Columns(self.percentiles) for g in groups}
        self._totals = np.zeros(0, dtype=np.int64)  # each endpoint's whole-run histogram, dense
        self._failures: dict[int, int] = {}

    def name_id(self, name: str) -> int:
        found = self.names.get(name)
        if found is None:
            found = self.names[name] = len(self.names)
            if found >= MAX_NAMES:
                raise ValueError(f"more than {MAX_NAMES} distinct request names")
            for group, members in self._members.items():
                members.append(self.groups[group].matches(name))
        return found

    def is_straggler(self, second: int) -> bool:
        return self.closed_through is not None and second - self.base <= self.closed_through

    def add(self, records: list[tuple[int, str, int]], position: np.ndarray, index: np.ndarray,
            counts: np.ndarray) -> None:
        """``records``: (second, name, failures) per record; the rest as from ``hdrcodec.decode_batch``."""
        rel = np.fromiter((r[0] - self.base for r in records), np.int64, len(records))
        ids = np.fromiter((self.name_id(r[1]) for r in records), np.int64, len(records))
        failures = np.fromiter((r[2] for r in records), np.int64, len(records))
        self._open.append((rel[position], ids[position], index, counts))
        self._open_records.append((rel, ids, failures))
        self._open_size += len(index) + len(records)
        self.newest = max(self.newest, int(rel.max()))
        if self._open_size > OPEN_LIMIT and self.newest - HORIZON_S > (self.closed_through or -1):
            self.close_through(self.newest - HORIZON_S)

    def close_through(self, last: int | None = None) -> None:
        """Finish every open second up to ``last`` (relative; None: all)."""
        if not self._open:
            return
        rel, ids, index, counts = (np.concatenate(parts) for parts in zip(*self._open))
        r_rel, r_ids, r_fail = (np.concatenate(parts) for parts in zip(*self._open_records))
        last = self.newest if last is None else last
        done, r_done = rel <= last, r_rel <= last
        self._open = [(rel[~done], ids[~done], index[~done], counts[~done])] if not done.all() else []
        self._open_records = [(r_rel[~r_done], r_ids[~r_done], r_fail[~r_done])] if not r_done.all() else []
        self._open_size = int((~done).sum() + (~r_done).sum())
        self.closed_through = max(-1 if self.closed_through is None else self.closed_through, last)
        self._finish(rel[done], ids[done], index[done], counts[done], r_rel[r_done], r_ids[r_done], r_fail[r_done])

    def _finish(self, rel, ids, index, counts, r_rel, r_ids, r_fail) -> None:
        record_key = (r_rel << _NAME_BITS) | r_ids
        one_record_each = np.unique(record_key).size == record_key.size  # format 2, nothing late
        keys, totals, percentiles, maxima = _stats((rel << _NAME_BITS) | ids, index, counts, self.percentiles,
                                                   one_record_each)
        fails = _sums(record_key, r_fail, keys)
        names = keys & (MAX_NAMES - 1)
        order = np.argsort(names, kind="stable")
        bounds = np.flatnonzero(np.diff(names[order])) + 1
        for rows in np.split(order, bounds) if order.size else ():
            self._by_name.setdefault(int(names[rows[0]]), _Columns(self.percentiles)).add(
                (keys[rows] >> _NAME_BITS) + self.base, totals[rows], fails[rows],
                {p: v[rows] for p, v in percentiles.items()}, maxima[rows])
        for name, failed in zip(r_ids.tolist(), r_fail.tolist()):
            if failed:
                self._failures[name] = self._failures.get(name, 0) + failed
        done: dict[bytes, tuple] = {}  # groups with the same members share one computation
        for group, columns in self._by_group.items():
            member = np.array(self._members[group], dtype=bool)
            if not member.any():
                continue
            signature = member.tobytes()
            if signature not in done:
                mask = member[ids]
                g_keys, g_totals, g_percentiles, g_max = _stats(rel[mask], index[mask], counts[mask], self.percentiles)
                r_mask = member[r_ids]
                done[signature] = (g_keys + self.base, g_totals, _sums(r_rel[r_mask], r_fail[r_mask], g_keys),
                                   g_percentiles, g_max)
            columns.add(*done[signature])
        if len(self.names) * COUNTS_LEN > self._totals.size:  # one counter per bucket per endpoint
            self._totals = np.concatenate([self._totals, np.zeros(len(self.names) * COUNTS_LEN - self._totals.size,
                                                                  dtype=np.int64)])
        np.add.at(self._totals, ids * COUNTS_LEN + index, counts)

    def endpoint_series(self) -> dict[str, Series]:
        return {name: self._by_name[nid].series() if nid in self._by_name else Series.empty(self.percentiles)
                for name, nid in self.names.items()}

    def group_series(self) -> dict[str, Series]:
        return {group: columns.series() for group, columns in self._by_group.items()}

    def endpoint_totals(self) -> dict[str, Bucket]:
        result = {}
        for name, nid in self.names.items():
            dense = self._totals[nid * COUNTS_LEN:(nid + 1) * COUNTS_LEN]
            index = np.flatnonzero(dense)
            result[name] = Bucket(dict(zip(index.tolist(), dense[index].tolist())), self._failures.get(nid, 0))
        return result
