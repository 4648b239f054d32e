"""Presets: named rule sets written in the rule language.

``reference-shop`` is the embedded shop's targets (docs/shop.md): cache-backed read p99 over the
steady windows, order success rate and customer-service first response over the measured run,
and recovery judged second by second on the cache-read p99 and the error ratio of all requests.
Its rule ids and titles are those the report has always used, so runs scored before rules existed
read the same.
"""

from __future__ import annotations

from collections.abc import Mapping

from peakdrill.slo.model import (DUPLICATED, ERROR_RATIO, LATENCY, LOST, SUCCESS_RATIO, Bound, Metric, Rule,
                                 RuleSet)

REFERENCE_SHOP = "reference-shop"
# The shop's named groups: which request names carry each scored quantity.
REFERENCE_GROUPS = {"cache_read": ("GET /api/products/[id]",),
                    "order": ("POST /api/orders", "POST /api/orders/[id]/pay"),
                    "cs_first_response": ("CS first response",)}
REFERENCE_TARGETS = {"cache_read_p99_ms": 50.0, "order_success_rate": 0.98, "cs_first_response_s": 30.0,
                     "recovery_window_s": 10.0}


def reference_shop(targets: Mapping[str, float] = REFERENCE_TARGETS,
                   groups: Mapping[str, tuple[str, ...]] = REFERENCE_GROUPS) -> RuleSet:
    """The reference shop's rules with its targets (the keys of a drill's legacy ``slo:`` mapping)."""
    targets = dict(REFERENCE_TARGETS) | dict(targets)
    cache_ms, success = float(targets["cache_read_p99_ms"]), float(targets["order_success_rate"])
    max_errors = float(targets["max_error_ratio"]) if "max_error_ratio" in targets else max(0.0, 1.0 - success)
    rules = []
    if groups.get("cache_read"):
        rules.append(Rule("cache_read_p99", "Cache-backed read p99 (steady windows)", ("group:cache_read",),
                          Metric(LATENCY, 99.0), Bound("<=", cache_ms, "ms"), "steady"))
    if groups.get("order"):
        rules.append(Rule("order_success_rate", "Order success rate", ("group:order",), Metric(SUCCESS_RATIO),
                          Bound(">=", success, "%"), "whole"))
    if groups.get("cs_first_response"):
        rules.append(Rule("cs_first_response", "Customer-service first response p95", ("group:cs_first_response",),
                          Metric(LATENCY, 95.0), Bound("<=", float(targets["cs_first_response_s"]) * 1000, "s"), "whole"))
    if groups.get("cache_read"):
        # A second without cache reads neither breaks nor extends a recovery streak.
        rules += [Rule("recovery_cache_read_p99", "Cache-read p99 per second", ("group:cache_read",),
                       Metric(LATENCY, 99.0), Bound("<=", cache_ms, "ms"), "recovery"),
                  Rule("recovery_error_ratio", "Error ratio per second", ("*",), Metric(ERROR_RATIO),
                       Bound("<=", max_errors, "%"), "recovery")]
    # The groups themselves are the run's (run.json "endpoints"), so a shop with other paths keeps these rules.
    return RuleSet(rules=tuple(rules), groups={}, recovery_window_s=float(targets["recovery_window_s"]))


# The design's data-integrity target: every acknowledged record stored, none stored twice.
INTEGRITY_RULES = (Rule("integrity_lost", "Acknowledged records lost", ("*",), Metric(LOST), Bound("==", 0.0, ""), "whole"),
                   Rule("integrity_duplicated", "Records stored or charged twice", ("*",), Metric(DUPLICATED),
                        Bound("==", 0.0, ""), "whole"))


def with_integrity(ruleset: RuleSet, integrity: object | None) -> RuleSet:
    """A run that reconciles is judged on it: ``lost == 0`` and ``duplicated == 0`` over every kind,
    unless the rules already say something about integrity."""
    if integrity is None or any(rule.metric.integrity for rule in ruleset.rules):
        return ruleset
    return RuleSet(rules=ruleset.rules + INTEGRITY_RULES, groups=ruleset.groups,
                   recovery_window_s=ruleset.recovery_window_s)


PRESETS = {REFERENCE_SHOP: reference_shop}


def preset(name: str) -> RuleSet:
    return PRESETS[name]()
