"""Faults never outlive their experiment: Ctrl-C rolls back, a killed runner's dead-man removes
the fault within its bound, `peakdrill chaos recover` clears what is left, and a wrong argument
is refused before any fault is injected."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from peakdrill.chaos import cache_faults, database_faults, ledger
from peakdrill.chaos.lifecycle import DEADMAN_GRACE_S
from loadkit import peakdrill
from peakdrill.shop import load_state, procs, supervisor, sync_frozen

ROOT = Path(__file__).resolve().parents[1]
CHAOS = str(Path(sys.executable).parent / "chaos")

pytestmark = pytest.mark.slow


def _as_in_a_terminal() -> None:
    # A test runner started in the background inherits SIGINT ignored; Python then never raises
    # KeyboardInterrupt. Give the runner the disposition it has in a terminal, where Ctrl-C works.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_chaos(experiment: Path, shop_dir: str, tmp_path: Path, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([CHAOS, "--no-log-file", "run", "--journal-path", str(tmp_path / "journal.json"), str(experiment)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path,
                            env=dict(os.environ, PEAKDRILL_SHOP_DIR=shop_dir, **env), preexec_fn=_as_in_a_terminal)


def wait_for_fault(shop_dir: str, process: subprocess.Popen, fault_is_on, timeout: float = 60) -> ledger.FaultRecord:
    """The ledger record is written just *before* the injection: wait for both."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        records = ledger.active(shop_dir)
        if records and fault_is_on(load_state(shop_dir)):
            return records[0]
        time.sleep(0.1)
    raise AssertionError(f"no fault injected within {timeout}s; runner output:\n"
                         f"{process.communicate(timeout=30)[0] if process.poll() is not None else ''}")


def redis_down(state) -> bool:
    return not supervisor.redis_running(state)



def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.kill()
    process.communicate(timeout=30)


@pytest.mark.parametrize("plan, env, fault_is_on", [
    ("cache-outage", {"PEAKDRILL_OUTAGE_DURATION": "60"}, redis_down),
    ("inventory-sync-lag", {"PEAKDRILL_FREEZE_DURATION": "60"}, sync_frozen),
])
def test_sigint_in_the_middle_of_a_fault_plays_the_rollbacks(plan, env, fault_is_on, shop, tmp_path):
    process = start_chaos(ROOT / "experiments" / f"{plan}.yaml", shop.shop_dir, tmp_path, env)
    try:
        wait_for_fault(shop.shop_dir, process, fault_is_on)
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=60)
    finally:
        stop(process)
    journal = json.loads((tmp_path / "journal.json").read_text())
    assert journal["status"] == "interrupted", output
    assert [run["status"] for run in journal["rollbacks"]] == ["succeeded"], output
    assert not fault_is_on(load_state(shop.shop_dir))
    assert ledger.active(shop.shop_dir) == []


def test_kill_9_of_the_runner_the_dead_man_removes_the_fault_within_its_bound(shop, tmp_path):
    process = start_chaos(ROOT / "experiments" / "cache-outage.yaml", shop.shop_dir, tmp_path, {"PEAKDRILL_OUTAGE_DURATION": "60"})
    try:
        record = wait_for_fault(shop.shop_dir, process, redis_down)
        process.kill()
        killed_at = time.time()
        process.communicate(timeout=30)
    finally:
        stop(process)
    bound_s = record.deadline - killed_at  # the stated bound: planned duration + grace, from injection
    assert procs.wait_until(lambda: supervisor.redis_running(load_state(shop.shop_dir)) and not ledger.active(shop.shop_dir),
                            bound_s, 0.1), f"fault still there {bound_s:.0f}s after the runner died"
    print(f"dead-man removed the fault {time.time() - killed_at:.2f}s after kill -9 (bound {bound_s:.0f}s)")
    assert (tmp_path / "journal.json").exists() is False  # the runner really died mid-fault
    recovered = peakdrill("chaos", "recover", "--shop-dir", shop.shop_dir)
    assert recovered.returncode == 0 and "nothing left" in recovered.stdout, recovered.stdout + recovered.stderr


def test_the_dead_man_timer_removes_a_fault_whose_injector_lives_on(shop):
    # This test process injects and stays alive, so only the deadline can end the fault.
    cache_faults.stop_cache(shop.shop_dir, duration=1)
    try:
        record = ledger.active(shop.shop_dir)[0]
        assert procs.alive(record.watchdog_pid, record.watchdog_create_time)
        assert procs.wait_until(lambda: supervisor.redis_running(load_state(shop.shop_dir)),
                                1 + DEADMAN_GRACE_S + 5, 0.2)  # bound + slack for a loaded machine
        assert time.time() >= record.deadline - 0.5  # not before its time: the experiment owns the fault until then
        assert ledger.active(shop.shop_dir) == []
    finally:
        cache_faults.start_cache(shop.shop_dir, by="recover")


