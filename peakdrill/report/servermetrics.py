"""The target's own cache metric (``shop_cache_op_duration_seconds``) from server-metrics.jsonl.

Scrapes hold cumulative Prometheus counters; this turns them into operations per second per label
set (e.g. ``get/hit``, ``get/error``) between consecutive good scrapes. Anything unparsable is
skipped: the server-side view is shown beside the client-side verdicts, never scored.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from prometheus_client.parser import text_string_to_metric_families

if TYPE_CHECKING:
    from peakdrill.report.rundata import RunData

CACHE_METRIC = "shop_cache_op_duration_seconds"
# What the scraper keeps of each scrape (docs/run-directory.md#server-metricsjsonl): the samples the
# report reads, nothing else.
KEPT_SAMPLES = (f"{CACHE_METRIC}_count", f"{CACHE_METRIC}_sum")


def cache_counts(text: str) -> dict[str, tuple[float, float]]:
    """label set -> (count, sum) of the cache metric in one scrape."""
    result: dict[str, list[float]] = {}
    try:
        families = list(text_string_to_metric_families(text))
    except Exception:  # noqa: BLE001 - a malformed scrape is just a gap
        return {}
    for family in families:
        if family.name != CACHE_METRIC:
            continue
        for sample in family.samples:
            labels = "/".join(v for k, v in sorted(sample.labels.items()) if k != "le") or "all"
            if sample.name.endswith("_count"):
                result.setdefault(labels, [0.0, 0.0])[0] += sample.value
            elif sample.name.endswith("_sum"):
                result.setdefault(labels, [0.0, 0.0])[1] += sample.value
    return {k: (v[0], v[1]) for k, v in result.items()}


def keep_used(text: str) -> str:
    """A scrape cut down to the samples the report uses (and their TYPE lines, so it still parses)."""
    kept = []
    for line in text.splitlines():
        if line.startswith(KEPT_SAMPLES) or line.startswith(f"# TYPE {CACHE_METRIC} "):
            kept.append(line)
    return "\n".join(kept) + "\n" if kept else ""


def cache_metrics(data: RunData) -> dict | None:
    """Chart series and a summary table, or None when no scrape has the metric."""
    scrapes = data.scrapes
    parsed = [(s.ts, s.counts if s.ok else None) for s in scrapes]
    labels = sorted({label for _, counts in parsed if counts for label in counts})
    if not labels:
        return None
    t_values: list[float] = []
    series: dict[str, list[float | None]] = {label: [] for label in labels}
    totals = {label: [0.0, 0.0] for label in labels}
    previous: tuple[float, dict] | None = None
    for ts, counts in parsed:
        if counts is None:
            t_values.append(round(data.t(ts), 2))
            for label in labels:
                series[label].append(None)
            continue
        if previous is not None and ts > previous[0]:
            t_values.append(round(data.t(ts), 2))
            for label in labels:
                now, before = counts.get(label, (0.0, 0.0)), previous[1].get(label, (0.0, 0.0))
                delta_n = now[0] - before[0] if now[0] >= before[0] else now[0]  # counter reset
                delta_s = now[1] - before[1] if now[1] >= before[1] else now[1]
                series[label].append(round(delta_n / (ts - previous[0]), 2))
                totals[label][0] += delta_n
                totals[label][1] += delta_s
        previous = (ts, counts)
    table = [{"labels": label, "ops": int(n), "mean_ms": round(s / n * 1000, 3) if n else None}
             for label, (n, s) in totals.items()]
    failed = sum(1 for s in scrapes if not s.ok)
    return {"t": t_values, "series": series, "table": table, "scrapes": len(scrapes), "failed_scrapes": failed}
