"""Cache-aside reads through Redis, failing fast and falling back to the database.

A breaker that opens on the first error skips Redis for half a second, so while the cache is
down each read pays nothing for it, and one read after that window probes it again.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis

from peakdrill.shop import metrics
from peakdrill.shop.breaker import CircuitBreaker
from peakdrill.shop.redis_server import client

BREAKER_OPEN_S = 0.5


@dataclass(frozen=True)
class CacheRead:
    value: Any
    source: str  # hit | miss | fallback (the X-Cache header)


class Cache:
    def __init__(self, host: str, port: int, ttl_s: int = 300, timeout_s: float = 0.1) -> None:
        self.ttl_s = ttl_s
        self._redis = client(host, port, timeout=timeout_s)
        self.breaker = CircuitBreaker("cache", failures=1, reset_s=BREAKER_OPEN_S)

    def _timed(self, op: str, fn: Callable[[], Any]) -> tuple[bool, Any]:
        start = time.perf_counter()
        try:
            value = fn()
        except (redis.RedisError, OSError):
            metrics.CACHE_OP_DURATION.labels(op, "error").observe(time.perf_counter() - start)
            self.breaker.failure()
            return False, None
        # get: hit/miss; set: ok. Failures of either are "error".
        result = ("hit" if value is not None else "miss") if op == "get" else "ok"
        metrics.CACHE_OP_DURATION.labels(op, result).observe(time.perf_counter() - start)
        self.breaker.success()
        return True, value

    def read_through(self, key: str, build: Callable[[], Any]) -> CacheRead:
        """GET key; on a hit return it; on a miss build (from the DB) and SET with the TTL; if Redis
        fails, build and skip the SET. ``build`` returning None (not found) is never cached."""
        if not self.breaker.allow():
            metrics.CACHE_FALLBACKS.inc()
            return CacheRead(build(), "fallback")
        ok, raw = self._timed("get", lambda: self._redis.get(key))
        if ok and raw is not None:
            return CacheRead(json.loads(raw), "hit")
        value = build()
        if not ok:
            metrics.CACHE_FALLBACKS.inc()
            return CacheRead(value, "fallback")
        if value is not None:
            payload = json.dumps(value, separators=(",", ":"))
            self._timed("set", lambda: self._redis.set(key, payload, ex=self.ttl_s))
        return CacheRead(value, "miss")

    def up(self) -> bool:
        try:
            return bool(self._redis.ping())
        except (redis.RedisError, OSError):
            return False
