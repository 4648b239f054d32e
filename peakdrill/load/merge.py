"""Combine the run directories of several Locust masters (shards of one run) into one.

Histogram records are copied unchanged, so the merged directory's percentiles are exact (merging
is adding counts; see peakdrill.histograms). Load-process names are prefixed with their shard's
run id, since two machines may both have a ``worker-1-4242``. Timelines are interleaved by
time; run.json describes the whole: the earliest start, the latest end, the worst status.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from peakdrill.errors import RunDirError
from peakdrill.histograms import HISTOGRAM_DIR
from peakdrill.report.rundata import read_jsonl
from peakdrill.outputs import output_dir, staged_dir
from peakdrill.rundir import RunDir, iso

STATUS_RANK = ("completed", "aborted", "interrupted", "failed", "running")
JSONL_FILES = ("events.jsonl", "generator.jsonl", "server-metrics.jsonl")


def _write_jsonl(path: Path, records: list[dict]) -> None:
    path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")


def _worst(statuses: list[str]) -> str:
    return max(statuses, key=lambda s: STATUS_RANK.index(s) if s in STATUS_RANK else len(STATUS_RANK))


def merge_runs(shards: list[Path], out: Path) -> tuple[RunDir, list[str]]:
    """The merged run directory, and warnings about lines left out (torn by a writer that died)."""
    if len(shards) < 2:
        raise RunDirError(f"merge needs at least two run directories, got {len(shards)}; list every master's run directory")
    metas = sorted(((RunDir(shard).read_meta(), shard) for shard in shards), key=lambda pair: pair[0]["start_ts"])
    ids = [meta["run_id"] for meta, _ in metas]
    if len(set(ids)) != len(ids):
        raise RunDirError(f"the same run is listed twice ({ids}); give each master's run directory once")
    if out.exists() and not (out.is_dir() and not any(out.iterdir())):
        raise RunDirError(f"{out}: exists and is not empty (or not a directory); give a new directory to -o")
    output_dir(out.parent, "--output")
    with staged_dir(out) as staging:
        warnings = _merge_into(staging, metas, out.name)
    return RunDir(out), warnings


def _merge_into(out: Path, metas: list[tuple[dict, Path]], run_id_out: str) -> list[str]:
    """Write the merged run into ``out`` (the staging directory); returns the warnings."""
    (out / HISTOGRAM_DIR).mkdir(parents=True)
    (out / "journals").mkdir()
    start_ts = metas[0][0]["start_ts"]
    warnings: list[str] = []
    merged: dict[str, list[dict]] = {name: [] for name in JSONL_FILES}
    for meta, shard in metas:
        run_id = meta["run_id"]
        for path in sorted((shard / HISTOGRAM_DIR).glob("*.jsonl")):
            records = [dict(r, source=f"{run_id}/{r['source']}") for r in read_jsonl(path, warnings)]
            _write_jsonl(out / HISTOGRAM_DIR / f"{run_id}--{path.name}", records)
        for name in JSONL_FILES:
            merged[name] += [dict(r, shard=run_id) | ({"source": f"{run_id}/{r['source']}"} if "source" in r else {})
                             for r in read_jsonl(shard / name, warnings)]
        for journal in sorted((shard / "journals").glob("*.json")):
            shutil.copyfile(journal, out / "journals" / f"{run_id}--{journal.name}")
    for name, records in merged.items():
        records.sort(key=lambda r: r.get("ts", 0))
        if name == "events.jsonl":
            records = [dict(r, t=round(r["ts"] - start_ts, 3)) for r in records]
        _write_jsonl(out / name, records)
    ends = [meta.get("end_ts") for meta, _ in metas]
    end_ts = None if None in ends else max(ends)
    RunDir(out).write_meta(metas[0][0] | {
        "run_id": run_id_out, "start_ts": start_ts, "started_at": iso(start_ts), "end_ts": end_ts,
        "ended_at": iso(end_ts) if end_ts is not None else None, "status": _worst([meta["status"] for meta, _ in metas]),
        "shards": [{"run_id": meta["run_id"], "path": str(shard), "status": meta["status"], "start_ts": meta["start_ts"],
                    "end_ts": meta.get("end_ts")} for meta, shard in metas]})
    return warnings
