"""Scrapes the target's Prometheus ``/metrics`` into the run directory every few seconds.

Each scrape is stored cut down to the samples the report reads
(:data:`peakdrill.report.servermetrics.KEPT_SAMPLES`, still in Prometheus text format), so an hour
of scraping stays well under a megabyte; a failed scrape is stored as such, so a gap in the
server's view is visible, not silent.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from peakdrill.report.servermetrics import keep_used
from peakdrill.rundir import SERVER_METRICS_FILE


class MetricsScraper(threading.Thread):
    def __init__(self, url: str, run_dir: Path, interval_s: float = 2.0) -> None:
        super().__init__(name="metrics-scraper", daemon=True)
        self.url = url
        self.path = run_dir / SERVER_METRICS_FILE
        self.interval_s = interval_s
        self._halt = threading.Event()

    def scrape_once(self) -> None:
        record: dict = {"ts": round(time.time(), 3), "url": self.url}
        try:
            with urllib.request.urlopen(self.url, timeout=self.interval_s) as resp:
                record.update(ok=True, text=keep_used(resp.read().decode("utf-8", errors="replace")))
        except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
            record.update(ok=False, error=str(exc))
        with self.path.open("a", encoding="utf-8") as out:
            out.write(json.dumps(record) + "\n")

    def run(self) -> None:
        while not self._halt.is_set():
            self.scrape_once()
            self._halt.wait(self.interval_s)

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=self.interval_s + 5)
