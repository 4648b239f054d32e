"""Can the run's own measurement be trusted? Run status, load-generator saturation, an open-model
generator that fell behind its intended rate, and requests the egress guard refused."""

from __future__ import annotations

from collections import defaultdict

from peakdrill.report.rundata import SATURATED_CPU_PERCENT, RunData
from peakdrill.rundir.records import SATURATED_SECONDS
from peakdrill.report.windows import describe_seconds, is_measured, spans
from peakdrill.safety import REFUSED_PREFIX


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
    hot = {source: {s for s in seconds if is_measured(data, s)} for source, seconds in data.health.hot_seconds.items()}
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
    return dict(data.health.max_cpu)


BEHIND_WINDOW_S = 5
BEHIND_TOLERANCE = 0.10


def _windows(samples: list[tuple[float, float, float]]) -> list[list]:
    """5-sample windows that never straddle a change of intended rate (a stage boundary); a window cut
    short by the end of a stage or of the run is judged when it holds at least 3 samples.
    A sample is (ts, intended, achieved)."""
    windows: list[list] = []
    for index, sample in enumerate(samples):
        if index == 0 or sample[1] != samples[index - 1][1] or len(windows[-1]) == BEHIND_WINDOW_S:
            windows.append([])
        windows[-1].append(sample)
    return [window for window in windows if len(window) >= 3]


def behind_seconds(data: RunData) -> dict[str, tuple[list[int], float, float]]:
    """Per open-model load process, the measured seconds in windows that started fewer than 90% of the
    intended requests, with the achieved and intended requests/s over those seconds."""
    samples = {source: [s for s in rates if is_measured(data, int(s[0]))] for source, rates in data.health.rates.items()}
    result = {}
    for source in sorted(samples):
        behind, achieved, intended = [], 0.0, 0.0
        for window in _windows(samples[source]):
            wanted, got = sum(s[1] for s in window), sum(s[2] for s in window)
            if wanted > 0 and got < (1 - BEHIND_TOLERANCE) * wanted:
                behind.extend(int(s[0]) for s in window)
                achieved, intended = achieved + got, intended + wanted
        if behind:
            result[source] = (behind, achieved / len(behind), intended / len(behind))
    return result


def behind_reasons(data: RunData) -> list[str]:
    """One reason per load process that fell behind the open model's intended rate."""
    return [f"load generator fell behind the intended rate: {source} started {achieved:.1f} of {intended:.1f} "
            f"intended req/s for {len(seconds)} s ({describe_seconds(data, seconds)}), so the target was not under the "
            f"profile's load; add users (the stage's pool) or load processes, or lower the scale"
            for source, (seconds, achieved, intended) in behind_seconds(data).items()]


def refused_requests(data: RunData) -> dict[str, int]:
    """Requests the load processes' egress guard refused, per refused host (see peakdrill/loadgen/egress.py)."""
    refused: dict[str, int] = defaultdict(int)
    for name, bucket in data.endpoint_totals.items():
        if REFUSED_PREFIX in name:
            refused[name.split(REFUSED_PREFIX, 1)[1]] += bucket.count
    return dict(sorted(refused.items()))


def refused_reasons(data: RunData) -> list[str]:
    """A run whose users tried to reach a host outside the allowlist did not test what it says."""
    refused = refused_requests(data)
    if not refused:
        return []
    hosts = ", ".join(f"{host} ({count:,})" for host, count in refused.items())
    return [f"requests refused by the allowlist: {sum(refused.values()):,} (to {hosts}); the locustfile or a redirect "
            f"of the target sent load to a host the run does not allow, so the load was not the profile's; fix the "
            f"locustfile, or allow the host with --allow-host / target.allowed_hosts if it is yours to test"]
