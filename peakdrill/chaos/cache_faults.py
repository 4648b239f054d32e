"""Cache-outage faults on the reference shop: the real Redis server process is stopped and restarted.

Both actions are idempotent, so a rollback after a method that already restored the cache is a
no-op, and a rollback after an interrupted method still brings the cache back.
"""

from __future__ import annotations

from peakdrill import events
from peakdrill.chaos.target import shop_state
from peakdrill.shop import supervisor

__all__ = ["stop_cache", "start_cache"]

FAULT = "cache-stopped"


def _fault_id(state) -> str:
    return f"{FAULT}@{state.redis.host}:{state.redis.port}"


def stop_cache(shop_dir: str = ".peakdrill/shop") -> dict:
    """Stop the shop's Redis server (SIGTERM to its PID, waiting until it is gone)."""
    state = shop_state(shop_dir)
    if not supervisor.redis_running(state):
        return {"stopped": False, "reason": "redis was not running"}
    supervisor.stop_redis(state)
    events.publish(events.FaultInjected(fault_id=_fault_id(state), fault=FAULT, target=f"redis pid {state.redis.pid}"))
    return {"stopped": True, "pid": state.redis.pid}


def start_cache(shop_dir: str = ".peakdrill/shop", by: str = "method") -> dict:
    """Start the shop's Redis server again on its port (a cold cache, as after a real outage)."""
    state = shop_state(shop_dir)
    if supervisor.redis_running(state):
        return {"started": False, "reason": "redis was already running"}
    restarted = supervisor.start_redis(state)
    events.publish(events.FaultRemoved(fault_id=_fault_id(state), fault=FAULT, target=f"redis pid {restarted.redis.pid}", by=by))
    return {"started": True, "pid": restarted.redis.pid}
