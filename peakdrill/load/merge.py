"""Combine the run directories of several Locust masters (shards of one run) into one.

Histogram records are copied unchanged, so the merged directory's percentiles are exact (merging
is adding counts; see peakdrill.histograms). Load-process names are prefixed with their shard's
run id, since two machines may both have a ``worker-1-4242``. Timelines are interleaved by
time; run.json describes the whole: the earliest start, the latest end, the worst status.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from peakdrill.errors import RunDirError
from peakdrill.outputs import output_dir, staged_dir
from peakdrill.rundir import (ACKS_DIR, EVENTS_FILE, GENERATOR_FILE, HISTOGRAM_DIR, JOURNALS_DIR, SERVER_METRICS_FILE, RunDir,
                              RunMeta, RunStatus, append_lines, iso, iter_jsonl, write_lines)

STATUS_RANK = tuple(RunStatus(s) for s in ("completed", "aborted", "interrupted", "failed", "running"))
COPIED_FILES = (GENERATOR_FILE, SERVER_METRICS_FILE)  # readers take their lines in any order


def _worst(statuses: list[RunStatus]) -> RunStatus:
    return max(statuses, key=STATUS_RANK.index)


def _renamed(record: dict, run_id: str, tag: bool = True) -> dict:
    """A record with its load-process and master names made unique across shards (and, if ``tag``,
    the shard it came from)."""
    record = dict(record, shard=run_id) if tag else dict(record)
    for key in ("source", "master"):
        if key in record:
            record[key] = f"{run_id}/{record[key]}"
    if isinstance(record.get("names"), list):
        record["names"] = [f"{run_id}/{name}" for name in record["names"]]
    return record


def _copy_jsonl(source: Path, target: Path, run_id: str, warnings: list[str], tag: bool = True) -> None:
    """Stream ``source`` into ``target`` (appending), renamed; memory: one batch of lines."""
    pending: list[dict] = []
    for _, record in iter_jsonl(source, warnings):
        pending.append(_renamed(record, run_id, tag))
        if len(pending) >= 4096:
            append_lines(target, pending)
            pending = []
    append_lines(target, pending)


def merge_runs(shards: list[Path], out: Path) -> tuple[RunDir, list[str]]:
    """The merged run directory, and warnings about lines left out (torn by a writer that died)."""
    if len(shards) < 2:
        raise RunDirError(f"merge needs at least two run directories, got {len(shards)}; list every master's run directory")
    metas = sorted(((RunDir(shard).meta(), shard) for shard in shards), key=lambda pair: pair[0].start_ts)
    ids = [meta.run_id for meta, _ in metas]
    if len(set(ids)) != len(ids):
        raise RunDirError(f"the same run is listed twice ({ids}); give each master's run directory once")
    if out.exists() and not (out.is_dir() and not any(out.iterdir())):
        raise RunDirError(f"{out}: exists and is not empty (or not a directory); give a new directory to -o")
    output_dir(out.parent, "--output")
    with staged_dir(out) as staging:
        warnings = _merge_into(staging, metas, out.name)
    return RunDir(out), warnings


def _merge_into(out: Path, metas: list[tuple[RunMeta, Path]], run_id_out: str) -> list[str]:
    """Write the merged run into ``out`` (the staging directory); returns the warnings."""
    (out / HISTOGRAM_DIR).mkdir(parents=True)
    (out / JOURNALS_DIR).mkdir()
    start_ts = metas[0][0].start_ts
    warnings: list[str] = []
    events: list[dict] = []
    for meta, shard in metas:
        run_id = meta.run_id
        for path in sorted((shard / HISTOGRAM_DIR).glob("*.jsonl")):
            _copy_jsonl(path, out / HISTOGRAM_DIR / f"{run_id}--{path.name}", run_id, warnings, tag=False)
        for path in sorted((shard / ACKS_DIR).glob("*.jsonl")):  # acknowledgements: the union of the masters'
            _copy_jsonl(path, out / ACKS_DIR / f"{run_id}--{path.name}", run_id, warnings, tag=False)
        for name in COPIED_FILES:
            _copy_jsonl(shard / name, out / name, run_id, warnings)
        events += [_renamed(r, run_id) for _, r in iter_jsonl(shard / EVENTS_FILE, warnings)]
        for journal in sorted((shard / JOURNALS_DIR).glob("*.json")):
            shutil.copyfile(journal, out / JOURNALS_DIR / f"{run_id}--{journal.name}")
    events.sort(key=lambda r: r.get("ts", 0) if isinstance(r.get("ts"), (int, float)) else 0)
    write_lines(out / EVENTS_FILE, [dict(r, t=round(r["ts"] - start_ts, 3)) if isinstance(r.get("ts"), (int, float))
                                    else r for r in events])
    ends = [meta.end_ts for meta, _ in metas]
    end_ts = None if None in ends else max(ends)
    RunDir(out).write_meta(metas[0][0].raw | {
        "format": max(meta.format for meta, _ in metas),
        "run_id": run_id_out, "start_ts": start_ts, "started_at": iso(start_ts), "end_ts": end_ts,
        "ended_at": iso(end_ts) if end_ts is not None else None,
        "status": _worst([meta.status for meta, _ in metas]).value,
        "shards": [{"run_id": meta.run_id, "path": str(shard), "status": meta.status.value, "start_ts": meta.start_ts,
                    "end_ts": meta.end_ts} for meta, shard in metas]})
    return warnings
