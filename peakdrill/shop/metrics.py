"""Prometheus metrics of the shop, in multiprocess mode (one file set per gunicorn worker).

``PROMETHEUS_MULTIPROC_DIR`` must be set before prometheus_client is imported, which the
supervisor does in the workers' environment. Buckets are fine-grained at the low end because
the cache-backed read target is 50 ms: a 5 ms vs 50 ms difference must be visible.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client import multiprocess

BUCKETS = (0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1,
           0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 2.0, 5.0, 10.0)

HTTP_DURATION = Histogram("shop_http_request_duration_seconds", "HTTP request duration by route template",
                          ["route", "method", "status"], buckets=BUCKETS)
CACHE_OP_DURATION = Histogram("shop_cache_op_duration_seconds", "Redis cache operation duration",
                              ["op", "result"], buckets=BUCKETS)
CACHE_FALLBACKS = Counter("shop_cache_fallbacks_total", "Reads served from the database because the cache failed")
DB_OP_DURATION = Histogram("shop_db_op_duration_seconds", "Database operation duration", ["op"], buckets=BUCKETS)
ORDERS = Counter("shop_orders_total", "Order and payment outcomes", ["status"])
CHATS = Counter("shop_cs_chats_total", "Chats opened, by how they were first answered", ["status"])
CS_FIRST_RESPONSE = Histogram("shop_cs_first_response_seconds", "Time from opening a chat to its first reply",
                              ["by"], buckets=BUCKETS + (15.0, 30.0, 60.0, 120.0))
CS_ESCALATIONS = Counter("shop_cs_escalations_total", "Chats handed to the human queue", ["reason"])
OUTBOUND = Histogram("shop_outbound_duration_seconds", "Calls to providers (one sample per attempt)",
                     ["dependency", "result"], buckets=BUCKETS)
SHED = Counter("shop_shed_requests_total", "Requests refused with 429 because the worker was saturated", ["route"])
# liveall: one series per live worker (label pid), since each worker has its own breakers; a
# dead worker's breaker no longer matters. max() over pid is the shop's worst.
BREAKER_STATE = Gauge("shop_circuit_breaker_state", "Circuit breaker state per worker: 0 closed, 1 half-open, 2 open",
                      ["dependency"], multiprocess_mode="liveall")


class _QueueDepths:
    """Queue depths read at scrape time from their owners (the database, the bot), so they are
    exact whichever worker answers the scrape."""

    def __init__(self, read: Callable[[], dict[str, float]]) -> None:
        self._read = read

    def collect(self):
        family = GaugeMetricFamily("shop_queue_depth", "Items waiting in a queue", labels=["queue"])
        for queue, depth in self._read().items():
            family.add_metric([queue], depth)
        yield family


def render(queue_depths: Callable[[], dict[str, float]]) -> tuple[bytes, str]:
    """Aggregate every worker's metric files into one exposition (the /metrics body), plus the
    queue depths ``queue_depths`` reads now."""
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    registry.register(_QueueDepths(queue_depths))
    return generate_latest(registry), CONTENT_TYPE_LATEST
