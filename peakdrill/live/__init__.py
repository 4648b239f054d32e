"""Watching a run live: Prometheus metrics, the live report page, the terminal progress bar.

The runner knows nothing of these: it calls :meth:`LiveViews.start` once the run directory
exists and :meth:`LiveViews.finish` when the run has ended; everything shown is tailed from the
run directory by one :class:`~peakdrill.live.feed.LiveFeed`. The servers are bound before the run
starts (a port in use is a usage error, not a failed run) and closed by the command after the
report is written, so the last scrape and the last page show the final figures.
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass
from pathlib import Path

from peakdrill.live.feed import LiveFeed, Snapshot

__all__ = ["LiveOptions", "LiveViews"]


@dataclass(frozen=True, slots=True)
class LiveOptions:
    metrics_port: int | None = None  # None: no metrics endpoint
    metrics_host: str = "127.0.0.1"
    web_port: int | None = None  # None: no live page
    web_host: str = "127.0.0.1"
    progress_bar: bool = False

    @property
    def anything(self) -> bool:
        return self.metrics_port is not None or self.web_port is not None or self.progress_bar


class LiveViews:
    def __init__(self, options: LiveOptions, plan) -> None:
        self.options, self.plan = options, plan
        self.feed: LiveFeed | None = None
        self.metrics = self.web = self.bar = None
        self._running = False
        if options.metrics_port is not None:
            from peakdrill.live.exporter import MetricsServer

            self.metrics = MetricsServer(self.snapshot, plan.ruleset, options.metrics_host, options.metrics_port)
            print(f"peakdrill: Prometheus metrics on {self.metrics.url}", flush=True)
        if options.web_port is not None:
            from peakdrill.live.web import LivePage, LiveWebServer

            page = LivePage(self.run_dir, self.status)
            self.web = LiveWebServer(page, self.request_stop, options.web_host, options.web_port)
            print(f"peakdrill: live report on {self.web.url} (stop token: {self.web.token})", flush=True)

    def snapshot(self) -> Snapshot:
        return self.feed.snapshot if self.feed is not None else Snapshot()

    def run_dir(self) -> Path | None:
        return self.feed.rundir.path if self.feed is not None else None

    def status(self) -> str:
        snap = self.snapshot()
        if snap.finished:
            return "the run has ended; this is its final report"
        if snap.aborting:
            return "stopping: rollbacks playing, then the load stops"
        active = [f.fault for f in snap.faults if f.end_ts is None]
        return f"stage {snap.stage or 'starting'} · {snap.users} users" + (f" · FAULT {', '.join(active)}" if active else "")

    def request_stop(self) -> bool:
        """The live page's stop: exactly what Ctrl-C does (the runner and chaoslib handle SIGINT).
        Only while the run runs: a SIGINT while the report is written would cut the report short."""
        if not self._running:
            return False
        os.kill(os.getpid(), signal.SIGINT)
        return True

    def start(self, run, bus) -> None:
        """Called by the runner once the run directory exists (``bus`` is the run's event bus)."""
        self.feed = LiveFeed(run, self.plan.ruleset, self.plan.drill.endpoints.model_dump(), self.plan.drill.name)
        bus.subscribe(self.feed.on_event)
        self.feed.poll()
        self.feed.start()
        if self.options.progress_bar:
            from peakdrill.live.progress import TimelineBar

            self.bar = TimelineBar(self.feed)
            self.bar.start()
        self._running = True

    def finish(self) -> None:
        """The run has ended: one last read of the run directory; the servers keep answering."""
        self._running = False
        if self.bar is not None:
            self.bar.stop()
        if self.feed is not None:
            self.feed.stop()

    def close(self) -> None:
        for server in (self.metrics, self.web):
            if server is not None:
                server.close()
