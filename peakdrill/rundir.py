"""The run directory: where one run's data lands as it happens (format: docs/run-directory.md)."""

from __future__ import annotations

import json
import os
import time
from datetime import datetime, timezone
from pathlib import Path

from peakdrill import crash
from peakdrill.errors import RunDirError

FORMAT_VERSION = 1
GENERATOR_FILE = "generator.jsonl"
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


class JsonlTail:
    """Reads the records appended to a JSON-lines file since the last call, so a watcher polling
    every second reads each line once. A line still being written is left for the next call."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0

    def read_new(self) -> list[dict]:
        try:
            with self.path.open("rb") as stream:
                stream.seek(self._offset)
                data = stream.read()
        except FileNotFoundError:
            return []
        complete = data[: data.rfind(b"\n") + 1]
        self._offset += len(complete)
        records = []
        for line in complete.splitlines():
            if line.strip():
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise RunDirError(f"{self.path}: a line that is not JSON ({exc.msg}): {line[:80]!r}") from exc
        return records


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

    def read_meta(self) -> dict:
        try:
            return json.loads(self.meta_path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise RunDirError(f"{self.meta_path}: not found; is {self.path} a run directory written by `peakdrill drill`?") from exc
        except json.JSONDecodeError as exc:
            raise RunDirError(f"{self.meta_path}: not valid JSON ({exc.msg} at line {exc.lineno})") from exc

    def write_meta(self, meta: dict) -> None:
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
