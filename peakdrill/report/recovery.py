"""Recovery after a fault: when do the SLOs hold again for a sustained window?

From the fault's removal on, each second is checked against the run's recovery rules (the rules
with ``window: recovery``, see docs/slo.md; for the reference shop the cache-read p99 and the error
ratio of all requests). A second in which a rule's requests are absent neither breaks nor extends
a streak. The fault has recovered at the start of the first streak of ``recovery_window`` good
seconds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

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



def measure_recovery(data: RunData, window: FaultWindow, second_ok: Callable[[int], bool | None],
                     seconds: Iterable[int], window_s: float) -> Recovery:
    """``second_ok(s)``: True/False for a second the rules can judge, None for one they cannot;
    ``seconds``: the seconds that have data."""
    end_ts = data.last_data_ts
    if window.remove_ts is None:
        return Recovery(removed=False, recovered=False, recovery_s=None,
                        searched_s=max(0.0, end_ts - window.inject_ts), recovered_ts=None)
    removed = window.remove_ts
    needed = max(1, int(round(float(window_s))))
    streak_start: int | None = None
    streak = 0
    for second in sorted(s for s in seconds if s + 1 > removed):
        ok = second_ok(second)
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
