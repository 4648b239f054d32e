"""SLO figures over a window, from two scrapes of the target's Prometheus ``/metrics``.

The shop's request histogram is cumulative; the difference of two scrapes is exactly the
requests served between them, so the error ratio and p99 here are for that window only (not
since the shop started), and merge correctly across the workers the shop aggregates.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

from prometheus_client.parser import text_string_to_metric_families

from peakdrill.chaos import args, client
from peakdrill.chaos.target import target
from peakdrill.errors import ChaosError

__all__ = ["Scrape", "scrape", "figures", "slo_over_window", "validate_slo_over_window"]

REQUESTS = "shop_http_request_duration_seconds"
SHED_STATUS = "429"


@dataclass(slots=True, frozen=True)
class Scrape:
    # (route, status) -> {upper bound in s: cumulative count}
    buckets: dict[tuple[str, str], dict[float, float]]


@dataclass(slots=True, frozen=True)
class Figures:
    requests: int
    errors: int  # 5xx: 429 sheds load on purpose and is counted apart
    shed: int
    error_ratio: float
    p99_ms: float | None  # upper bound of the bucket holding the 99th percentile; None without requests

    def to_dict(self) -> dict:
        return asdict(self)


def scrape(base: client.Target, timeout: float = 5.0) -> Scrape:
    reply = base.call("GET", "/metrics", timeout=timeout)
    if reply.status != 200 or not isinstance(reply.body, str):
        raise ChaosError(f"{base.url}/metrics answered {reply.status or 'nothing'} (fix: is the shop up? `peakdrill shop up`)")
    # Only our family's lines are parsed: a malformed line of another metric must not blind the probe.
    ours = "\n".join(line for line in reply.body.splitlines() if REQUESTS in line) + "\n"
    buckets: dict[tuple[str, str], dict[float, float]] = {}
    for family in text_string_to_metric_families(ours):
        if family.name != REQUESTS:
            continue
        for sample in family.samples:
            if sample.name.endswith("_bucket"):
                key = (sample.labels.get("route", ""), sample.labels.get("status", ""))
                le = float(sample.labels["le"])
                series = buckets.setdefault(key, {})
                series[le] = series.get(le, 0.0) + sample.value
    return Scrape(buckets)


def figures(before: Scrape, after: Scrape, route: str = "") -> Figures:
    """What was served between two scrapes (on ``route`` only, if given)."""
    merged: dict[float, float] = {}
    errors = shed = 0.0
    for (rt, status), series in after.buckets.items():
        if route and rt != route:
            continue
        old = before.buckets.get((rt, status), {})
        count = series.get(float("inf"), 0.0) - old.get(float("inf"), 0.0)
        errors += count if status.startswith("5") else 0.0
        shed += count if status == SHED_STATUS else 0.0
        for le, value in series.items():
            merged[le] = merged.get(le, 0.0) + value - old.get(le, 0.0)
    total = merged.get(float("inf"), 0.0)
    p99 = next((le for le in sorted(merged) if merged[le] >= 0.99 * total), None) if total else None
    return Figures(requests=int(total), errors=int(errors), shed=int(shed),
                   error_ratio=round(errors / total, 4) if total else 0.0,
                   p99_ms=None if p99 is None else (p99 * 1000 if p99 != float("inf") else float("inf")))


def validate_slo_over_window(shop_dir: str = ".peakdrill/shop", window_s: float = 5, route: str = "", url: str = "") -> None:
    args.duration(window_s, "window_s")


def slo_over_window(shop_dir: str = ".peakdrill/shop", window_s: float = 5, route: str = "", url: str = "",
                    configuration: dict | None = None) -> dict:
    """Requests, 5xx error ratio, 429s and p99 (ms) the shop served over the next ``window_s`` s
    (``url``: a shop other than the embedded one)."""
    validate_slo_over_window(shop_dir, window_s, route, url)
    base = target(shop_dir, url, configuration)
    before = scrape(base)
    time.sleep(float(window_s))
    return figures(before, scrape(base), route).to_dict() | {"window_s": float(window_s)}
