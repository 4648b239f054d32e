"""Drills end to end against the real reference shop: recording, interruption, clean-up."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from drillkit import read_events, wait_for_event, write_quick_drill
from peakdrill.rundir.histfiles import iter_records
from peakdrill.shop import supervisor
from peakdrill.shop.state import load_state

pytestmark = pytest.mark.slow


@dataclass
class DrillInFault:
    """A `peakdrill drill` process caught while its cache outage is injected."""

    process: subprocess.Popen
    run_dir: Path
    injected: dict
    locust_family: list[psutil.Process]


def start_drill_until_the_fault(shop, tmp_path: Path, fault_at_s: int, outage_s: int) -> DrillInFault:
    drill = write_quick_drill(tmp_path, shop.shop_dir, steady_s=40, fault_at_s=fault_at_s, outage_s=outage_s)
    reports = tmp_path / "reports"
    process = subprocess.Popen([sys.executable, "-m", "peakdrill.cli", "drill", str(drill), "--reports-dir", str(reports),
                                "--no-report"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        run_dir, injected = wait_for_event(reports, "fault_injected", timeout=60)
        assert not supervisor.redis_running(load_state(shop.shop_dir))  # the fault is real
        locust_pid = next(e["pid"] for e in read_events(run_dir) if e["type"] == "load_started")
        locust = psutil.Process(locust_pid)
        return DrillInFault(process, run_dir, injected, [locust, *locust.children(recursive=True)])
    except BaseException:
        process.kill()
        raise


def test_sigint_during_a_fault_rolls_back_stops_everything_and_keeps_the_data(shop, tmp_path):
    drill = start_drill_until_the_fault(shop, tmp_path, fault_at_s=8, outage_s=25)
    process, run_dir, injected, locust_family = drill.process, drill.run_dir, drill.injected, drill.locust_family
    try:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=90)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 3, output  # interrupted: never a PASS

    assert supervisor.redis_running(load_state(shop.shop_dir)), "the rollback must have restarted Redis"
    assert not [p.pid for p in locust_family if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]

    meta = json.loads((run_dir / "run.json").read_text())
    assert meta["status"] == "interrupted" and meta["end_ts"] is not None
    types = [e["type"] for e in read_events(run_dir)]
    assert types.index("fault_injected") < types.index("interrupted") < types.index("run_finished")
    removed = [e for e in read_events(run_dir) if e["type"] == "fault_removed"]
    assert [(e["fault_id"], e["by"]) for e in removed] == [(injected["fault_id"], "rollback")]
    journal = json.loads(next((run_dir / "journals").glob("*.json")).read_text())
    assert journal["status"] == "interrupted"
    assert [r["activity"]["name"] for r in journal["rollbacks"]] == ["ensure-cache-server-is-running"]
    recorded = list(iter_records(run_dir))
    interrupted_at = next(e["ts"] for e in read_events(run_dir) if e["type"] == "interrupted")
    # Every worker shipped what it measured up to the interrupt before Locust quit.
    assert recorded and max(r.second for r in recorded) >= int(interrupted_at) - 1

    report = subprocess.run([sys.executable, "-m", "peakdrill.cli", "report", str(run_dir)], capture_output=True, text=True, timeout=120)
    assert report.returncode == 3, report.stdout + report.stderr
    score = json.loads((run_dir / "score.json").read_text())
    assert score["verdict"] == "INCONCLUSIVE" and score["status"] == "interrupted"
    assert "interrupted" in (run_dir / "report.html").read_text().lower()


def test_kill_9_of_the_runner_mid_fault_leaves_the_dead_man_and_the_load_to_clean_up(shop, tmp_path):
    drill = start_drill_until_the_fault(shop, tmp_path, fault_at_s=6, outage_s=30)
    process, run_dir, injected, locust_family = drill.process, drill.run_dir, drill.injected, drill.locust_family
    reports = run_dir.parent
    try:
        process.kill()
        process.wait(timeout=10)
        # The dead-man notices its injector died and restores Redis; the timeline says who did it.
        _, removed = wait_for_event(reports, "fault_removed", timeout=15)
        assert removed["fault_id"] == injected["fault_id"] and removed["by"] == "dead-man"
        assert removed["experiment"].endswith("cache-outage.yaml")
        assert supervisor.redis_running(load_state(shop.shop_dir))
        # Locust notices its runner died and stops the load by itself.
        psutil.wait_procs(locust_family, timeout=30)
        assert not [p.pid for p in locust_family if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    finally:
        if process.poll() is None:
            process.kill()
    recover = subprocess.run([sys.executable, "-m", "peakdrill.cli", "chaos", "recover", "--shop-dir", shop.shop_dir],
                             capture_output=True, text=True, timeout=60)
    assert recover.returncode == 0 and "nothing left" in recover.stdout
    assert json.loads((run_dir / "run.json").read_text())["status"] == "running"  # it crashed: never closed
    report = subprocess.run([sys.executable, "-m", "peakdrill.cli", "report", str(run_dir)], capture_output=True, text=True, timeout=120)
    assert report.returncode == 3, report.stdout + report.stderr
