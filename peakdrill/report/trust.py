"""Can the run's own measurement be trusted? Run status and load-generator saturation."""

from __future__ import annotations

from collections import defaultdict

from peakdrill.report.rundata import RunData
from peakdrill.report.windows import describe_seconds, is_measured, spans

SATURATED_CPU_PERCENT = 90.0
SATURATED_SECONDS = 3


def status_reason(data: RunData) -> str:
    """Why a run that did not complete cannot be trusted, naming where its data stops."""
    status = data.info.status
    end_ts = data.info.end_ts if data.info.end_ts is not None else data.last_data_ts
    at = f"t={data.t(end_ts):.0f}s"
    if status == "interrupted":
        return f"run interrupted at {at}: data up to then kept"
    if status == "aborted":
        aborts = [e for e in data.events if e.type == "abort"]
        why = f" ({aborts[-1].get('reason')})" if aborts and aborts[-1].get("reason") else ""
        return f"run aborted at {at}{why}: data up to then kept"
    if status == "failed":
        return f"run failed at {at} (the runner hit an error): data up to then kept"
    if status == "running":
        return f"run crashed at {at} (run.json still says 'running'): data up to then kept"
    return f"run status is '{status}', not 'completed': data up to {at} kept"


def saturated_seconds(data: RunData) -> dict[str, list[int]]:
    """Per load process, the measured seconds in runs of >= 3 consecutive seconds at >= 90% CPU."""
    hot: dict[str, set[int]] = defaultdict(set)
    for sample in data.generator:
        second = int(sample.ts)
        if sample.cpu_percent >= SATURATED_CPU_PERCENT and is_measured(data, second):
            hot[sample.source].add(second)
    result = {}
    for source in sorted(hot):
        runs = [(a, b) for a, b in spans(sorted(hot[source])) if b - a >= SATURATED_SECONDS]
        if runs:
            result[source] = [s for a, b in runs for s in range(a, b)]
    return result


def saturation_reasons(data: RunData) -> list[str]:
    """One reason per load process that saturated, naming it and the seconds."""
    reasons = []
    for source, seconds in saturated_seconds(data).items():
        if seconds:
            reasons.append(f"load generator saturated: {source} at >= {SATURATED_CPU_PERCENT:g}% CPU for "
                           f"{len(seconds)} s ({describe_seconds(data, seconds)}), so its latencies include "
                           f"its own queueing; add load processes or lower the scale")
    return reasons


def generator_max_cpu(data: RunData) -> dict[str, float]:
    result: dict[str, float] = {}
    for sample in data.generator:
        result[sample.source] = max(result.get(sample.source, 0.0), round(sample.cpu_percent, 1))
    return dict(sorted(result.items()))
