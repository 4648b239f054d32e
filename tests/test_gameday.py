"""drills/double11-gameday.yaml end to end against the reference shop (about 3 minutes): three
emergency plans on the Double 11 clock, each experiment in its own process, two of them overlapping.
The report shows both overlapping windows and judges a recovery for each, after the last one ends."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from drillkit import read_events
from loadkit import peakdrill

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]


def test_double11_gameday_overlapping_faults_each_get_a_window_and_a_recovery_verdict(shop, tmp_path):
    reports = tmp_path / "reports"
    result = peakdrill("drill", str(ROOT / "drills" / "double11-gameday.yaml"), "--shop-dir", shop.shop_dir,
                       "--reports-dir", str(reports), "--no-progress", timeout=420)
    (run_dir,) = reports.iterdir()
    assert result.returncode in (0, 1), result.stdout[-3000:] + result.stderr[-3000:]  # a verdict, not a crash
    kinds = [e["type"] for e in read_events(run_dir)]
    assert kinds.count("experiment_started") == kinds.count("experiment_finished") == 3
    score = json.loads((run_dir / "score.json").read_text())
    faults = {f["experiment"].rsplit("/", 1)[-1]: f for f in score["faults"]}
    payment, cache = faults["payment-gateway-failure.yaml"], faults["cache-outage.yaml"]
    assert payment["start_t"] < cache["start_t"] < payment["end_t"] < cache["end_t"]  # they overlap
    assert (cache["fault"] or cache["fault_id"]) in payment["overlaps"]
    assert (payment["fault"] or payment["fault_id"]) in cache["overlaps"]
    assert "app-node-crash.yaml" in faults
    recoveries = {v["id"]: v for v in score["verdicts"] if v["id"].startswith("recovery:")}
    for fault in (payment, cache):
        verdict = recoveries[f"recovery:{fault['fault_id']}"]
        assert verdict["verdict"] in ("PASS", "FAIL"), verdict  # judged, with data enough after the last fault
        assert "measured after the last one ended" in verdict["detail"]
    # Recovery of both is measured from the end of the later one.
    assert recoveries[f"recovery:{payment['fault_id']}"]["window"] == recoveries[f"recovery:{cache['fault_id']}"]["window"]
    report = (run_dir / "report.md").read_text()
    assert "Overlaps" in report and "Injected by" in report
