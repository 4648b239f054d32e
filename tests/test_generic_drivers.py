"""The generic drivers against real servers peakdrill did not write, under load: PostgreSQL frozen
and thawed under pgbench, a Redis port partitioned inside a network namespace and healed, Redis
killed and restarted by its pid file, and the dead-man thawing a server when the runner dies.
Each checks the fault was real (the server stopped answering) and fully removed afterwards."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from generic_targets import (leftovers, network_namespace, pid_in, postgres_cluster, redis_answers, redis_in_namespace,
                             redis_load, redis_with_pid_file)
from loadkit import peakdrill
from peakdrill.chaos import generic_network, generic_process, ledger, lifecycle
from peakdrill.errors import ChaosError, UnsafeTargetError
from peakdrill.shop import pg_server, procs

ROOT = Path(__file__).resolve().parents[1]
CHAOS = str(Path(sys.executable).parent / "chaos")


def psql_answers(url: str) -> bool:
    done = subprocess.run(["psql", f"{url}?connect_timeout=2", "-tAc", "select 1"], capture_output=True, text=True, timeout=20)
    return done.returncode == 0 and done.stdout.strip() == "1"


def stopped(pids: list[int]) -> list[int]:
    out = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_STOPPED:
                out.append(pid)
        except psutil.Error:
            pass
    return out


def test_freeze_and_thaw_postgresql_under_pgbench(tmp_path):
    ledger_dir = str(tmp_path / "ledger")
    with postgres_cluster() as server:
        init = subprocess.run([str(pg_server.bin_dir() / "pgbench"), "-i", "-s", "1", "-q", server.url],
                              capture_output=True, text=True, timeout=120)
        assert init.returncode == 0, init.stderr
        bench = subprocess.Popen([str(pg_server.bin_dir() / "pgbench"), "-c", "4", "-j", "2", "-T", "12", "-P", "1", server.url],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            time.sleep(2)
            assert psql_answers(server.url)
            frozen = generic_process.freeze_process(ledger_dir, pid_file=server.pid_file, duration=30)
            assert frozen["stopped"] and len(frozen["frozen_pids"]) > 4  # the postmaster and every backend
            assert [r.fault for r in ledger.active(ledger_dir)] == ["process-frozen"]
            assert not psql_answers(server.url)  # the fault is real: the server does not answer
            thawed = generic_process.thaw_process(ledger_dir, pid_file=server.pid_file)
            assert thawed["was_recorded"] and sorted(thawed["thawed_pids"]) == sorted(frozen["frozen_pids"])
            assert stopped(frozen["frozen_pids"]) == [] and ledger.active(ledger_dir) == []
            assert psql_answers(server.url)
            out, err = bench.communicate(timeout=60)
        finally:
            lifecycle.remove_all(ledger_dir, by="recover")  # thaw before stopping, whatever failed
            if bench.poll() is None:
                bench.kill()
                bench.communicate()
    assert bench.returncode == 0, err
    processed = int(next(line for line in out.splitlines() if "transactions actually processed" in line).split(":")[1].split("/")[0])
    assert processed > 0
    # The freeze shows in pgbench's own progress: at least one second with no transaction at all.
    assert any(" 0.0 tps" in line for line in err.splitlines() if line.startswith("progress:")), err


def test_partition_a_redis_port_in_a_network_namespace_and_heal_it(tmp_path, monkeypatch):
    ledger_dir = str(tmp_path / "ledger")
    root_rules = subprocess.run(["iptables", "-S"], capture_output=True, text=True).stdout
    with network_namespace() as ns:
        monkeypatch.setenv("PEAKDRILL_ALLOWED_HOSTS", ns.inside)
        with redis_in_namespace(ns) as port, redis_load(ns.inside, port) as load:
            assert procs.wait_until(lambda: load.ok > 0, 10)
            cut = generic_network.partition_network(ledger_dir, netns=ns.name, port=port, duration=30)
            assert cut["addresses"] == [ns.inside]
            try:
                failed_before = load.failed
                assert not redis_answers(ns.inside, port)  # the fault is real: no answer through the partition
                assert procs.wait_until(lambda: load.failed > failed_before + 2, 10)
                ok_during = load.ok
                time.sleep(1)
                assert load.ok == ok_during  # not one INCR got through
                inside_rules = subprocess.run(["ip", "netns", "exec", ns.name, "iptables", "-S"], capture_output=True, text=True).stdout
                assert inside_rules.count("peakdrill network-partitioned") == 2
            finally:
                healed = generic_network.heal_network(ledger_dir, netns=ns.name, port=port)
            assert healed["healed"] and ledger.active(ledger_dir) == []
            assert redis_answers(ns.inside, port)
            assert procs.wait_until(lambda: load.ok > ok_during + 5, 10)
            inside_rules = subprocess.run(["ip", "netns", "exec", ns.name, "iptables", "-S"], capture_output=True, text=True).stdout
            assert "peakdrill" not in inside_rules
    assert leftovers(ns) == []
    assert subprocess.run(["iptables", "-S"], capture_output=True, text=True).stdout == root_rules  # never the host's rules


def test_a_partition_is_refused_where_it_cannot_act_safely(tmp_path, monkeypatch):
    ledger_dir = str(tmp_path / "ledger")
    with pytest.raises(ChaosError, match="there is no /run/netns/pd-no-such-ns"):
        generic_network.partition_network(ledger_dir, netns="pd-no-such-ns", port=6379, duration=5)
    with network_namespace() as ns:
        # The namespace's address is not allowed: refused before anything is recorded or ruled.
        with pytest.raises(UnsafeTargetError, match=ns.inside):
            generic_network.partition_network(ledger_dir, netns=ns.name, port=6379, duration=5)
        monkeypatch.setenv("PEAKDRILL_ALLOWED_HOSTS", ns.inside)
        with pytest.raises(UnsafeTargetError, match="203.0.113.9"):
            generic_network.partition_network(ledger_dir, netns=ns.name, host="203.0.113.9", duration=5)
        assert ledger.active(ledger_dir) == []
    with pytest.raises(ChaosError, match="exactly one"):
        generic_process.validate_freeze_process(ledger_dir, pid_file="/x.pid", port=5432)


def test_kill_and_restart_redis_found_by_its_pid_file(tmp_path):
    ledger_dir = str(tmp_path / "ledger")
    with redis_with_pid_file() as server, redis_load(server.host, server.port) as load:
        assert procs.wait_until(lambda: load.ok > 0, 10)
        first = pid_in(server.pid_file)
        killed = generic_process.kill_process(ledger_dir, pid_file=str(server.pid_file), restart_command=server.command, duration=30)
        assert killed["killed_pid"] == first and not procs.alive(first)
        assert [r.fault for r in ledger.active(ledger_dir)] == ["process-killed"]
        assert not redis_answers(server.host, server.port)  # the fault is real
        restarted = generic_process.restart_process(ledger_dir, pid_file=str(server.pid_file), by="rollback")
        assert restarted == {"restarted": True, "was_recorded": True} and ledger.active(ledger_dir) == []
        generic_process.wait_until_healthy(server.host, server.port, pid_file=str(server.pid_file), timeout=15)
        assert pid_in(server.pid_file) not in (0, first) and redis_answers(server.host, server.port)
        ok_after = load.ok
        assert procs.wait_until(lambda: load.ok > ok_after + 5, 10)  # the load gets through again
        # Idempotent: a second restart leaves the running server alone.
        assert generic_process.restart_process(ledger_dir, pid_file=str(server.pid_file), restart_command=server.command)["restarted"] is False


def test_the_dead_man_thaws_a_generic_freeze_when_the_runner_is_killed(tmp_path):
    ledger_dir = str(tmp_path / "ledger")
    with redis_with_pid_file() as server:
        env = dict(os.environ, PEAKDRILL_LEDGER_DIR=ledger_dir, PEAKDRILL_TARGET_PID_FILE=str(server.pid_file),
                   PEAKDRILL_TARGET_PORT=str(server.port), PEAKDRILL_FREEZE_DURATION="60")
        runner = subprocess.Popen([CHAOS, "--no-log-file", "run", "--journal-path", str(tmp_path / "journal.json"),
                                   str(ROOT / "experiments" / "generic" / "inventory-sync-lag.yaml")],
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path, env=env)
        pid = pid_in(server.pid_file)
        try:
            assert procs.wait_until(lambda: ledger.active(ledger_dir) and stopped([pid]) == [pid], 60), runner.poll()
            record = ledger.active(ledger_dir)[0]
            assert not redis_answers(server.host, server.port)
            runner.kill()
            killed_at = time.time()
            runner.communicate(timeout=30)
        finally:
            if runner.poll() is None:
                runner.kill()
                runner.communicate(timeout=30)
        bound_s = record.deadline - killed_at
        assert procs.wait_until(lambda: stopped([pid]) == [] and not ledger.active(ledger_dir), bound_s, 0.1), \
            f"still frozen {bound_s:.0f}s after the runner died"
        print(f"dead-man thawed redis {time.time() - killed_at:.2f}s after kill -9 (bound {bound_s:.0f}s)")
        assert redis_answers(server.host, server.port) and not (tmp_path / "journal.json").exists()
        recovered = peakdrill("chaos", "recover", "--shop-dir", ledger_dir)
        assert recovered.returncode == 0 and "nothing left" in recovered.stdout


def test_recover_removes_a_generic_fault_left_behind(tmp_path):
    ledger_dir = str(tmp_path / "ledger")
    with redis_with_pid_file() as server:
        pid = pid_in(server.pid_file)
        record = generic_process.freeze_process(ledger_dir, pid_file=str(server.pid_file), duration=300)
        assert stopped([pid]) == [pid] and record["pid"] == pid
        listed = peakdrill("chaos", "list", "--shop-dir", ledger_dir)
        assert "process-frozen" in listed.stdout
        recovered = peakdrill("chaos", "recover", "--shop-dir", ledger_dir)
        assert recovered.returncode == 0 and "removed process-frozen" in recovered.stdout, recovered.stdout + recovered.stderr
        assert stopped([pid]) == [] and redis_answers(server.host, server.port)
