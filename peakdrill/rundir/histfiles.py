"""Reading ``histograms/*.jsonl``: checked records, decoded in batches, in (nearly) time order.

Format 1 holds one record per (second, endpoint, load process); format 2 one per (second, endpoint,
master) plus ``late`` records a master wrote after it had closed their second. Both merge the same
way: add every record with the same ``second`` and ``name``. See docs/run-directory.md.
"""

from __future__ import annotations

import functools
import heapq
import json
from collections.abc import Collection, Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np

from peakdrill.hdrcodec import HistogramDecodeError, decode_batch, encode
from peakdrill.histograms import HISTOGRAM_DIR, Bucket
from peakdrill.rundir.jsonl import iter_jsonl_lines
from peakdrill.rundir.records import HistRecord, SecondSpan, Where, parse_hist

Located = tuple[HistRecord, Where]
ANY_SECOND = SecondSpan(0, 2**40)


def hist_record(second: int, name: str, bucket: Bucket, **extra) -> dict:
    """One line of a histogram file: a (second, endpoint) bucket in the standard encoding."""
    index = sorted(bucket.counts)
    counts = [bucket.counts[i] for i in index]
    return {"second": second, "name": name, "count": sum(counts), "failures": bucket.failures,
            "hist": encode(index, counts), **extra}


def records_of(wire: list[dict], **extra) -> list[dict]:
    """Histogram-file lines from a ``Recorder``'s wire records (one per second and endpoint)."""
    return [hist_record(r["second"], r["name"], Bucket(dict(zip(r["index"], r["counts"])), r["failures"]), **extra)
            for r in wire]


def hist_files(run_dir: Path) -> list[Path]:
    return sorted((run_dir / HISTOGRAM_DIR).glob("*.jsonl"))


@functools.lru_cache(maxsize=4096)
def name_token(name: str) -> bytes:
    """How a record's ``name`` appears in its line when written by ``json.dumps`` (every writer of ours)."""
    return json.dumps(name).encode("ascii")


def iter_file(path: Path, span: SecondSpan, warnings: list[str] | None = None, names: Collection[str] | None = None,
              irregular: set[Path] | None = None) -> Iterator[Located]:
    """The records of one file. With ``names``, only lines that contain one of them as written by
    ``json.dumps`` are parsed (a file in which a name is written otherwise must not be read so:
    ``irregular`` collects such files while reading them in full)."""
    tokens = None if names is None else [name_token(n) for n in names]
    keep = None if tokens is None else (lambda line: any(token in line for token in tokens))
    for number, raw, line in iter_jsonl_lines(path, warnings, keep):
        where = Where(path, number)
        record = parse_hist(raw, where, span)
        if irregular is not None and name_token(record.name) not in line:
            irregular.add(path)
        yield record, where


def iter_all(run_dir: Path, span: SecondSpan, warnings: list[str] | None = None, names: Collection[str] | None = None,
             irregular: set[Path] | None = None) -> Iterator[Located]:
    """Every record, file after file (for merges that do not care about order); with ``names``,
    the records of those endpoints (the files in ``irregular`` are read in full)."""
    for path in hist_files(run_dir):
        yield from iter_file(path, span, warnings, None if irregular and path in irregular else names)


def iter_records(run_dir: Path) -> Iterator[HistRecord]:
    """Every checked record of a run, whatever its seconds (for tools and tests)."""
    for record, _ in iter_all(run_dir, ANY_SECOND):
        yield record


def iter_by_second(run_dir: Path, span: SecondSpan, warnings: list[str] | None = None,
                   irregular: set[Path] | None = None) -> Iterator[Located]:
    """Every record, the files interleaved by second: each file is written nearly in time order, so
    the stream is too (a record is at most a few report intervals early or late, unless delayed)."""
    streams = [iter_file(path, span, warnings, irregular=irregular) for path in hist_files(run_dir)]
    return heapq.merge(*streams, key=lambda located: located[0].second)


def decode(batch: Sequence[Located]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(position in batch, bucket index, count) of every record's buckets, each record's total
    checked against its ``count``."""
    try:
        position, index, counts = decode_batch([record.hist for record, _ in batch])
    except HistogramDecodeError as exc:
        raise batch[exc.position][1].error(exc.problem) from exc
    totals = np.zeros(len(batch), dtype=np.int64)
    np.add.at(totals, position, counts)
    for at in np.flatnonzero(totals != np.fromiter((r.count for r, _ in batch), np.int64, len(batch))):
        record, where = batch[int(at)]
        raise where.error(f"'hist' holds {int(totals[at])} samples but 'count' says {record.count}")
    return position, index, counts


def buckets_of(batch: Sequence[Located]) -> list[Bucket]:
    """The decoded bucket of each record of a batch."""
    position, index, counts = decode(batch)
    bounds = np.searchsorted(position, np.arange(len(batch) + 1)).tolist()
    index, counts = index.tolist(), counts.tolist()
    return [Bucket(dict(zip(index[bounds[at]:bounds[at + 1]], counts[bounds[at]:bounds[at + 1]])), record.failures)
            for at, (record, _) in enumerate(batch)]


BATCH = 1024  # records decoded together: large enough to amortise numpy's per-call cost


def batches(records: Iterable[Located], size: int | None = None) -> Iterator[list[Located]]:
    size = size or BATCH
    batch: list[Located] = []
    for located in records:
        batch.append(located)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def load_buckets(run_dir: Path, span: SecondSpan | None = None) -> dict[tuple[int, str], Bucket]:
    """Every record merged into one bucket per (second, endpoint name).

    Holds the whole run in memory: meant for short runs and tests (a capacity search, a live view);
    the report streams instead (:mod:`peakdrill.report.rundata`).
    """
    merged: dict[tuple[int, str], Bucket] = {}
    for batch in batches(iter_all(run_dir, span or ANY_SECOND)):
        for (record, _), bucket in zip(batch, buckets_of(batch)):
            key = (record.second, record.name)
            if key in merged:
                merged[key].merge(bucket)
            else:
                merged[key] = bucket
    return merged
