"""Faults on the shop's own processes: an app worker killed (app-node-crash) and the inventory
sync worker frozen with SIGSTOP (inventory-sync-lag).

A killed worker heals itself (gunicorn forks a replacement), so it has nothing to undo and no
ledger entry; a frozen process stays frozen until thawed, so it is recorded and watched.
"""

from __future__ import annotations

import os
import signal

from peakdrill import events
from peakdrill.chaos import args, lifecycle
from peakdrill.chaos.target import shop_state, shop_state_if_up
from peakdrill.errors import ChaosError
from peakdrill.shop import app_worker_pids, freeze_sync, procs, sync_frozen, thaw_sync

__all__ = ["missing_app_workers", "kill_process", "validate_kill_process", "wait_for_app_workers", "validate_wait_for_app_workers",
           "freeze_process", "validate_freeze_process", "thaw_process", "validate_thaw_process"]

KILLABLE = ("app-worker",)
FREEZABLE = ("sync-worker",)
CRASH = "app-worker-killed"
FREEZE = "process-frozen"


def validate_kill_process(shop_dir: str = ".peakdrill/shop", process: str = "app-worker") -> None:
    args.choice("process", process, KILLABLE)


# Workers this process killed whose crash window is still open: the experiment's next activity,
# wait_for_app_workers, closes them (both run in the same experiment process).
_crashed: list[int] = []

def kill_process(shop_dir: str = ".peakdrill/shop", process: str = "app-worker", configuration: dict | None = None) -> dict:
    """SIGKILL one app worker (the oldest PID), as a crashed node; its master starts a new one."""
    validate_kill_process(shop_dir, process)
    state = shop_state(shop_dir, configuration)
    workers = app_worker_pids(state)
    if not workers:
        raise ChaosError(f"the shop in {shop_dir!r} has no app workers to kill (fix: `peakdrill shop up`)")
    victim = workers[0]
    os.kill(victim, signal.SIGKILL)
    _crashed.append(victim)
    events.publish(events.FaultInjected(fault_id=f"{CRASH}@{victim}", fault=CRASH, target=f"app worker pid {victim}"))
    return {"killed_pid": victim, "workers_before": workers}


def missing_app_workers(shop_dir: str = ".peakdrill/shop", configuration: dict | None = None) -> int:
    """How many app workers the shop is short of (0 when all are up)."""
    state = shop_state(shop_dir, configuration)
    return max(0, state.app.workers - len(app_worker_pids(state)))


def validate_wait_for_app_workers(shop_dir: str = ".peakdrill/shop", timeout: float = 30, by: str = "method") -> None:
    args.duration(timeout, "timeout")
    args.remover_by(by)


def wait_for_app_workers(shop_dir: str = ".peakdrill/shop", timeout: float = 30, by: str = "method",
                         configuration: dict | None = None) -> dict:
    """Wait until the app has all its workers again; the crash counts as healed from then."""
    validate_wait_for_app_workers(shop_dir, timeout, by)
    state = shop_state(shop_dir, configuration)
    if not procs.wait_until(lambda: len(app_worker_pids(state)) >= state.app.workers, float(timeout), 0.2):
        raise ChaosError(f"the app has {len(app_worker_pids(state))} of {state.app.workers} workers after {timeout}s "
                         f"(fix: read {state.shop_dir}/app.log)")
    workers = app_worker_pids(state)
    while _crashed:  # the window closes under the id it opened with, whenever the master replaced it
        victim = _crashed.pop(0)
        events.publish(events.FaultRemoved(fault_id=f"{CRASH}@{victim}", fault=CRASH,
                                           target=f"app worker pid {victim}", by=by))
    return {"workers": workers, "expected": state.app.workers}


def validate_freeze_process(shop_dir: str = ".peakdrill/shop", process: str = "sync-worker", duration: float = 30) -> None:
    args.choice("process", process, FREEZABLE)
    args.duration(duration)


def freeze_process(shop_dir: str = ".peakdrill/shop", process: str = "sync-worker", duration: float = 30,
                   configuration: dict | None = None) -> dict:
    """SIGSTOP the process for at most ``duration`` s (the dead-man thaws it after that)."""
    validate_freeze_process(shop_dir, process, duration)
    state = shop_state(shop_dir, configuration)
    pid = state.sync.pid if state.sync else 0
    lifecycle.inject(shop_dir, fault=FREEZE, fault_id=f"{FREEZE}:{process}", target=f"{process} pid {pid}",
                     duration_s=float(duration), undo=thaw_sync_worker, do=lambda: freeze_sync(state))
    return {"frozen": process, "pid": pid, "stopped": sync_frozen(state)}


def validate_thaw_process(shop_dir: str = ".peakdrill/shop", process: str = "sync-worker", by: str = "method") -> None:
    args.choice("process", process, FREEZABLE)
    args.remover_by(by)


def thaw_process(shop_dir: str = ".peakdrill/shop", process: str = "sync-worker", by: str = "method",
                 configuration: dict | None = None) -> dict:
    """SIGCONT the frozen process; idempotent."""
    validate_thaw_process(shop_dir, process, by)
    removed = lifecycle.remove(shop_dir, f"{FREEZE}:{process}", by)
    thaw_sync_worker(shop_dir, {})  # frozen outside the ledger is still frozen: SIGCONT is harmless
    return {"thawed": process, "was_recorded": removed is not None, "stopped": sync_frozen(shop_state(shop_dir, configuration))}


def thaw_sync_worker(shop_dir: str, params: dict) -> None:
    state = shop_state_if_up(shop_dir)
    if state is not None and state.sync is not None and procs.alive(state.sync.pid, state.sync.create_time):
        thaw_sync(state)
