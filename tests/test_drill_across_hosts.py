"""A distributed drill across a small network of hosts: network namespaces joined by veth links to
one switch, addresses from the benchmarking range 198.18.0.0/15. The reference shop runs on one
host, the drill runner and the Locust master on another, two `peakdrill drill --worker`s and one plain
`locust --worker` on three more; one worker is killed mid-run. The run must merge its workers exactly, score the fault and its
recovery, show the lost worker, and leave no namespace, interface or process behind.

Needs root (network namespaces); CI runs as root, so under CI=true a skip is a failure.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from conftest import SHOP_TEST_BOT_SLOTS, SHOP_TEST_ENV
from generic_targets import host_network, network_leftovers, pids_in
from drillkit import ROOT, read_events
from peakdrill.report.rundata import load_run
from peakdrill.run.locust import SHAPE_FILE
from peakdrill.rundir.histfiles import iter_records
from peakdrill.shop.supervisor import stop_shop

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(os.geteuid() != 0 and os.environ.get("CI") != "true",
                                 reason="network namespaces need root (CI runs as root)")]

MASTER_PORT = 5557  # the runner's namespace is new: nothing else can hold the port there


def _in(host, *argv: str) -> list[str]:
    return ["ip", "netns", "exec", host.name, *argv]


def _write_drill(tmp_path: Path, shop_dir: Path, shop_address: str) -> Path:
    (tmp_path / "profile.yaml").write_text("""\
name: across-hosts
think_time: {min: 0.3s, max: 1s}
stages:
  - {name: warm-up, duration: 4s, users: 6, spawn_rate: 6, measured: false}
  - {name: steady, duration: 32s, users: 15, spawn_rate: 15}
""")
    drill = tmp_path / "drill.yaml"
    drill.write_text(f"""\
name: across-hosts
target: {{shop_dir: {shop_dir}, allowed_hosts: [{shop_address}]}}
load: {{profile: profile.yaml, locustfile: {ROOT}/loadtests/locustfile.py}}
timeline:
  - {{at: 10s, experiment: {ROOT}/experiments/cache-outage.yaml, vars: {{outage_duration: 6}}, recovery_target: 15s}}
""")
    return drill


def _start_shop(host, shop_dir: Path) -> None:
    code = ("import sys; from peakdrill.shop.supervisor import start_shop; "
            f"start_shop({str(shop_dir)!r}, host={host.address!r}, port=0, workers=2, allow_non_loopback=True, "
            f"extra_env={SHOP_TEST_ENV!r}, bot_slots={SHOP_TEST_BOT_SLOTS})")
    started = subprocess.run(_in(host, sys.executable, "-c", code), capture_output=True, text=True, timeout=90)
    assert started.returncode == 0, started.stdout[-2000:] + started.stderr[-2000:]


def _stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def test_a_drill_across_five_hosts_merges_its_workers_exactly_and_scores_the_fault(tmp_path):
    shop_dir, reports = tmp_path / "shop", tmp_path / "reports"
    with host_network(5) as hosts:
        shop_host, runner_host, *worker_hosts = hosts
        drill = _write_drill(tmp_path, shop_dir, shop_host.address)
        processes: list[subprocess.Popen] = []
        try:
            _start_shop(shop_host, shop_dir)
            runner = subprocess.Popen(_in(runner_host, sys.executable, "-m", "peakdrill.cli", "drill", str(drill),
                                          "--expect-workers", "3", "--wait-for-workers", "60",
                                          "--master-bind-host", runner_host.address, "--master-port", str(MASTER_PORT),
                                          "--reports-dir", str(reports)),
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            processes.append(runner)
            for index, host in enumerate(worker_hosts[:2]):
                processes.append(subprocess.Popen(
                    _in(host, sys.executable, "-m", "peakdrill.cli", "drill", str(drill), "--worker",
                        "--master-host", runner_host.address, "--master-port", str(MASTER_PORT),
                        "--reports-dir", str(tmp_path / f"worker-{index}")),
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            # The third joins as plain Locust: the same locustfile and shape, the profile for its journeys.
            processes.append(subprocess.Popen(
                _in(worker_hosts[2], sys.executable, "-m", "locust", "-f", f"{ROOT}/loadtests/locustfile.py,{SHAPE_FILE}",
                    "--worker", "--master-host", runner_host.address, "--master-port", str(MASTER_PORT)),
                env=dict(os.environ, PEAKDRILL_PROFILE=str(tmp_path / "profile.yaml")), cwd=tmp_path,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            run_dir = _kill_the_last_worker_after_the_fault(reports, worker_hosts[-1])
            output, _ = runner.communicate(timeout=240)
            # PASS or FAIL: the run was measured (not a crash, not INCONCLUSIVE from a broken run).
            assert runner.returncode in (0, 1), output[-4000:]
            for process in processes[1:]:
                process.wait(timeout=60)  # the master's end ends its workers
        finally:
            _stop(processes)
            stop_shop(shop_dir)
        assert [pid for host in hosts for pid in pids_in(host.name)] == []  # nothing left running on any host
        _check_the_run(run_dir, output)
    assert network_leftovers(hosts) == []


def _kill_the_last_worker_after_the_fault(reports: Path, host) -> Path:
    """Wait for the fault, then kill -9 every process on one worker host: a machine that dropped out."""
    deadline = time.time() + 150
    while time.time() < deadline:
        for run_dir in reports.iterdir() if reports.exists() else ():
            if any(event["type"] == "fault_injected" for event in read_events(run_dir)):
                time.sleep(3)
                for pid in pids_in(host.name):
                    os.kill(pid, signal.SIGKILL)
                return run_dir
        time.sleep(0.3)
    raise AssertionError("no fault_injected event within 150 s")


def _check_the_run(run_dir: Path, output: str) -> None:
    meta = json.loads((run_dir / "run.json").read_text())
    assert meta["status"] == "completed" and meta["workers"] == 3, meta

    events = read_events(run_dir)
    joined = [e for e in events if e["type"] == "worker_joined"]
    injected = next(e for e in events if e["type"] == "fault_injected")
    assert len({e["worker"] for e in joined}) == 3
    # Faults only once every expected worker joined and the load started.
    assert max(e["ts"] for e in joined) < injected["ts"] and meta["load_start_ts"] < injected["ts"]
    lost = [e for e in events if e["type"] == "worker_lost"]
    assert len(lost) == 1 and lost[0]["ts"] > injected["ts"] and lost[0]["connected"] == 2, lost

    # The master merged its workers' histograms: the counts add up exactly, worker by worker.
    per_worker = Counter({s: n for s, n in load_run(run_dir).health.requests.items() if s.startswith("worker-")})
    assert len(per_worker) == 3 and all(n > 0 for n in per_worker.values()), per_worker
    assert sum(record.count for record in iter_records(run_dir)) == sum(per_worker.values())

    score = json.loads((run_dir / "score.json").read_text())
    (fault,) = [f for f in score["faults"] if f["fault"] == "cache-stopped"]
    assert fault["end_t"] is not None and fault["end_t"] > fault["start_t"]
    assert fault["requests_during"] > 0 and fault["recovery"] != "not judged", fault
    assert "worker_lost" in (run_dir / "report.html").read_text()
    assert "worker(s), CPU max" in output  # the live lines count the workers and their CPU
