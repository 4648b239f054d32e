"""The target's own cache metric (``shop_cache_op_duration_seconds``) from server-metrics.jsonl.

Scrapes hold cumulative Prometheus counters; this turns them into operations per second per label
set (e.g. ``get/hit``, ``get/error``) between consecutive good scrapes. Anything unparsable is
skipped: the server-side view is shown beside the client-side verdicts, never scored.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from peakdrill.report.rundata import RunData

CACHE_METRIC = "shop_cache_op_duration_seconds"
# What the scraper keeps of each scrape (docs/run-directory.md#server-metricsjsonl): the samples the
# report reads, nothing else.
KEPT_SAMPLES = (f"{CACHE_METRIC}_count", f"{CACHE_METRIC}_sum")


_SAMPLE = re.compile(r'^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>[^}]*)\})?\s+(?P<value>\S+)')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"')


def cache_counts(text: str) -> dict[str, tuple[float, float]]:
    """label set -> (count, sum) of the cache metric in one scrape (Prometheus text format; only its
    ``_count`` and ``_sum`` lines are read, so a verbatim page of format 1 costs no more than a kept one)."""
    result: dict[str, list[float]] = {}
    for line in text.splitlines():
        if not line.startswith(KEPT_SAMPLES):
            continue
        match = _SAMPLE.match(line)
        if match is None or match["name"] not in KEPT_SAMPLES:
            continue
        try:
            value = float(match["value"])
        except ValueError:
            continue  # a malformed sample is just a gap
        labels = "/".join(v for k, v in sorted(_LABEL.findall(match["labels"] or "")) if k != "le") or "all"
        result.setdefault(labels, [0.0, 0.0])[0 if match["name"].endswith("_count") else 1] += value
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
