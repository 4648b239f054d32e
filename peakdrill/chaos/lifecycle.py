"""Inject and remove faults through the ledger, with a dead-man watchdog for each one.

Order matters for safety: the ledger record is written and the watchdog armed *before* the fault
is injected, and the record is deleted only *after* the fault is removed. Whoever dies at any
point, the fault is on disk with the function that removes it, and a process watching it.
"""

from __future__ import annotations

import importlib
import os
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import psutil

from peakdrill import events
from peakdrill.chaos import ledger
from peakdrill.chaos.ledger import FaultRecord
from peakdrill.errors import ChaosError
from peakdrill.shop import procs

# The dead-man removes a fault this long after its planned end, so the experiment's own removal
# (method or rollback) always comes first when the runner is alive.
DEADMAN_GRACE_S = 10.0
UNDO_PACKAGE = "peakdrill.chaos."

Undo = Callable[[str, dict], None]


def inject(shop_dir: str, *, fault: str, fault_id: str, target: str, duration_s: float, undo: Undo,
           do: Callable[[], dict | None], params: dict | None = None) -> FaultRecord:
    """Record the fault, arm its dead-man, then run ``do`` (the injection). ``do`` may return
    parameters only known once injected (a helper's PID); they are added to the record."""
    with ledger.locked(shop_dir):
        if ledger.read(ledger.path_of(shop_dir, fault_id)) is not None:
            raise ChaosError(f"fault {fault_id!r} is already injected (fix: remove it first, e.g. "
                             f"`peakdrill chaos recover --shop-dir {shop_dir}`)")
        now = time.time()
        owner = psutil.Process()
        record = FaultRecord(fault_id=fault_id, fault=fault, target=target, shop_dir=str(shop_dir),
                             undo=f"{undo.__module__}:{undo.__name__}", injected_at=now,
                             deadline=now + duration_s + DEADMAN_GRACE_S, owner_pid=owner.pid,
                             owner_create_time=owner.create_time(), params=dict(params or {}),
                             timeline=events.active_timeline())
        ledger.write(record)
        try:
            record = _arm(record)
            learned = do()
        except BaseException:
            _undo(record)  # a half-done injection (or Ctrl-C mid-way) must not leave anything behind
            ledger.discard(record)
            raise
        if learned:
            record = replace(record, params={**record.params, **learned})
            ledger.write(record)
    events.publish(events.FaultInjected(fault_id=fault_id, fault=fault, target=target))
    return record


def remove(shop_dir: str, fault_id: str, by: str) -> FaultRecord | None:
    """Remove one recorded fault; None if it was not (or no longer) recorded. Idempotent."""
    with ledger.locked(shop_dir):
        record = ledger.read(ledger.path_of(shop_dir, fault_id))
        if record is None:
            return None
        _undo(record)
        ledger.discard(record)  # the watchdog sees its record gone and exits
    if record.watchdog_pid != os.getpid():
        # Waiting for it also reaps it when we are its parent: a long drill leaves no zombies.
        procs.wait_until(lambda: not procs.alive(record.watchdog_pid, record.watchdog_create_time), 2.0)
    events.publish_to(record.timeline, events.FaultRemoved(fault_id=record.fault_id, fault=record.fault,
                                                           target=record.target, by=by))
    return record


def remove_all(shop_dir: str, by: str, fault: str | None = None) -> list[FaultRecord]:
    """Remove every recorded fault of the shop (of kind ``fault`` if given), oldest first."""
    removed = [remove(shop_dir, record.fault_id, by) for record in ledger.active(shop_dir, fault)]
    return [record for record in removed if record is not None]


def _arm(record: FaultRecord) -> FaultRecord:
    # A new session, so neither Ctrl-C in the runner's terminal nor the runner's death reaches it.
    pid, create_time = procs.spawn([sys.executable, "-m", "peakdrill.chaos.deadman",
                                    str(ledger.path_of(record.shop_dir, record.fault_id))],
                                   ledger.faults_dir(record.shop_dir) / "deadman.log")
    record = record.with_watchdog(pid, create_time)
    ledger.write(record)
    return record


def _undo(record: FaultRecord) -> None:
    module_name, _, func_name = record.undo.partition(":")
    if not module_name.startswith(UNDO_PACKAGE):
        # The ledger is a file anyone could edit: never import arbitrary code from it.
        raise ChaosError(f"fault {record.fault_id!r} names undo {record.undo!r} outside {UNDO_PACKAGE} "
                         f"(fix: remove that fault by hand and delete its ledger file)")
    try:
        func: Any = getattr(importlib.import_module(module_name), func_name)
    except (ImportError, AttributeError) as exc:
        raise ChaosError(f"fault {record.fault_id!r} names undo {record.undo!r}, which does not exist "
                         f"(fix: upgrade peakdrill to the version that injected it, or remove the fault by hand)") from exc
    func(record.shop_dir, record.params)
