"""experiments/generic/ run with plain `chaos run`, configured only by variables, against real
servers peakdrill did not write (and the reference shop's payment stand-in, through its fault
switch URLs, as a payment sandbox would offer them)."""

from __future__ import annotations

import json

import pytest

from generic_targets import (network_namespace, pid_in, postgres_cluster, redis_answers, redis_in_namespace, redis_load,
                             redis_with_pid_file)
from peakdrill.chaos import ledger
from peakdrill.shop import get_standin_fault
from test_experiments import background_load, chaos_run, outputs

pytestmark = pytest.mark.slow


def assert_completed(result, journal) -> None:
    assert result.returncode == 0, result.stdout + result.stderr
    assert journal["status"] == "completed" and not journal["deviated"], json.dumps(journal.get("run"), indent=1)
    assert all(run["status"] == "succeeded" for run in journal["run"] + journal["rollbacks"]), json.dumps(journal["run"], indent=1)


def test_generic_app_node_crash_kills_and_restarts_redis_by_pid_file(tmp_path):
    ledger_dir = str(tmp_path / "ledger")
    with redis_with_pid_file() as server, redis_load(server.host, server.port):
        first = pid_in(server.pid_file)
        result, journal = chaos_run("generic/app-node-crash", "", tmp_path, {
            "PEAKDRILL_LEDGER_DIR": ledger_dir, "PEAKDRILL_TARGET_PORT": str(server.port),
            "PEAKDRILL_TARGET_PID_FILE": str(server.pid_file), "PEAKDRILL_RESTART_COMMAND": server.command})
        assert_completed(result, journal)
        seen = outputs(journal)
        assert seen["kill-the-process"]["killed_pid"] == first and seen["port-answers-right-after-the-crash"] is False
        assert seen["restart-the-process"] == {"restarted": True, "was_recorded": True}
        assert pid_in(server.pid_file) not in (0, first) and redis_answers(server.host, server.port)
        assert ledger.active(ledger_dir) == []


def test_generic_database_slowdown_freezes_postgresql(tmp_path):
    ledger_dir = str(tmp_path / "ledger")
    with postgres_cluster() as server:
        result, journal = chaos_run("generic/database-slowdown", "", tmp_path, {
            "PEAKDRILL_LEDGER_DIR": ledger_dir, "PEAKDRILL_TARGET_PORT": str(server.port),
            "PEAKDRILL_TARGET_PID_FILE": server.pid_file, "PEAKDRILL_FREEZE_DURATION": "2"})
        assert_completed(result, journal)
        seen = outputs(journal)
        assert seen["freeze-the-process"]["stopped"] is True
        # A stopped postmaster still has its listen socket: the kernel completes the handshake, so the
        # port "answers" while no query does. The drivers' tests show queries stall (psql, pgbench).
        assert ledger.active(ledger_dir) == []


def test_generic_cache_outage_partitions_redis_in_a_namespace(tmp_path):
    ledger_dir = str(tmp_path / "ledger")
    with network_namespace() as ns, redis_in_namespace(ns) as port:
        result, journal = chaos_run("generic/cache-outage", "", tmp_path, {
            "PEAKDRILL_LEDGER_DIR": ledger_dir, "PEAKDRILL_ALLOWED_HOSTS": ns.inside, "PEAKDRILL_NETNS": ns.name,
            "PEAKDRILL_TARGET_HOST": ns.inside, "PEAKDRILL_TARGET_PORT": str(port), "PEAKDRILL_CACHE_PORT": str(port),
            "PEAKDRILL_OUTAGE_DURATION": "1"})
        assert_completed(result, journal)
        assert outputs(journal)["port-answers-during-the-partition"] is False  # cut off for real
        assert redis_answers(ns.inside, port) and ledger.active(ledger_dir) == []


def test_generic_payment_gateway_failure_through_a_fault_switch_url(shop, tmp_path):
    ledger_dir = str(tmp_path / "ledger")
    admin = shop.standins["payment"].admin_url + "/admin/fault"
    port = shop.url.rsplit(":", 1)[1].strip("/")
    with background_load(shop.url):
        result, journal = chaos_run("generic/payment-gateway-failure", "", tmp_path, {
            "PEAKDRILL_LEDGER_DIR": ledger_dir, "PEAKDRILL_TARGET_PORT": port, "PEAKDRILL_INJECT_URL": admin,
            "PEAKDRILL_REMOVE_URL": admin, "PEAKDRILL_TOGGLE_METHOD": "PUT", "PEAKDRILL_INJECT_BODY": '{"mode": "error"}',
            "PEAKDRILL_REMOVE_BODY": '{"mode": "ok"}', "PEAKDRILL_FAILURE_DURATION": "1"})
    assert_completed(result, journal)
    assert outputs(journal)["switch-the-fault-on"]["status"] == 200
    assert get_standin_fault(shop, "payment")["mode"] == "ok" and ledger.active(ledger_dir) == []


def test_generic_flash_crowd_bursts_a_url(shop, tmp_path):
    port = shop.url.rsplit(":", 1)[1].strip("/")
    result, journal = chaos_run("generic/flash-crowd", "", tmp_path, {
        "PEAKDRILL_TARGET_PORT": port, "PEAKDRILL_CROWD_URL": shop.url.rstrip("/") + "/api/products/1",
        "PEAKDRILL_CROWD_USERS": "20", "PEAKDRILL_CROWD_DURATION": "2", "PEAKDRILL_CROWD_MAX_REQUESTS": "300"})
    assert_completed(result, journal)
    burst = outputs(journal)["spike-load"]
    assert 0 < burst["requests"] <= 300 and sum(burst["by_status"].values()) == burst["requests"]
