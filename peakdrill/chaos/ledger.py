"""The fault ledger: one JSON file per active fault in ``<shop-dir>/faults/``.

A record is written *before* the fault is injected and deleted only after it is removed, so a
fault that exists is always on disk with what is needed to remove it, whoever died meanwhile. The
dead-man watchdog and ``peakdrill chaos recover`` work from these files alone.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from peakdrill.errors import ChaosError

FAULTS_DIR = "faults"


@dataclass(slots=True, frozen=True)
class FaultRecord:
    fault_id: str  # unique per target, e.g. "cache-stopped@127.0.0.1:53541"
    fault: str  # the plan's fault kind, e.g. "cache-stopped"
    target: str  # what was faulted, for people
    shop_dir: str
    undo: str  # "module:function" in peakdrill.chaos that removes it, called as f(state, params)
    injected_at: float
    deadline: float  # the dead-man removes the fault at this epoch time at the latest
    owner_pid: int  # the process that injected it; the dead-man acts when it dies
    owner_create_time: float
    params: dict[str, Any] = field(default_factory=dict)
    # The drill timeline the fault was injected in ({} outside a drill): see events.active_timeline.
    timeline: dict[str, Any] = field(default_factory=dict)
    watchdog_pid: int = 0
    watchdog_create_time: float = 0.0

    def with_watchdog(self, pid: int, create_time: float) -> "FaultRecord":
        return replace(self, watchdog_pid=pid, watchdog_create_time=create_time)


def faults_dir(shop_dir: str | os.PathLike[str]) -> Path:
    return Path(shop_dir) / FAULTS_DIR


def path_of(shop_dir: str | os.PathLike[str], fault_id: str) -> Path:
    return faults_dir(shop_dir) / (re.sub(r"[^A-Za-z0-9._-]", "_", fault_id) + ".json")


def write(record: FaultRecord) -> Path:
    path = path_of(record.shop_dir, record.fault_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(record), indent=2), encoding="utf-8")
    os.replace(tmp, path)  # a reader never sees half a record
    return path


def read(path: Path) -> FaultRecord | None:
    """The record at ``path``, or None once it has been removed."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ChaosError(f"fault ledger entry {str(path)!r} is unreadable: {exc} (fix: remove the fault it names by hand, then delete the file)") from exc
    try:
        return FaultRecord(**data)
    except TypeError as exc:
        raise ChaosError(f"fault ledger entry {str(path)!r} does not fit the record format: {exc} (fix: remove the fault by hand, then delete the file)") from exc


def active(shop_dir: str | os.PathLike[str], fault: str | None = None) -> list[FaultRecord]:
    """Every recorded fault of the shop (of kind ``fault`` if given), oldest first."""
    records = [read(path) for path in sorted(faults_dir(shop_dir).glob("*.json"))]
    found = [r for r in records if r is not None and (fault is None or r.fault == fault)]
    return sorted(found, key=lambda r: r.injected_at)


def discard(record: FaultRecord) -> None:
    path_of(record.shop_dir, record.fault_id).unlink(missing_ok=True)


@contextmanager
def locked(shop_dir: str | os.PathLike[str]) -> Iterator[None]:
    """Serialise inject/remove across processes: the method, a rollback, the dead-man and
    ``recover`` may all try to remove the same fault at once (two Redis starts on one port...)."""
    directory = faults_dir(shop_dir)
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
