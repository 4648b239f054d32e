"""Watching a drill live, on one real drill against the reference shop: Debian's Prometheus scrapes
its metrics, headless Chromium watches its live page and presses "stop the drill" with the token.

The drill has two cache outages: the first runs its whole course (Prometheus must see it exactly
while it lasts); the stop is pressed during the second (its rollback must play).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from browser import DevTools
from drillkit import ROOT, read_events, wait_for_event
from promkit import Prometheus, free_port
from peakdrill.rundir.histfiles import iter_records
from peakdrill.shop import supervisor
from peakdrill.shop.state import load_state

pytestmark = [pytest.mark.slow, pytest.mark.browser]

CHARTS = """JSON.stringify(Array.from(document.querySelectorAll('svg[data-chart]')).map(function (s) {
  return {name: s.getAttribute('data-chart'), drawn: s.getAttribute('data-drawn') === 'true',
          points: +(s.getAttribute('data-points') || 0), bands: s.querySelectorAll('g.band').length}; }))"""


def write_two_fault_drill(tmp_path: Path, shop_dir: str) -> Path:
    (tmp_path / "profile.yaml").write_text("""\
name: live
think_time: {min: 0.2s, max: 0.6s}
stages:
  - {name: warm-up, duration: 4s, users: 4, spawn_rate: 4, measured: false}
  - {name: steady, duration: 60s, users: 10, spawn_rate: 10}
""")
    drill = tmp_path / "drill.yaml"
    outage = f"{ROOT}/experiments/cache-outage.yaml"
    drill.write_text(f"""\
name: live
target: {{shop_dir: {shop_dir}}}
load: {{profile: profile.yaml, locustfile: {ROOT}/loadtests/locustfile.py}}
timeline:
  - {{at: 15s, experiment: {outage}, vars: {{outage_duration: 6}}, recovery_target: 20s}}
  - {{at: 30s, experiment: {outage}, vars: {{outage_duration: 40}}, recovery_target: 20s}}
