"""`make demo` end to end: shop up, the demo drill, its report, shop down; then the report is
checked in a real browser and against the raw data."""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import sqlite3
import subprocess
from pathlib import Path

import pytest

from browser import assert_drawn, rendered_charts, screenshot
from peakdrill.histograms import merge_buckets
from peakdrill.rundir.histfiles import iter_records, load_buckets
from peakdrill.rundir.acks import iter_acks
from peakdrill.shop import stop_shop
from peakdrill.shop.state import state_path

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path]:
    work = tmp_path_factory.mktemp("demo")
    shop_dir = work / "shop"
    env = dict(os.environ, PEAKDRILL_REPORTS_DIR=str(work / "reports"))
    command = ["make", "--no-print-directory", "demo", f"SHOP_DIR={shop_dir}"]
    # Its own process group, so that a demo past its time is stopped whole (the drill stops in order on SIGTERM).
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    try:
        out, err = process.communicate(timeout=420)
        shop_left_up = state_path(shop_dir).exists()
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            process.communicate(timeout=60)
        if state_path(shop_dir).exists():  # a demo that failed or was stopped never leaves its shop running
            stop_shop(shop_dir)
    result = subprocess.CompletedProcess(command, process.returncode, out, err)
    runs = list((work / "reports").iterdir()) if (work / "reports").exists() else []
    assert len(runs) == 1, result.stdout[-3000:] + result.stderr[-3000:]
    assert not shop_left_up, "make demo must take the shop down"
    return result, runs[0]


def test_demo_passes_prints_progress_and_the_report_path(demo):
    result, run_dir = demo
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert f"report: {run_dir / 'report.html'}" in result.stdout
    # The load generators' health (issue 11) sits between the figures and the next fault.
    assert re.search(r"\[t=\s*\d+s\] steady\s+\|\s+[\d.]+ req/s \| p95\s+[\d.]+ ms \| errors\s+[\d.]+%"
                     r"(?: \| \d+ worker\(s\), CPU max \d+% \([^)]*\))? \| next: cache-outage in \d+s", result.stdout)
    score = json.loads((run_dir / "score.json").read_text())
    assert score["verdict"] == "PASS" and score["status"] == "completed"
    for name in ("report.html", "report.md", "junit.xml", "run.json", "events.jsonl", "server-metrics.jsonl", "generator.jsonl"):
        assert (run_dir / name).stat().st_size > 0, name
    assert len(list((run_dir / "journals").glob("*.json"))) == 1


def test_every_acknowledged_record_is_in_the_shops_database(demo):
    _, run_dir = demo
    meta = json.loads((run_dir / "run.json").read_text())
    kinds = {k["kind"]: k for k in json.loads((run_dir / "reconciliation.json").read_text())["kinds"]}
    assert set(kinds) == {"order", "payment", "chat", "return"}
    acked = {kind: {i for r in iter_acks(run_dir) if r.kind == kind for i in r.ids} for kind in kinds}
    # The shop's own database (left in its directory after `shop down`), by its own SQL.
    with sqlite3.connect(run_dir.parents[1] / "shop" / "shop.db") as conn:
        stored = {kind: {str(row[0]) for row in conn.execute(sql, (meta["start_ts"] - 1,))} for kind, sql in {
            "order": "SELECT id FROM orders WHERE customer_id LIKE 'lt-%' AND created_at >= ?",
            "payment": "SELECT p.order_id FROM payments p JOIN orders o ON o.id = p.order_id "
                       "WHERE o.customer_id LIKE 'lt-%' AND p.status = 'succeeded' AND p.created_at >= ?",
            "chat": "SELECT id FROM chats WHERE customer_id LIKE 'lt-%' AND created_at >= ?",
            "return": "SELECT id FROM returns WHERE customer_id LIKE 'lt-%' AND created_at >= ?"}.items()}
    for kind, found in kinds.items():
        assert (found["lost"], found["duplicated"]) == (0, 0), found
        assert found["acknowledged"] == len(acked[kind]) and found["stored"] == len(stored[kind]), kind
        assert acked[kind] <= stored[kind], f"acknowledged {kind}s missing from the database: {acked[kind] - stored[kind]}"
    assert kinds["order"]["acknowledged"] > 20
    verdicts = {v["id"]: v["verdict"] for v in json.loads((run_dir / "score.json").read_text())["verdicts"]}
    assert verdicts["integrity_lost"] == verdicts["integrity_duplicated"] == "PASS"
    assert "Data integrity" in (run_dir / "report.md").read_text()


def test_report_renders_its_charts_in_headless_chromium(demo, tmp_path):
    _, run_dir = demo
    charts = rendered_charts(tmp_path, run_dir / "report.html")
    assert {"latency", "throughput"} <= set(charts)
    for tag, body in charts.values():
        assert_drawn(tag, body, min_points=100)
    assert "cache-stopped" in charts["latency"][1]  # the fault window is shaded and labelled
    image = screenshot(tmp_path, run_dir / "report.html")
    assert len(image.getcolors(maxcolors=1_000_000)) > 200


def test_report_totals_equal_the_raw_histograms_and_locusts_own_count(demo):
    _, run_dir = demo
    score = json.loads((run_dir / "score.json").read_text())
    raw_total = sum(record.count for record in iter_records(run_dir))
    raw_failures = sum(record.failures for record in iter_records(run_dir))
    assert score["totals"]["requests"] == raw_total > 1000
    assert score["totals"]["failures"] == raw_failures
    locust = {row["Name"]: row for row in csv.DictReader((run_dir / "locust_stats.csv").open())}
    assert int(locust["Aggregated"]["Request Count"]) == raw_total


def test_cache_reads_are_visibly_slower_during_the_outage(demo):
    _, run_dir = demo
    meta = json.loads((run_dir / "run.json").read_text())
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    injected = next(e["ts"] for e in events if e["type"] == "fault_injected")
    removed = next(e["ts"] for e in events if e["type"] == "fault_removed")
    measured_from = meta["start_ts"] + next(s["start_s"] for s in meta["stages"] if s["measured"])
    cache_read = {key: bucket for key, bucket in load_buckets(run_dir).items() if key[1] in meta["endpoints"]["cache_read"]}
    during = merge_buckets(b for (second, _), b in cache_read.items() if injected + 1 <= second < removed - 1)
    steady = merge_buckets(b for (second, _), b in cache_read.items() if measured_from <= second < injected - 1)
    assert during.count > 100 and steady.count > 100
    assert during.percentile_ms(50) >= 2 * steady.percentile_ms(50), (during.percentile_ms(50), steady.percentile_ms(50))
    window = next(f for f in json.loads((run_dir / "score.json").read_text())["faults"] if f["fault"] == "cache-stopped")
    assert window["cache_p99_during_ms"] > next(v for v in json.loads((run_dir / "score.json").read_text())["verdicts"]
                                               if v["id"] == "cache_read_p99")["measured"]
