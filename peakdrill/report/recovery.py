"""Recovery after a fault: when do the SLOs hold again for a sustained window?

From the fault's removal on, each second is checked: the cache-read p99 of that second (merged over
the cache-read endpoints) is within ``slo.cache_read_p99_ms`` and the error ratio over all
endpoints is within ``1 - slo.order_success_rate`` (or ``slo.max_error_ratio`` when given).
A second without cache-read samples neither breaks nor extends a streak. The fault has recovered
at the start of the first streak of ``slo.recovery_window_s`` good seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

from peakdrill.histograms import Bucket
from peakdrill.report.rundata import RunData
from peakdrill.report.windows import FaultWindow


@dataclass(frozen=True)
class Recovery:
    removed: bool
    recovered: bool
    recovery_s: float | None  # seconds from removal to the start of the sustained good window
    searched_s: float  # how long after removal the data goes on
    recovered_ts: float | None

    def text(self) -> str:
        if not self.removed:
            return "fault never removed"
        if not self.recovered:
            return f"not recovered within {self.searched_s:.0f} s"
        return f"{self.recovery_s:.1f} s"


def max_error_ratio(slo: dict) -> float:
    if "max_error_ratio" in slo:
        return float(slo["max_error_ratio"])
    return max(0.0, 1.0 - float(slo["order_success_rate"]))


def second_ok(cache: Bucket | None, everything: Bucket | None, slo: dict) -> bool | None:
    """True/False for a second with cache-read samples, None for a second without any."""
    if cache is None or cache.count == 0:
        return None
    if cache.percentile_ms(99) > float(slo["cache_read_p99_ms"]):
        return False
    if everything is not None and everything.count:
        if everything.failures / everything.count > max_error_ratio(slo):
            return False
    return True


def measure_recovery(data: RunData, window: FaultWindow, cache: dict[int, Bucket],
                     everything: dict[int, Bucket]) -> Recovery:
    end_ts = data.last_data_ts
    if window.remove_ts is None:
        return Recovery(removed=False, recovered=False, recovery_s=None,
                        searched_s=max(0.0, end_ts - window.inject_ts), recovered_ts=None)
    removed = window.remove_ts
    needed = max(1, int(round(float(data.info.slo["recovery_window_s"]))))
    streak_start: int | None = None
    streak = 0
    for second in sorted(s for s in cache if s + 1 > removed):
        ok = second_ok(cache.get(second), everything.get(second), data.info.slo)
        if ok is None:
            continue
        if not ok:
            streak_start, streak = None, 0
            continue
        if streak_start is None:
            streak_start = second
        streak += 1
        if streak >= needed:
            recovered_ts = max(float(streak_start), removed)
            return Recovery(removed=True, recovered=True, recovery_s=round(recovered_ts - removed, 2),
                            searched_s=max(0.0, end_ts - removed), recovered_ts=recovered_ts)
    return Recovery(removed=True, recovered=False, recovery_s=None,
                    searched_s=max(0.0, end_ts - removed), recovered_ts=None)
