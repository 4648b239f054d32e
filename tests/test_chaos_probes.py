"""The SLO probe reads what the shop really served in its window, from two scrapes of /metrics."""

from __future__ import annotations

from peakdrill.chaos import client, slo
from peakdrill.safety import LOOPBACK_HOSTS, Allowlist

ROUTE = "/api/products/<id>"


def test_the_figures_count_exactly_the_requests_served_between_two_scrapes(shop):
    target = client.Target(shop.url, Allowlist(LOOPBACK_HOSTS))
    for product in range(1, 6):  # before the window: must not be counted
        target.call("GET", f"/api/products/{product}")
    before = slo.scrape(target)
    statuses = [target.call("GET", f"/api/products/{index % 20 + 1}").status for index in range(30)]
    statuses.append(target.call("GET", "/api/no-such-route").status)
    figures = slo.figures(before, slo.scrape(target), route=ROUTE)
    assert statuses == [200] * 30 + [404]
    assert figures.requests == 30 and figures.errors == 0 and figures.error_ratio == 0.0  # the 404 went to "unmatched"
    assert figures.p99_ms is not None and figures.p99_ms > 0


def test_slo_over_window_of_an_idle_route_has_no_requests_and_no_p99(shop):
    idle = slo.slo_over_window(shop.shop_dir, window_s=1, route="/api/cs/chats/<id>/close")
    assert idle["requests"] == 0 and idle["error_ratio"] == 0.0 and idle["p99_ms"] is None
