"""Several masters on one clock: two `peakdrill drill --shard K/2 --start-at T` against the same
shop start the profile at the same instant with half the users each; only shard 0 injects the
fault; `peakdrill merge` makes one run with one verdict."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import argparse

import pytest

from drillkit import read_events, write_quick_drill
from peakdrill.argtypes import shard, utc_time
from peakdrill.run.schedule import shard_stages, stage_at
from peakdrill.rundir.histfiles import iter_records
from peakdrill.spec.profile import Stage

START_LEAD_S = 20  # two Locust masters and their workers start well within this on a busy machine


def _shard(drill: Path, index: int, start_at: str, reports: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "peakdrill.cli", "drill", str(drill), "--shard", f"{index}/2",
                             "--start-at", start_at, "--reports-dir", str(reports), "--no-report", "--no-progress"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_shards_split_users_and_rates_that_add_up_exactly():
    stages = (Stage(name="ramp", duration=10, users=10, spawn_rate=5, arrival_rate=None),
              Stage(name="peak", duration=20, users=7, spawn_rate=3, arrival_rate=90.0))
    parts = [shard_stages(stages, index, 3) for index in range(3)]
    for position, stage in enumerate(stages):
        assert sum(part[position].users for part in parts) == stage.users
        assert max(p[position].users for p in parts) - min(p[position].users for p in parts) <= 1
        assert sum(part[position].spawn_rate for part in parts) == pytest.approx(stage.spawn_rate)
        assert all(part[position].duration == stage.duration for part in parts)  # one clock for all
    assert sum(part[1].arrival_rate for part in parts) == pytest.approx(90.0)
    assert shard_stages(stages, 0, 1) == stages
    assert [stage_at(stages, t).name if stage_at(stages, t) else None for t in (0, 9.9, 10, 29.9, 30)] == \
        ["ramp", "ramp", "peak", "peak", None]


def test_shard_and_start_at_options_refuse_what_no_run_means():
    assert shard("1/4") == (1, 4)
    for bad in ("4/4", "-1/2", "1", "a/b", "0/0"):
        with pytest.raises(argparse.ArgumentTypeError):
            shard(bad)
    assert utc_time("2026-11-11T00:00:00Z") == utc_time("2026-11-11T01:00:00+01:00") == 1794355200.0
    with pytest.raises(argparse.ArgumentTypeError, match="no time zone"):
        utc_time("2026-11-11T00:00:00")


@pytest.mark.slow
def test_two_shards_start_together_and_merge_into_one_verdict(shop, tmp_path):
    # Recovery is judged over its target plus a 10 s window: the data must run that long past the fault.
    drill = write_quick_drill(tmp_path, shop.shop_dir, steady_s=26, fault_at_s=5, outage_s=4, recovery_target_s=5)
    start_at = datetime.fromtimestamp(int(time.time()) + START_LEAD_S, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    shards = [_shard(drill, index, start_at, tmp_path / f"shard-{index}") for index in (0, 1)]
    try:
        outputs = [shard.communicate(timeout=180)[0] for shard in shards]
    finally:
        for shard in shards:
            if shard.poll() is None:
                shard.kill()
    assert [shard.returncode for shard in shards] == [0, 0], outputs
    run_dirs = [next((tmp_path / f"shard-{index}").iterdir()) for index in (0, 1)]
    metas = [json.loads((run_dir / "run.json").read_text()) for run_dir in run_dirs]

    # The same instant: the first recorded seconds of the two masters differ by at most 1 s.
    first_seconds = [min(record.second for record in iter_records(run_dir)) for run_dir in run_dirs]
    assert abs(first_seconds[0] - first_seconds[1]) <= 1, first_seconds
    start_ts = datetime.fromisoformat(start_at.replace("Z", "+00:00")).timestamp()
    assert all(abs(meta["load_start_ts"] - start_ts) <= 1 for meta in metas), [m["load_start_ts"] for m in metas]
    # Half the users each (the profile's 10 steady users), the timeline recorded by both, run by shard 0 only.
    assert [meta["stages"][1]["users"] for meta in metas] == [5, 5]
    assert [meta["shard"] for meta in metas] == [{"index": 0, "count": 2}, {"index": 1, "count": 2}]
    assert all(len(meta["timeline"]) == 1 for meta in metas)
    assert [sum(e["type"] == "fault_injected" for e in read_events(run_dir)) for run_dir in run_dirs] == [1, 0]

    merged = tmp_path / "merged"
    result = subprocess.run([sys.executable, "-m", "peakdrill.cli", "merge", *map(str, run_dirs), "-o", str(merged)],
                            capture_output=True, text=True, timeout=180)
    assert result.returncode in (0, 1), result.stdout[-3000:] + result.stderr[-3000:]
    assert result.stdout.count("peakdrill: verdict ") == 1, result.stdout
    score = json.loads((merged / "score.json").read_text())
    assert score["verdict"] in ("PASS", "FAIL") and len(score["faults"]) == 1
    assert sum(r.count for r in iter_records(merged)) == sum(sum(r.count for r in iter_records(d)) for d in run_dirs)
