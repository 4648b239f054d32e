"""The run directory: where one run's data lands as it happens (format: docs/run-directory.md).

This package owns the format: the file layout (here), the ``run.json`` model
(:mod:`peakdrill.rundir.meta`), the JSON Lines reader (:mod:`peakdrill.rundir.jsonl`) and the
records of the data files (:mod:`peakdrill.rundir.records`, :mod:`peakdrill.rundir.acks`). Every writer and reader goes through it.
"""

from __future__ import annotations

import json
import os
import time
from datetime import datetime, timezone
from pathlib import Path

from peakdrill import crash
from peakdrill.errors import RunDirError
from peakdrill.rundir.acks import ACKS_DIR, RECONCILIATION_FILE
from peakdrill.rundir.jsonl import JsonlTail, append_lines, iter_jsonl, write_lines
from peakdrill.rundir.meta import FORMAT_VERSION, RunMeta, RunStatus, Stage, TimelineEntry

__all__ = ["FORMAT_VERSION", "RunMeta", "RunStatus", "Stage", "TimelineEntry", "JsonlTail", "append_lines",
           "iter_jsonl", "write_lines", "RunDir", "iso", "new_run_id", "GENERATOR_FILE", "EVENTS_FILE",
           "SERVER_METRICS_FILE", "HISTOGRAM_DIR", "ACKS_DIR", "RECONCILIATION_FILE", "JOURNALS_DIR", "META_FILE", "STOP_REQUEST_FILE", "RUNNER_PID_ENV"]

META_FILE = "run.json"
EVENTS_FILE = "events.jsonl"
GENERATOR_FILE = "generator.jsonl"
SERVER_METRICS_FILE = "server-metrics.jsonl"
HISTOGRAM_DIR = "histograms"
JOURNALS_DIR = "journals"
# Created by the runner to ask its Locust master to stop the users, collect every worker's last
# measurements and quit (a signal would cut the workers' final reports short).
STOP_REQUEST_FILE = "stop-requested"
# Tells a Locust master which process runs it, so that the load stops itself if that process dies.
RUNNER_PID_ENV = "PEAKDRILL_RUNNER_PID"


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_run_id(name: str, ts: float | None = None) -> str:
    stamp = datetime.fromtimestamp(ts or time.time(), tz=timezone.utc).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{name}"


class RunDir:
    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def create(cls, reports_dir: Path, name: str) -> RunDir:
        reports_dir.mkdir(parents=True, exist_ok=True)
        run_id = new_run_id(name)
        path = reports_dir / run_id
        suffix = 1
        while path.exists():  # two runs in the same second
            suffix += 1
            path = reports_dir / f"{run_id}-{suffix}"
        (path / "journals").mkdir(parents=True)
        crash.note_run_dir(path)
        return cls(path)

    @property
    def run_id(self) -> str:
        return self.path.name

    @property
    def meta_path(self) -> Path:
        return self.path / "run.json"

    def meta(self) -> RunMeta:
        """run.json, checked against the one model of it."""
        if not self.meta_path.is_file():
            raise RunDirError(f"{self.meta_path}: no run.json here; give the path of a run directory "
                              f"written by `peakdrill drill` (reports/<run-id>/)")
        try:
            raw = json.loads(self.meta_path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise RunDirError(f"{self.meta_path}: cannot read ({exc.strerror}); fix the file permissions") from exc
        except (ValueError, RecursionError) as exc:
            raise RunDirError(f"{self.meta_path}: not valid JSON ({str(exc)[:80]}); "
                              f"restore run.json from the drill runner's output") from exc
        return RunMeta.parse(raw, str(self.meta_path), default_run_id=self.path.name)

    def read_meta(self) -> dict:
        return self.meta().raw

    def write_meta(self, meta: dict) -> None:
        meta = {"format": FORMAT_VERSION} | meta
        RunMeta.parse(meta, str(self.meta_path))  # a writer's mistake must not reach the file
        # Write-then-rename: a crash mid-write must not destroy the run's description.
        tmp = self.meta_path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, self.meta_path)

    def update_meta(self, **changes) -> dict:
        meta = self.read_meta()
        meta.update(changes)
        self.write_meta(meta)
        return meta

    def journal_path(self, index: int, experiment_file: str) -> Path:
        return self.path / "journals" / f"{index:02d}-{Path(experiment_file).stem}.json"
