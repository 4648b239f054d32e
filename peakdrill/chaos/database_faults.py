"""Database-slowdown: another process holds the shop's database locked against writers (SQLite:
an EXCLUSIVE transaction on the file; PostgreSQL: ``LOCK TABLE`` of the shop's tables ``IN
EXCLUSIVE MODE``, real table locks that let reads through).

Writers in the shop wait their busy timeout, then answer 503 + Retry-After; removing the fault
kills the holder, and the transaction dies with it. The holder also ends by itself after the
dead-man bound, so even a lost ledger cannot keep the database locked.
"""

from __future__ import annotations

from peakdrill.chaos import args, lifecycle
from peakdrill.chaos.target import shop_state
from peakdrill.shop import hold_database_lock, procs

__all__ = ["lock_database", "validate_lock_database", "unlock_database", "validate_unlock_database"]

FAULT = "database-locked"


def validate_lock_database(shop_dir: str = ".peakdrill/shop", duration: float = 30) -> None:
    args.duration(duration)


def lock_database(shop_dir: str = ".peakdrill/shop", duration: float = 30, configuration: dict | None = None) -> dict:
    """Hold the shop's database locked for at most ``duration`` s; returns once the lock is held."""
    validate_lock_database(shop_dir, duration)
    state = shop_state(shop_dir, configuration)

    def hold() -> dict:
        holder = hold_database_lock(state, float(duration) + lifecycle.DEADMAN_GRACE_S)
        return {"pid": holder.pid, "create_time": procs.process(holder.pid).create_time()}

    record = lifecycle.inject(shop_dir, fault=FAULT, fault_id=f"{FAULT}:{state.shop_dir}",
                              target=f"database {state.database.shown}", duration_s=float(duration),
                              undo=kill_lock_holder, do=hold)
    return {"locked": state.database.shown, "holder_pid": record.params["pid"]}


def validate_unlock_database(shop_dir: str = ".peakdrill/shop", by: str = "method") -> None:
    args.remover_by(by)


def unlock_database(shop_dir: str = ".peakdrill/shop", by: str = "method") -> dict:
    """Release the lock (kill its holder); idempotent."""
    validate_unlock_database(shop_dir, by)
    removed = lifecycle.remove_all(shop_dir, by=by, fault=FAULT)
    return {"released": [record.params.get("pid") for record in removed]}


def kill_lock_holder(shop_dir: str, params: dict) -> None:
    if params.get("pid"):
        procs.terminate(int(params["pid"]), float(params.get("create_time", 0.0)), timeout=5.0)
