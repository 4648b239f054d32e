"""The experiments are plain Chaos Toolkit: `chaos validate` and `chaos run` work on them unmodified."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from peakdrill.shop import supervisor
from peakdrill.shop.state import load_state

ROOT = Path(__file__).resolve().parents[1]
CHAOS = str(Path(os.sys.executable).parent / "chaos")
EXPERIMENTS = sorted((ROOT / "experiments").glob("*.yaml"))


@pytest.mark.parametrize("experiment", EXPERIMENTS, ids=lambda p: p.name)
def test_chaos_validate_accepts_every_experiment(experiment, tmp_path):
    result = subprocess.run([CHAOS, "--no-log-file", "validate", str(experiment)], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "experiment syntax and semantic look valid" in result.stdout + result.stderr


@pytest.mark.slow
def test_chaos_run_cache_outage_against_the_shop(shop, tmp_path):
    journal_path = tmp_path / "journal.json"
    env = dict(os.environ, PEAKDRILL_SHOP_DIR=shop.shop_dir, PEAKDRILL_OUTAGE_DURATION="3")
    result = subprocess.run([CHAOS, "--no-log-file", "run", "--journal-path", str(journal_path), str(ROOT / "experiments/cache-outage.yaml")],
                            capture_output=True, text=True, timeout=180, cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    journal = json.loads(journal_path.read_text())
    assert journal["status"] == "completed" and not journal["deviated"]
    assert journal["steady_states"]["before"]["steady_state_met"] and journal["steady_states"]["after"]["steady_state_met"]
    during = next(run for run in journal["run"] if run["activity"]["name"] == "product-reads-served-during-outage")
    assert during["output"] == {"200 fallback": 10}  # reads answered by the database while Redis was down
    assert [r["activity"]["name"] for r in journal["rollbacks"]] == ["ensure-cache-server-is-running"]
    assert supervisor.redis_running(load_state(shop.shop_dir))