""")
    return drill


@dataclass
class LiveDrill:
    returncode: int
    output: str
    run_dir: Path
    prometheus: Prometheus
    charts_before_fault: list[dict]
    charts_in_fault: list[dict]
    wrong_token_status: int
    get_stop_status: int
    stop_message: str
    token: str
    lines: list[str] = field(default_factory=list)


class Lines(threading.Thread):
    def __init__(self, stream) -> None:
        super().__init__(daemon=True)
        self.stream, self.lines = stream, []

    def run(self) -> None:
        for line in self.stream:
            self.lines.append(line)

    def wait_for(self, pattern: str, timeout: float) -> re.Match:
        deadline = time.time() + timeout
        while time.time() < deadline:
            for line in list(self.lines):
                if found := re.search(pattern, line):
                    return found
            time.sleep(0.2)
        raise AssertionError(f"no line matching {pattern!r} in {timeout}s:\n{''.join(self.lines)}")


def _charts(page: DevTools, until, timeout: float) -> list[dict]:
    """Poll the page (it reloads itself every few seconds) until ``until(charts)`` holds."""
    deadline, charts = time.time() + timeout, []
    while time.time() < deadline:
        try:
            charts = json.loads(page.evaluate(CHARTS) or "[]")
        except AssertionError:  # the page was reloading
            charts = []
        if charts and until(charts):
            return charts
        time.sleep(0.5)
    raise AssertionError(f"the live page never showed what was expected; last seen: {charts}")


PRESS_STOP = """(function (token) {
  var field = document.getElementById('stop-token'), button = document.getElementById('stop-button');
  if (!field || !button) { return false; }
  field.value = token; button.click(); return true; })(%s)"""


def _press_stop(page: DevTools, token: str) -> str:
    """Type the token and press the button as a person would; the page may be reloading itself, so
    retry until the answer page is shown. Returns its message."""
    deadline, message = time.time() + 30, ""
    while time.time() < deadline:
        try:
            if page.evaluate(PRESS_STOP % json.dumps(token)):
                time.sleep(1.0)
            message = page.evaluate("(document.getElementById('live-message') || {}).textContent || ''")
        except AssertionError:  # the page was between two documents
            message = ""
        if message:
            return message
        time.sleep(0.5)
    raise AssertionError("the stop button never answered")


def _status(request: urllib.request.Request) -> int:
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.fixture(scope="module")
def live_drill(shop, tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("live")
    drill = write_two_fault_drill(tmp_path, shop.shop_dir)
    reports, metrics_port = tmp_path / "reports", free_port()
    prometheus = Prometheus(tmp_path / "prometheus", metrics_port)
    process = page = None
    try:
        process = subprocess.Popen([sys.executable, "-m", "peakdrill.cli", "drill", str(drill), "--reports-dir", str(reports),
                                    "--metrics-port", str(metrics_port), "--web"],
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        lines = Lines(process.stdout)
        lines.start()
        url, token = lines.wait_for(r"live report on (\S+) \(stop token: (\S+)\)", timeout=30).groups()
        page = DevTools(tmp_path)
        page.open(url)
        before = _charts(page, lambda charts: all(c["drawn"] and c["points"] > 0 for c in charts), timeout=40)
        seen_at = time.time()
        run_dir, injected = wait_for_event(reports, "fault_injected", timeout=60)
        assert seen_at < injected["ts"], "the charts were not drawn before the first fault"
        assert not any(c["bands"] for c in before)
        in_fault = _charts(page, lambda charts: any(c["bands"] for c in charts), timeout=20)
        deadline = time.time() + 60
        while len([e for e in read_events(run_dir) if e["type"] == "fault_injected"]) < 2:
            assert time.time() < deadline, "the second fault never started"
            time.sleep(0.3)
        wrong = _status(urllib.request.Request(url + "stop", data=b"token=guess", method="POST"))
        get_stop = _status(urllib.request.Request(url + "stop"))
        message = _press_stop(page, token)
        process.wait(timeout=120)
        lines.join(timeout=10)
        yield LiveDrill(process.returncode, "".join(lines.lines), run_dir, prometheus, before, in_fault, wrong, get_stop,
                        message, token)
    finally:
        if page is not None:
            page.close()
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()
        prometheus.stop()


def _fault_windows(run_dir: Path) -> list[tuple[str, float, float, str]]:
    """(target, injected at, removed at, removed by) in order. Both outages stop the same Redis (one
    fault id), each its own process (the target), so each is its own series."""
    windows, open_at = [], {}
    for event in read_events(run_dir):
        if event["type"] == "fault_injected":
            open_at[event["fault_id"]] = event["ts"]
        elif event["type"] == "fault_removed":
            windows.append((event["target"], open_at.pop(event["fault_id"]), event["ts"], event["by"]))
    assert not open_at, f"faults never removed: {open_at}"
    return windows


def test_prometheus_scraping_a_drill_sees_its_requests_faults_and_latency(live_drill):
    prom, run_dir = live_drill.prometheus, live_drill.run_dir
    end = time.time()
    # Requests: the counter's last scrape equals the run directory's totals, within one scrape interval.
    recorded: dict[str, int] = {}
    for record in iter_records(run_dir):
        recorded[record.name] = recorded.get(record.name, 0) + record.count
    scraped = {labels["endpoint"]: values for labels, values in prom.samples("peakdrill_requests_total", end)}
    assert set(scraped) == set(recorded), (prom.query("up"), live_drill.output[-3000:])
    for name, values in scraped.items():
        one_interval = max((b - a for (_, a), (_, b) in zip(values, values[1:])), default=0)
        assert abs(values[-1][1] - recorded[name]) <= one_interval, (name, values[-1], recorded[name])
    assert sum(v[-1][1] for v in scraped.values()) == pytest.approx(sum(recorded.values()), rel=0.02)

    # Each fault's series is 1 exactly while it lasts (to one scrape interval), then 0; absent before.
    windows = _fault_windows(run_dir)
    assert len(windows) == 2
    series = {labels["target"]: (labels, values) for labels, values in prom.samples("peakdrill_fault_active", end)}
    assert set(series) == {target for target, *_ in windows}
    slack = prom.interval_s + 0.5
    for target, start, stop, _ in windows:
        labels, values = series[target]
        assert labels["plan"] == "live" and labels["experiment"].endswith("cache-outage.yaml") and labels["fault"]
        assert values[0][0] >= start - slack, (values[0], start)
        for ts, value in values:
            if start + slack <= ts <= stop:
                assert value == 1, (ts, start, stop)
            if ts >= stop + slack:
                assert value == 0, (ts, start, stop)
    _, first = series[windows[0][0]]
    assert sum(v == 1 for _, v in first) >= 3 and sum(v == 0 for _, v in first) >= 3, first  # both states scraped

    # The load's state: the stage, one local worker with its CPU, the stop seen as aborting and inconclusive.
    assert {labels["stage"] for labels, _ in prom.samples("peakdrill_stage", end)} == {"warm-up", "steady"}
    assert max(v for _, v in prom.samples("peakdrill_workers", end)[0][1]) == 1
    assert max(v for _, series in prom.samples("peakdrill_worker_cpu_ratio", end) for _, v in series) > 0
    assert prom.samples("peakdrill_run_aborting", end)[0][1][-1][1] == 1
    assert prom.samples("peakdrill_run_inconclusive", end)[0][1][-1][1] == 1

    # histogram_quantile lands within one bucket of the report's percentile.
    score = json.loads((run_dir / "score.json").read_text())
    busiest = max(score["endpoints"], key=lambda e: e["count"])
    last_ts = scraped[busiest["name"]][-1][0]
    quantile = prom.query(f'histogram_quantile(0.95, peakdrill_request_duration_seconds_bucket{{endpoint="{busiest["name"]}"}})',
                          last_ts)
    edges = sorted({float(labels["le"]) for labels, _ in prom.samples(
        f'peakdrill_request_duration_seconds_bucket{{endpoint="{busiest["name"]}"}}', end) if labels["le"] != "+Inf"})
    prom_p95_s, report_p95_s = float(quantile[0]["value"][1]), busiest["p95_ms"] / 1000

    def bucket_of(value: float) -> int:
        return next((i for i, edge in enumerate(edges) if value <= edge), len(edges))

    assert abs(bucket_of(prom_p95_s) - bucket_of(report_p95_s)) <= 1, (prom_p95_s, report_p95_s, edges)


def test_live_page_shows_the_drill_and_its_stop_button_ends_it_in_order(live_drill, shop):
    assert {c["name"] for c in live_drill.charts_before_fault} >= {"latency", "throughput"}
    assert all(c["drawn"] and c["points"] > 0 for c in live_drill.charts_before_fault)
    assert any(c["bands"] for c in live_drill.charts_in_fault)  # the fault window, shown once it started
    assert live_drill.wrong_token_status == 403 and live_drill.get_stop_status == 405
    assert "Stopping the drill in order" in live_drill.stop_message
    assert "[t=" in live_drill.output and "\x1b[" not in live_drill.output  # not a terminal: plain lines, no bar

    run_dir = live_drill.run_dir
    assert live_drill.returncode == 3, live_drill.output  # interrupted: INCONCLUSIVE, never a PASS
    assert json.loads((run_dir / "run.json").read_text())["status"] == "interrupted"
    assert json.loads((run_dir / "score.json").read_text())["verdict"] == "INCONCLUSIVE"
    events = read_events(run_dir)
    types = [e["type"] for e in events]
    assert "interrupted" in types and types.index("interrupted") < types.index("run_finished")
    assert [by for _, _, _, by in _fault_windows(run_dir)] == ["method", "rollback"]  # the stop rolled the second back
    assert supervisor.redis_running(load_state(shop.shop_dir)), "the rollback must have restarted Redis"
