"""Recovery after a fault: when do the SLOs hold again for a sustained window?

From the fault's removal on, each second is checked: the cache-read p99 of that second (merged over
the cache-read endpoints) is within ``slo.cache_read_p99_ms`` and the error ratio over all
endpoints is within ``1 - slo.order_success_rate`` (or ``slo.max_error_ratio`` when given).
A second without cache-read samples neither breaks nor extends a streak. The fault has recovered
at the start of the first streak of ``slo.recovery_window_s`` good seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

from peakdrill.report.rundata import RunData, Series
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


def second_ok(cache: Series, row: int, everything: Series, slo: dict) -> bool:
    """Whether the SLOs held in the second at ``cache.seconds[row]`` (a second with cache reads)."""
    if cache.p(99.0)[row] > float(slo["cache_read_p99_ms"]):
        return False
    at = everything.row(int(cache.seconds[row]))
    if at is not None and everything.count[at]:
        if everything.failures[at] / everything.count[at] > max_error_ratio(slo):
            return False
    return True


def measure_recovery(data: RunData, window: FaultWindow, cache: Series, everything: Series) -> Recovery:
    end_ts = data.last_data_ts
    if window.remove_ts is None:
        return Recovery(removed=False, recovered=False, recovery_s=None,
                        searched_s=max(0.0, end_ts - window.inject_ts), recovered_ts=None)
    removed = window.remove_ts
    needed = max(1, int(round(float(data.info.slo["recovery_window_s"]))))
    streak_start: int | None = None
    streak = 0
    for row, second in enumerate(cache.seconds.tolist()):
        if second + 1 <= removed or not cache.count[row]:
            continue
        if not second_ok(cache, row, everything, data.info.slo):
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
