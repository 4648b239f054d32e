"""Start, stop and fault the reference shop's processes: Redis, the provider stand-ins, the
inventory sync worker and a gunicorn master + workers.

The state file is written as soon as there is a process to stop, so a ``shop up`` that dies
half-way still leaves ``shop down`` something to clean up. Everything is stopped by the PIDs in
the state file (checked against their create times), never by process name.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import sys
import urllib.error
from dataclasses import replace
from datetime import datetime, timezone
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from peakdrill.errors import ShopError
from peakdrill.shop import procs, redis_server
from peakdrill.shop.database import close_database, open_database
from peakdrill.shop.process_faults import thaw_sync
from peakdrill.shop.standin_model import Capacity
from peakdrill.shop.standins import start_standins, stop_standins
from peakdrill.shop.state import (AppState, RedisState, ShopState, SyncState, load_state,
                                  state_path, write_state)

DEFAULT_SHOP_DIR = ".peakdrill/shop"
LOCK_FILE = ".lock"  # see _exclusive
def check_host(host: str, allow_non_loopback: bool = False) -> None:
    if allow_non_loopback or procs.is_loopback(host):
        return
    raise ShopError(f"refusing to listen on host {host!r}: the reference shop is for loopback only "
                    "(fix: use --host 127.0.0.1, or pass --allow-non-loopback if you really mean it)")


def health(url: str, timeout: float = 2.0) -> dict[str, Any] | None:
    """The parsed /healthz answer (also a 503's body), or None if the app does not answer."""
    try:
        with procs.LOOPBACK_OPENER.open(url + "/healthz", timeout=timeout) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        try:
            return json.loads(exc.read())
        except ValueError:
            return {"status": "down", "http_status": exc.code}
    except (OSError, ValueError):
        return None


def running(state: ShopState) -> bool:
    """True if any process of this state is still alive."""
    others = [(s.pid, s.create_time) for s in state.standins.values()]
    if state.sync is not None:
        others.append((state.sync.pid, state.sync.create_time))
    return (procs.alive(state.app.pid, state.app.create_time) or redis_running(state)
            or any(procs.alive(pid, create_time) for pid, create_time in others))


def redis_running(state: ShopState) -> bool:
    return procs.alive(state.redis.pid, state.redis.create_time)


def start_shop(shop_dir: str | os.PathLike[str] = DEFAULT_SHOP_DIR, host: str = "127.0.0.1", port: int = 8800,
               workers: int = 2, redis_port: int = 0, allow_non_loopback: bool = False,
               timeout: float = 30.0, extra_env: dict[str, str] | None = None, fresh: bool = False,
               bot_slots: int = 4, sync_lag_s: float = 2.0, database: str = "") -> ShopState:
    """Start Redis, the stand-ins, the sync worker and the app, wait until /healthz answers,
    write and return the state.

    The database is kept between runs (it is the system of record) unless ``fresh``, which
    deletes it first so the shop starts from the seed again. ``database``: see
    :mod:`peakdrill.shop.database` (SQLite in the shop directory when empty). ``extra_env`` reaches the app
    workers (e.g. ``PEAKDRILL_SHOP_APP_HUMAN_REPLY_S``; see docs/shop.md)."""
    check_host(host, allow_non_loopback)
    if workers < 1 or workers > 32:
        raise ShopError(f"--workers {workers} is out of range (fix: use 1..32)")
    Capacity.parse({"slots": bot_slots})
    if not 0 <= sync_lag_s <= 3600:
        raise ShopError(f"sync lag {sync_lag_s!r}s is out of range (fix: use 0..3600 seconds)")
    shop = Path(shop_dir).resolve()
    shop.mkdir(parents=True, exist_ok=True)
    if state_path(shop).exists():
        try:
            old = load_state(shop)
        except ShopError:
            old = None
        if old is not None and running(old):
            raise ShopError(f"a shop is already running from '{shop}' at {old.url} (fix: run `peakdrill shop "
                            f"down --shop-dir {shop}` first, or pick another --shop-dir)")
        state_path(shop).unlink()  # stale: its processes are gone
    port = port or procs.free_port(host)
    if procs.port_in_use(host, port):
        raise ShopError(f"port {port} on {host} is already in use (fix: pick another --port, or --port 0 "
                        "for a free one)")
    database_state = open_database(shop, database, fresh, allow_non_loopback)
    try:
        # Stale per-worker metric files from a previous run would be summed into this run's metrics.
        metrics_dir = shop / "prometheus"
        shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir()

        binary = redis_server.find_redis_server()
        # Redis is only the app's: it stays on IPv4 loopback whatever the app's --host is.
        redis_host = "127.0.0.1"
        redis_port = redis_port or procs.free_port(redis_host)
        config = redis_server.write_config(shop, redis_host, redis_port)
        redis_proc = redis_server.start(binary, config, redis_host, redis_port)
    except BaseException:
        close_database(database_state)  # nothing names it yet: `shop down` could not stop it
        raise
    state = ShopState(
        url=procs.url_of(host, port), host=host, port=port, shop_dir=str(shop),
        started_at=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        database=database_state,
        redis=RedisState(host=redis_host, port=redis_port, pid=redis_proc.pid, binary=binary, config=str(config),
                         create_time=redis_proc.create_time),
        app=AppState(pid=0, workers=workers),
    )
    write_state(state)
    try:
        # The stand-ins are the shop's own dependencies: IPv4 loopback, like Redis.
        state = replace(state, standins=start_standins(shop, redis_host, bot_slots, timeout))
        write_state(state)
        state = replace(state, sync=_start_sync(state, sync_lag_s))
        write_state(state)
        state = _start_app(state, metrics_dir, timeout, extra_env or {})
    except BaseException:
        stop_shop(shop)
        raise
    write_state(state)
    return state


def _start_sync(state: ShopState, lag_s: float) -> SyncState:
    argv = [sys.executable, "-m", "peakdrill.shop.sync_worker", "--lag-s", str(lag_s)]
    pid, create_time = procs.spawn(argv, Path(state.shop_dir) / "sync.log",
                                   env={**os.environ, "PEAKDRILL_SHOP_APP_DB": state.database.location})
    return SyncState(pid=pid, create_time=create_time, lag_s=float(lag_s))


def _start_app(state: ShopState, metrics_dir: Path, timeout: float, extra_env: dict[str, str]) -> ShopState:
    shop = Path(state.shop_dir)
    env = dict(os.environ)
    env.update({
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "PEAKDRILL_SHOP_APP_DIR": state.shop_dir,
        "PEAKDRILL_SHOP_APP_DB": state.database.location,
        "PEAKDRILL_SHOP_APP_REDIS_HOST": state.redis.host,
        "PEAKDRILL_SHOP_APP_REDIS_PORT": str(state.redis.port),
        **{f"PEAKDRILL_SHOP_APP_{name.upper()}_URL": standin.url for name, standin in state.standins.items()},
        "PEAKDRILL_SHOP_APP_BOT_ADMIN_URL": state.standins["bot"].admin_url,  # its queue depth, for /metrics
        **extra_env,
    })
    bind = f"[{state.host}]:{state.port}" if ":" in state.host else f"{state.host}:{state.port}"
    log = shop / "app.log"
    argv = [sys.executable, "-m", "gunicorn", "-c", "python:peakdrill.shop.gunicorn_conf", "--bind", bind,
            "--workers", str(state.app.workers), "--error-logfile", str(log), "--capture-output",
            # gunicorn's control socket defaults to one path per user: two shops would fight over it.
            "--no-control-socket", "--chdir", str(shop), "peakdrill.shop.app:create_app()"]
    pid, create_time = procs.spawn(argv, shop / "app.stdout.log", env=env, cwd=str(shop))
    state = replace(state, app=AppState(pid=pid, workers=state.app.workers, create_time=create_time))
    write_state(state)  # from here on, `shop down` can stop it
    healthy = procs.wait_until(
        lambda: not procs.alive(pid, create_time) or (health(state.url, 1.0) or {}).get("status") == "ok",
        timeout, interval=0.2)
    if not healthy or not procs.alive(pid, create_time):
        tail = procs.log_tail(log) + "\n" + procs.log_tail(shop / "app.stdout.log", 5)
        raise ShopError(f"the shop app did not answer {state.url}/healthz within {timeout:.0f}s; log tail "
                        f"({log}):\n{tail}\n(fix: read the log above; is port {state.port} free?)")
    return state


@contextlib.contextmanager
def _exclusive(shop_dir: str | os.PathLike[str]) -> Iterator[None]:
    """Stopping the shop and restarting its Redis (a cache-outage rollback or a dead-man timer, in
    another process, at any moment) exclude each other: a restart lands either before the stop
    reads the state file, and is stopped with the rest, or after the file is gone, and refuses."""
    with open(Path(shop_dir) / LOCK_FILE, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file is closed, or the process dies
        yield


def stop_shop(shop_dir: str | os.PathLike[str] = DEFAULT_SHOP_DIR, timeout: float = 10.0) -> bool:
    """Stop what the state file names and remove it. Idempotent: False if nothing was there."""
    path = state_path(shop_dir)
    if not path.exists():
        return False
    with _exclusive(path.parent):
        if not path.exists():  # another `shop down` got there first
            return False
        try:
            state = load_state(path)
        except ShopError:
            path.unlink()  # damaged beyond use: nothing in it we could safely signal
            return False
        if state.app.pid:
            procs.terminate(state.app.pid, state.app.create_time, timeout=timeout, include_children=True)
        stop_standins(state.standins, timeout=timeout)
        if state.sync is not None:
            # A frozen (SIGSTOPped) worker would hold SIGTERM pending: let it run so it can die.
            with contextlib.suppress(ShopError):
                thaw_sync(state)
            procs.terminate(state.sync.pid, state.sync.create_time, timeout=timeout)
        stop_redis(state, timeout=timeout)
        close_database(state.database)
        path.unlink(missing_ok=True)
    return True


def stop_redis(state: ShopState, timeout: float = 10.0) -> None:
    """The cache-outage fault: SIGTERM the Redis server and wait until it is gone."""
    procs.terminate(state.redis.pid, state.redis.create_time, timeout=timeout)


def start_redis(state: ShopState, timeout: float = 10.0) -> ShopState:
    """Restart Redis on the same port and config (cold: nothing persisted), record the new PID.
    A no-op returning the state from disk if it is already running; a ShopError if the shop has
    been stopped meanwhile."""
    with _exclusive(state.shop_dir):
        current = load_state(state.shop_dir)
        if redis_running(current):
            return current
        r = current.redis
        proc = redis_server.start(r.binary, Path(r.config), r.host, r.port, timeout=timeout)
        current = current.with_redis(pid=proc.pid, create_time=proc.create_time)
        write_state(current)
        return current


def wait_healthy(state: ShopState, timeout: float = 10.0) -> bool:
    return procs.wait_until(lambda: (health(state.url, 1.0) or {}).get("status") == "ok", timeout, 0.2)
