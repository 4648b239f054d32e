"""The 8 emergency plans are plain Chaos Toolkit: `chaos validate` and `chaos run` work on them
unmodified, against the real reference shop under a light background load."""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from peakdrill.chaos import client, ledger
from peakdrill.safety import LOOPBACK_HOSTS, Allowlist
from peakdrill.shop import get_bot_capacity, get_standin_fault, load_state, supervisor, sync_frozen

ROOT = Path(__file__).resolve().parents[1]
CHAOS = str(Path(os.sys.executable).parent / "chaos")
LOOPBACK = Allowlist(LOOPBACK_HOSTS)
EXPERIMENTS = sorted((ROOT / "experiments").glob("*.yaml"))
CLUSTER_EXPERIMENTS = sorted((ROOT / "experiments" / "kubernetes").glob("*.yaml"))
GENERIC_EXPERIMENTS = sorted((ROOT / "experiments" / "generic").glob("*.yaml"))
PLANS = ("flash-crowd", "app-node-crash", "cache-outage", "database-slowdown", "payment-gateway-failure",
         "inventory-sync-lag", "cs-overload", "logistics-outage")


def test_there_is_one_experiment_per_emergency_plan_for_the_shop_for_kubernetes_and_for_any_system():
    assert sorted(p.stem for p in EXPERIMENTS) == sorted(PLANS)
    assert sorted(p.stem for p in CLUSTER_EXPERIMENTS) == sorted(PLANS)
    assert sorted(p.stem for p in GENERIC_EXPERIMENTS) == sorted(PLANS)


@pytest.mark.parametrize("experiment", GENERIC_EXPERIMENTS, ids=lambda p: p.name)
def test_generic_experiments_use_only_the_generic_drivers_and_variables(experiment):
    text = experiment.read_text()
    modules = set(re.findall(r"module: (\S+)", text))
    assert modules <= {"peakdrill.chaos.guard", "peakdrill.chaos.generic_probes", "peakdrill.chaos.generic_process",
                       "peakdrill.chaos.generic_network", "peakdrill.chaos.generic_http"}, modules
    assert "shop_dir" not in text and "PEAKDRILL_SHOP_DIR" not in text


