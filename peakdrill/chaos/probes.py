"""Probes: live facts about the target, for steady-state hypotheses and checks during a fault."""

from __future__ import annotations

import time

from peakdrill.chaos.target import target
from peakdrill.histograms import Bucket

__all__ = ["shop_healthy", "product_read_latency_ms", "product_read_sources"]


def shop_healthy(shop_dir: str = ".peakdrill/shop", configuration: dict | None = None) -> bool:
    """True when the shop answers its health check with 200."""
    return target(shop_dir, configuration=configuration).call("GET", "/healthz").status == 200


def product_read_latency_ms(shop_dir: str = ".peakdrill/shop", samples: int = 20, percentile: float = 95.0,
                            product_ids: str = "1,2,3,4,5", configuration: dict | None = None) -> float:
    """Percentile of ``samples`` cache-backed product reads made now (ms); failed reads count as 60 s."""
    shop = target(shop_dir, configuration=configuration)
    ids = [part.strip() for part in str(product_ids).split(",") if part.strip()]
    bucket = Bucket()
    for index in range(int(samples)):
        started = time.perf_counter()
        status = shop.call("GET", f"/api/products/{ids[index % len(ids)]}").status
        elapsed_ms = (time.perf_counter() - started) * 1000
        bucket.record(elapsed_ms if status == 200 else 60_000.0, status != 200)
    return round(bucket.percentile_ms(float(percentile)), 2)


def product_read_sources(shop_dir: str = ".peakdrill/shop", samples: int = 10,
                         configuration: dict | None = None) -> dict[str, int]:
    """How product reads are being served right now: counts of HTTP status and X-Cache source."""
    shop = target(shop_dir, configuration=configuration)
    seen: dict[str, int] = {}
    for index in range(int(samples)):
        reply = shop.call("GET", f"/api/products/{index % 5 + 1}")
        key = f"{reply.status} {reply.headers.get('X-Cache', '-')}"
        seen[key] = seen.get(key, 0) + 1
    return seen