def test_recover_removes_a_fault_whose_dead_man_is_gone_and_then_reports_nothing_left(shop):
    database_faults.lock_database(shop.shop_dir, duration=30)
    record = ledger.active(shop.shop_dir)[0]
    holder = record.params["pid"]
    try:
        procs.terminate(record.watchdog_pid, record.watchdog_create_time)  # the dead-man died too
        listed = peakdrill("chaos", "list", "--shop-dir", shop.shop_dir)
        assert record.fault_id in listed.stdout
        recovered = peakdrill("chaos", "recover", "--shop-dir", shop.shop_dir)
        assert recovered.returncode == 0 and f"removed {record.fault_id}" in recovered.stdout, recovered.stdout + recovered.stderr
        assert not procs.alive(holder, record.params["create_time"])
        again = peakdrill("chaos", "recover", "--shop-dir", shop.shop_dir)
        assert "nothing left" in again.stdout
    finally:
        database_faults.unlock_database(shop.shop_dir, by="recover")


BAD_ARGUMENTS = [
    ("app-node-crash", "process: app-worker", "process: nginx", "'kill-one-app-worker'", "process='nginx'"),
    ("cache-outage", "duration: ${outage_duration}", "duration: soon", "'stop-cache-server'", "duration='soon'"),
    ("payment-gateway-failure", "standin: payment\n        mode: ${payment_mode}", "standin: bank\n        mode: ${payment_mode}",
     "'fail-payment-gateway'", "standin='bank'"),
    ("logistics-outage", "mode: ${courier_mode}", "mode: flaky", "'take-courier-down'", "mode='flaky'"),
]


@pytest.mark.parametrize("plan, good, bad, activity, argument", BAD_ARGUMENTS, ids=[b[0] for b in BAD_ARGUMENTS])
def test_a_wrong_argument_fails_validation_before_any_fault(plan, good, bad, activity, argument, shop, tmp_path):
    text = (ROOT / "experiments" / f"{plan}.yaml").read_text()
    assert good in text
    experiment = tmp_path / f"{plan}.yaml"
    experiment.write_text(text.replace(good, bad, 1))
    redis_pid = load_state(shop.shop_dir).redis.pid
    env = dict(os.environ, PEAKDRILL_SHOP_DIR=shop.shop_dir)
    for command in (["validate"], ["run", "--journal-path", str(tmp_path / "journal.json")]):
        result = subprocess.run([CHAOS, "--no-log-file", *command, str(experiment)], capture_output=True, text=True,
                                timeout=120, cwd=tmp_path, env=env)
        output = result.stdout + result.stderr
        assert result.returncode == 1, output
        assert activity in output and argument in output, output
    assert not (tmp_path / "journal.json").exists()  # `chaos run` stopped at validation: nothing ran
    assert load_state(shop.shop_dir).redis.pid == redis_pid and ledger.active(shop.shop_dir) == []


def test_a_wrong_var_on_the_command_line_stops_the_run_before_the_method(shop, tmp_path):
    redis_pid = load_state(shop.shop_dir).redis.pid
    result = subprocess.run([CHAOS, "--no-log-file", "run", "--journal-path", str(tmp_path / "journal.json"),
                             "--var", "outage_duration=-3", str(ROOT / "experiments" / "cache-outage.yaml")],
                            capture_output=True, text=True, timeout=120, cwd=tmp_path,
                            env=dict(os.environ, PEAKDRILL_SHOP_DIR=shop.shop_dir))
    journal = json.loads((tmp_path / "journal.json").read_text())
    assert result.returncode == 1
    assert journal["status"] == "interrupted" and journal["run"] == []
    assert "'stop-cache-server'" in result.stdout + result.stderr and "duration='-3'" in result.stdout + result.stderr
    assert load_state(shop.shop_dir).redis.pid == redis_pid and ledger.active(shop.shop_dir) == []


def test_a_drill_refuses_an_experiment_with_a_wrong_argument_before_any_load(shop, tmp_path):
    experiment = tmp_path / "crash.yaml"
    experiment.write_text((ROOT / "experiments" / "app-node-crash.yaml").read_text().replace("process: app-worker", "process: nginx", 1))
    (tmp_path / "profile.yaml").write_text("name: p\nstages:\n  - {name: steady, duration: 10s, users: 2, spawn_rate: 2}\n")
    drill = tmp_path / "drill.yaml"
    drill.write_text(f"name: d\ntarget: {{shop_dir: {shop.shop_dir}}}\n"
                     f"load: {{profile: profile.yaml, locustfile: {ROOT}/loadtests/locustfile.py}}\n"
                     f"timeline:\n  - {{at: 2s, experiment: {experiment}, recovery_target: 20s}}\n")
    result = peakdrill("drill", str(drill), "--reports-dir", str(tmp_path / "reports"), "--no-report")
    assert result.returncode == 2
    assert "'kill-one-app-worker'" in result.stderr and "process='nginx'" in result.stderr
    assert not (tmp_path / "reports").exists() or not any((tmp_path / "reports").iterdir())
