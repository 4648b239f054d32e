"""What one app worker holds: its database connections, cache client, provider clients and
breakers, built from the environment the supervisor sets (``PEAKDRILL_SHOP_APP_*``), so the same
app runs under ``peakdrill shop up`` or under any gunicorn command line.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from peakdrill.errors import ShopError
from peakdrill.shop import cs, db, procs, tracking
from peakdrill.shop.breaker import CircuitBreaker
from peakdrill.shop.cache import Cache
from peakdrill.shop.gateway import Gateway
from peakdrill.shop.outbound import Dependency

# Short, so a locked database answers 503 within ~2 s instead of piling requests up behind it.
WRITE_BUSY_TIMEOUT_MS = 2000


def env(name: str, default: str | None = None) -> str:
    value = os.environ.get(f"PEAKDRILL_SHOP_APP_{name}", default)
    if value is None:
        raise ShopError(f"PEAKDRILL_SHOP_APP_{name} is not set (fix: start the app with `peakdrill shop up`)")
    return value


@dataclass(frozen=True)
class Deps:
    connections: db.ThreadConnections
    cache: Cache
    gateway: Gateway
    courier: Dependency
    service: cs.CustomerService
    database_breaker: CircuitBreaker
    bot_admin_url: str
    max_in_flight: int  # per worker, queued + running; beyond it requests are shed with 429

    @classmethod
    def from_env(cls) -> "Deps":
        return cls(
            connections=db.ThreadConnections(env("DB"), busy_timeout_ms=WRITE_BUSY_TIMEOUT_MS),
            cache=Cache(env("REDIS_HOST", "127.0.0.1"), int(env("REDIS_PORT")), ttl_s=int(env("CACHE_TTL", "300"))),
            gateway=Gateway(env("PAYMENT_URL")),
            courier=Dependency("courier", env("COURIER_URL"), tracking.POLICY),
            service=cs.CustomerService(Dependency("bot", env("BOT_URL"), cs.BOT_POLICY)),
            database_breaker=CircuitBreaker("database", failures=3, reset_s=2.0),
            bot_admin_url=env("BOT_ADMIN_URL"),
            max_in_flight=int(env("MAX_IN_FLIGHT", "32")),
        )

    def queue_depths(self) -> dict[str, float]:
        """Human queue from the database; the bot's own queue from its admin API, left out when
        the bot does not answer within 0.3 s (a scrape must not hang on it)."""
        depths: dict[str, float] = {"human": cs.human_queue_depth(self.connections.get())}
        try:
            with procs.LOOPBACK_OPENER.open(self.bot_admin_url + "/admin/stats", timeout=0.3) as response:
                depths["bot"] = json.loads(response.read())["queued"]
        except (OSError, ValueError, KeyError):
            pass
        return depths
