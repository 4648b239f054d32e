"""A progress bar for the drill's timeline on a terminal (rich), under the usual progress lines.

Only on a terminal: in CI logs the plain ``[t=...]`` lines stay the whole output. rich redirects
what the runner prints while the bar is shown, so those lines scroll above it.
"""

from __future__ import annotations

import sys
import threading
import time

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from peakdrill.live.feed import LiveFeed, Snapshot


def wanted() -> bool:
    return sys.stdout.isatty()


def describe(snap: Snapshot) -> str:
    if snap.load_start_ts is None:
        return "starting the load"
    parts = [snap.stage or "starting", f"{snap.users} users"]
    active = [f.fault for f in snap.faults if f.end_ts is None]
    if active:
        parts.append("FAULT " + ", ".join(active))
    if snap.aborting:
        parts.append("STOPPING (rollbacks)")
    return " | ".join(parts)


class TimelineBar(threading.Thread):
    def __init__(self, feed: LiveFeed) -> None:
        super().__init__(name="live-progress", daemon=True)
        self.feed = feed
        self._halt = threading.Event()
        self._progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                                  TextColumn("{task.completed:.0f}/{task.total:.0f}s"), TimeElapsedColumn(),
                                  console=Console(file=sys.stdout), refresh_per_second=2)

    def run(self) -> None:
        with self._progress:
            task = self._progress.add_task("starting the load", total=1.0)
            while not self._halt.wait(1.0):
                snap, now = self.feed.snapshot, time.time()
                done = 0.0 if snap.load_start_ts is None else min(now - snap.load_start_ts, snap.load_duration_s)
                self._progress.update(task, description=describe(snap), completed=max(done, 0.0),
                                      total=max(snap.load_duration_s, 1.0))

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=5)
