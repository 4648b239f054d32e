"""Faults acted on the shop's real processes and resources: freeze the inventory sync worker,
find the app workers to kill, hold the database locked from another process.

``python -m peakdrill.shop.process_faults SECONDS`` is the lock holder itself; it reads the
database's location from ``PEAKDRILL_SHOP_APP_DB`` (a URL may carry a password: not in argv).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import psutil

from peakdrill.errors import ShopError
from peakdrill.shop import db, procs
from peakdrill.shop.state import ShopState, SyncState

LOCKED = "locked"
DB_ENV = "PEAKDRILL_SHOP_APP_DB"


def _sync(state: ShopState) -> psutil.Process:
    sync: SyncState | None = state.sync
    proc = procs.process(sync.pid, sync.create_time) if sync else None
    if proc is None:
        raise ShopError(f"the inventory sync worker of the shop in {state.shop_dir} is not running (fix: "
                        f"restart the shop: `peakdrill shop down --shop-dir {state.shop_dir}` then `up`)")
    return proc


def _signal(state: ShopState, signum: signal.Signals, frozen: bool) -> None:
    proc = _sync(state)
    proc.send_signal(signum)
    # Signals are delivered asynchronously: return only once the process is in the wanted state.
    if not procs.wait_until(lambda: sync_frozen(state) == frozen, 5.0, interval=0.01):
        raise ShopError(f"the sync worker (pid {proc.pid}) did not {'stop' if frozen else 'continue'} within 5 s "
                        f"after {signum.name}")


def freeze_sync(state: ShopState) -> None:
    """The inventory-sync-lag fault: SIGSTOP the sync worker (its PID checked by create time)."""
    _signal(state, signal.SIGSTOP, frozen=True)


def thaw_sync(state: ShopState) -> None:
    """Roll back :func:`freeze_sync`; idempotent (SIGCONT to a running process does nothing)."""
    _signal(state, signal.SIGCONT, frozen=False)


def sync_frozen(state: ShopState) -> bool:
    try:
        return _sync(state).status() == psutil.STATUS_STOPPED
    except psutil.Error as exc:
        raise ShopError(f"cannot read the sync worker's state: {exc}") from exc


def app_worker_pids(state: ShopState) -> list[int]:
    """The gunicorn workers (children of the master), for the app-node-crash fault."""
    master = procs.process(state.app.pid, state.app.create_time)
    if master is None:
        raise ShopError(f"the shop app (gunicorn master pid {state.app.pid}) is not running (fix: "
                        f"`peakdrill shop up --shop-dir {state.shop_dir}`)")
    try:
        return sorted(child.pid for child in master.children())
    except psutil.Error as exc:
        raise ShopError(f"cannot list the workers of gunicorn master {state.app.pid}: {exc}") from exc


def hold_database_lock(state: ShopState, seconds: float) -> subprocess.Popen:
    """The database-slowdown fault: another process holds the shop's database locked against
    writers (:meth:`~peakdrill.shop.dbapi.Connection.lock_writes`: SQLite ``BEGIN EXCLUSIVE``,
    PostgreSQL ``LOCK TABLE ... IN EXCLUSIVE MODE``) for ``seconds``. Returns once the lock is held; ``terminate()`` the process to
    release it early (the transaction dies with it)."""
    if not 0 < seconds <= 3600:
        raise ShopError(f"seconds {seconds!r} is out of range (fix: 0 < seconds <= 3600)")
    proc = subprocess.Popen([sys.executable, "-m", "peakdrill.shop.process_faults", str(seconds)],
                            env={**os.environ, DB_ENV: state.database.location},
                            stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline().strip()
    proc.stdout.close()  # one line is all the holder ever says
    if line != LOCKED:
        proc.kill()
        proc.wait()
        raise ShopError(f"could not lock {state.database.shown}: the holder said {line!r} (fix: is another "
                        "lock holder still running?)")
    return proc


def _hold(location: str, seconds: float) -> None:
    conn = db.connect(location, busy_timeout_ms=10_000)
    conn.lock_writes()
    print(LOCKED, flush=True)
    time.sleep(seconds)
    conn.execute("ROLLBACK")


if __name__ == "__main__":
    _hold(os.environ[DB_ENV], float(sys.argv[1]))