@pytest.mark.parametrize("experiment", EXPERIMENTS + CLUSTER_EXPERIMENTS + GENERIC_EXPERIMENTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_chaos_validate_accepts_every_experiment(experiment, tmp_path):
    result = subprocess.run([CHAOS, "--no-log-file", "validate", str(experiment)], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "experiment syntax and semantic look valid" in result.stdout + result.stderr


@contextmanager
def background_load(url: str, max_s: float = 120, max_requests: int = 3000) -> Iterator[dict]:
    """A light, bounded trickle of product reads and health checks while an experiment runs."""
    stop, seen = threading.Event(), {"requests": 0}

    def trickle() -> None:
        deadline = time.monotonic() + max_s
        while not stop.is_set() and time.monotonic() < deadline and seen["requests"] < max_requests:
            client.call(LOOPBACK, "GET", f"{url}/api/products/{seen['requests'] % 50 + 1}", timeout=5)
            seen["requests"] += 1
            stop.wait(0.05)

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    try:
        yield seen
    finally:
        stop.set()
        thread.join(10)


def chaos_run(experiment: str, shop_dir: str, tmp_path: Path, env: dict[str, str], *extra: str) -> tuple[subprocess.CompletedProcess, dict]:
    journal_path = tmp_path / f"{experiment.replace('/', '-')}.json"
    result = subprocess.run([CHAOS, "--no-log-file", "run", "--journal-path", str(journal_path), *extra,
                             str(ROOT / "experiments" / f"{experiment}.yaml")], capture_output=True, text=True,
                            timeout=240, cwd=tmp_path, env=dict(os.environ, PEAKDRILL_SHOP_DIR=shop_dir, **env))
    journal = json.loads(journal_path.read_text()) if journal_path.exists() else {}
    return result, journal


def assert_shop_restored(shop_dir: str) -> None:
    state = load_state(shop_dir)
    assert ledger.active(shop_dir) == []
    assert supervisor.redis_running(state)
    assert not sync_frozen(state)
    assert get_standin_fault(state, "payment")["mode"] == "ok" and get_standin_fault(state, "courier")["mode"] == "ok"
    assert get_bot_capacity(state)["slots"] > 0


def outputs(journal: dict) -> dict[str, object]:
    return {run["activity"]["name"]: run.get("output") for run in journal["run"]}


Check = Callable[[dict], bool]
# plan -> (short durations for the test, what the fault must visibly do during the method)
RUNS: dict[str, tuple[dict[str, str], Check]] = {
    "flash-crowd": ({"PEAKDRILL_CROWD_USERS": "100", "PEAKDRILL_CROWD_DURATION": "3", "PEAKDRILL_CROWD_MAX_REQUESTS": "2000"},
                    lambda o: (o["spike-load"]["shed"] > 0 and o["spike-load"]["shed_without_retry_after"] == 0
                               and o["spike-load"]["timeouts"] == 0 and o["spike-load"]["server_errors"] == 0
                               and o["spike-load"]["orders_ok"] == o["spike-load"]["orders_admitted"] > 0)),
    "app-node-crash": ({"PEAKDRILL_RECOVERY_TIMEOUT": "30"},
                       lambda o: (o["kill-one-app-worker"]["killed_pid"] not in o["wait-for-replacement-worker"]["workers"]
                                  and o["orders-during-crash"]["lost_count"] == 0)),
    "cache-outage": ({"PEAKDRILL_OUTAGE_DURATION": "2"},
                     lambda o: o["product-reads-served-during-outage"] == {"200 fallback": 10}),
    "database-slowdown": ({"PEAKDRILL_LOCK_DURATION": "2"},
                          lambda o: (o["order-during-lock"]["statuses"] == {"503": 1} and o["order-during-lock"]["with_retry_after"] == 1
                                     and all(key.startswith("200") for key in o["product-reads-during-lock"]))),
    "payment-gateway-failure": ({"PEAKDRILL_FAILURE_DURATION": "1"},
                                lambda o: (o["payments-during-failure"]["pending"] == 4 and o["payments-during-failure"]["paid"] == 0
                                           and o["retry-pending-payments-after-recovery"]["still_pending"] == 0
                                           and o["retry-pending-payments-after-recovery"]["double_charged_count"] == 0)),
    "inventory-sync-lag": ({"PEAKDRILL_FREEZE_DURATION": "6"},
                           lambda o: o["inventory-during-stall"]["stale"] is True and o["orders-during-stall"]["lost_count"] == 0),
    "cs-overload": ({"PEAKDRILL_OVERLOAD_DURATION": "1"},
                    lambda o: o["chats-during-overload"]["first_reply_by"] == {"human": 3}
                    and o["chats-during-overload"]["slowest_first_response_ms"] <= 30_000),
    "logistics-outage": ({"PEAKDRILL_COURIER_OUTAGE_DURATION": "1"},
                         lambda o: o["tracking-during-outage"]["from_last_known"] == 3 and o["tracking-during-outage"]["errors"] == 0),
}


@pytest.mark.slow
@pytest.mark.parametrize("plan", PLANS)
def test_chaos_run_each_plan_against_the_shop_under_load(plan, shop, tmp_path):
    env, fault_visible = RUNS[plan]
    with background_load(shop.url) as load:
        result, journal = chaos_run(plan, shop.shop_dir, tmp_path, env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert load["requests"] > 0
    assert journal["status"] == "completed" and not journal["deviated"]
    assert journal["steady_states"]["before"]["steady_state_met"] and journal["steady_states"]["after"]["steady_state_met"]
    assert all(run["status"] == "succeeded" for run in journal["run"]), json.dumps(journal["run"], indent=1)
    assert fault_visible(outputs(journal)), json.dumps(outputs(journal), indent=1)
    assert [run["status"] for run in journal["rollbacks"]] == ["succeeded"]
    assert_shop_restored(shop.shop_dir)


@pytest.mark.slow
def test_the_abort_condition_interrupts_the_method_and_the_rollbacks_still_play(shop, tmp_path):
    # A p99 bound no real request can meet stands for "latency far beyond budget".
    with background_load(shop.url):
        result, journal = chaos_run("cache-outage", shop.shop_dir, tmp_path,
                                    {"PEAKDRILL_OUTAGE_DURATION": "60", "PEAKDRILL_ABORT_P99_MS": "0.001"})
    assert result.returncode == 1
    assert journal["status"] == "interrupted" and "abort condition: p99" in journal["peakdrill_abort"]
    assert journal["duration"] < 60  # the outage was cut short, not sat out
    assert [run["activity"]["name"] for run in journal["rollbacks"]] == ["ensure-cache-server-is-running"]
    assert_shop_restored(shop.shop_dir)
