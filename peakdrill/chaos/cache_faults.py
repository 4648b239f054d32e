"""Cache-outage faults on the reference shop: the real Redis server process is stopped and restarted.

Both actions are idempotent, so a rollback after a method that already restored the cache is a
no-op, and a rollback after an interrupted method still brings the cache back.
"""

from __future__ import annotations

from peakdrill.chaos import args, lifecycle
from peakdrill.chaos.target import shop_state, shop_state_if_up
from peakdrill.shop import supervisor

__all__ = ["stop_cache", "validate_stop_cache", "start_cache", "validate_start_cache"]

FAULT = "cache-stopped"


def _fault_id(state) -> str:
    return f"{FAULT}@{state.redis.host}:{state.redis.port}"


def validate_stop_cache(shop_dir: str = ".peakdrill/shop", duration: float = 30) -> None:
    args.duration(duration)


def stop_cache(shop_dir: str = ".peakdrill/shop", duration: float = 30, configuration: dict | None = None) -> dict:
    """Stop the shop's Redis server for at most ``duration`` s (then the dead-man restarts it)."""
    validate_stop_cache(shop_dir, duration)
    state = shop_state(shop_dir, configuration)
    if not supervisor.redis_running(state):
        return {"stopped": False, "reason": "redis was not running"}
    lifecycle.inject(shop_dir, fault=FAULT, fault_id=_fault_id(state), target=f"redis pid {state.redis.pid}",
                     duration_s=args.duration(duration), undo=restart_redis, do=lambda: supervisor.stop_redis(state))
    return {"stopped": True, "pid": state.redis.pid}


def validate_start_cache(shop_dir: str = ".peakdrill/shop", by: str = "method") -> None:
    args.remover_by(by)


def start_cache(shop_dir: str = ".peakdrill/shop", by: str = "method", configuration: dict | None = None) -> dict:
    """Start the shop's Redis server again on its port (a cold cache, as after a real outage)."""
    validate_start_cache(shop_dir, by)
    removed = lifecycle.remove_all(shop_dir, by=by, fault=FAULT)
    state = shop_state(shop_dir, configuration)
    if not supervisor.redis_running(state):
        state = supervisor.start_redis(state)  # stopped outside the ledger: still this action's job
    return {"started": bool(removed), "pid": state.redis.pid}


def restart_redis(shop_dir: str, params: dict) -> None:
    state = shop_state_if_up(shop_dir)
    if state is not None and not supervisor.redis_running(state):
        supervisor.start_redis(state)
