"""The live views watching a run directory, as a drill's runner serves them, with their viewers:
a Prometheus scraping /metrics every second and a browser loading the live page every 3 seconds.

    python bench/live_watcher.py RUN_DIR SECONDS

Used by ``bench/harness_vs_bare.py --live`` on the generator's own core: the worst place for it.
Writes the run.json a runner would (a plain Locust run writes none), then watches until SECONDS.
"""

from __future__ import annotations

import sys
import time
import urllib.request
from pathlib import Path

from peakdrill.live.exporter import MetricsServer
from peakdrill.live.feed import LiveFeed
from peakdrill.live.web import LivePage, LiveWebServer
from peakdrill.rundir import FORMAT_VERSION, RunDir
from peakdrill.slo.parse import parse_section


def main() -> None:
    run_dir, seconds = Path(sys.argv[1]), float(sys.argv[2])
    run_dir.mkdir(parents=True, exist_ok=True)
    run, start = RunDir(run_dir), time.time()
    run.write_meta({"format": FORMAT_VERSION, "run_id": run_dir.name, "kind": "load", "profile": {"name": "bench"},
                    "start_ts": start, "load_start_ts": start, "status": "running",
                    "stages": [{"name": "bench", "start_s": 0, "end_s": seconds, "users": 50, "measured": True}]})
    rules = parse_section({"rules": [{"name": "fast", "requests": "*", "metric": "p95", "bound": "< 50ms"}]}, "bench")
    feed = LiveFeed(run, rules, {}, "bench")
    feed.start()
    metrics = MetricsServer(lambda: feed.snapshot, rules, "127.0.0.1", 0)
    web = LiveWebServer(LivePage(lambda: run_dir, lambda: "bench"), lambda: False, "127.0.0.1", 0)
    try:
        tick = 0
        while time.time() - start < seconds:
            urllib.request.urlopen(metrics.url, timeout=5).read()
            if tick % 3 == 0:
                urllib.request.urlopen(web.url, timeout=30).read()
            tick += 1
            time.sleep(1.0)
    finally:
        web.close()
        metrics.close()
        feed.stop()


if __name__ == "__main__":
    main()
