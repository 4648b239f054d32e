"""Scrapes the target's Prometheus ``/metrics`` into the run directory every few seconds.

Each scrape is stored cut down to the samples the report reads
(:data:`peakdrill.report.servermetrics.KEPT_SAMPLES`, still in Prometheus text format), so an hour
of scraping stays well under a megabyte; a failed scrape is stored as such, so a gap in the
server's view is visible, not silent. Each scrape goes through the chaos provider's guarded client:
a redirect off the run's allowlist is refused, not followed.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from peakdrill.chaos.client import Target
from peakdrill.errors import EgressRefusedError
from peakdrill.report.servermetrics import keep_used
from peakdrill.rundir import SERVER_METRICS_FILE


class MetricsScraper(threading.Thread):
    def __init__(self, target: Target, run_dir: Path, interval_s: float = 2.0) -> None:
        super().__init__(name="metrics-scraper", daemon=True)
        self.target = target
        self.url = target.url + "/metrics"
        self.path = run_dir / SERVER_METRICS_FILE
        self.interval_s = interval_s
        self._halt = threading.Event()

    def scrape_once(self) -> None:
        record: dict = {"ts": round(time.time(), 3), "url": self.url}
        try:
            reply = self.target.call("GET", "/metrics", timeout=self.interval_s)
        except EgressRefusedError as exc:
            record.update(ok=False, error=str(exc))
        else:
            if reply.status == 200 and isinstance(reply.body, str):
                record.update(ok=True, text=keep_used(reply.body))
            else:
                record.update(ok=False, error=f"HTTP {reply.status}" if reply.status else
                              ("timed out" if reply.timed_out else "no answer"))
        with self.path.open("a", encoding="utf-8") as out:
            out.write(json.dumps(record) + "\n")

    def run(self) -> None:
        while not self._halt.is_set():
            self.scrape_once()
            self._halt.wait(self.interval_s)

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=self.interval_s + 5)
