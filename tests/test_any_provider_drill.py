"""A drill whose timeline uses only Chaos Toolkit's own ``process`` provider (no peakdrill module):
it freezes a service the test started (``kill -STOP``) and thaws it in a rollback (``kill -CONT``).
The fault window comes from the journal; the report scores recovery; a ``kill -9`` of the runner
mid-fault still gets the rollback played by the experiment's guardian within the documented bound;
when the experiment's process is killed too, ``peakdrill chaos recover --run-dir`` plays it."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from drillkit import read_events, wait_for_event
from knob_server import knob_server
from loadkit import peakdrill

pytestmark = pytest.mark.slow

HERE = Path(__file__).resolve().parent
GUARDIAN_BOUND_S = 5.0  # docs/experiments.md "Rollbacks when the runner dies"; kill -CONT itself takes ms
EXPERIMENT = """\
title: The item service freezes
description: Chaos Toolkit's process provider only; nothing from peakdrill.
configuration:
  pid: "0"
method:
  - type: action
    name: freeze-item-service
    provider: {{type: process, path: kill, arguments: ["-STOP", "${{pid}}"]}}
    pauses: {{after: {freeze_s}}}
rollbacks:
  - type: action
    name: thaw-item-service
    provider: {{type: process, path: kill, arguments: ["-CONT", "${{pid}}"]}}
"""
RULES = """\
recovery_window: 3s
rules:
  - name: items answer
    requests: GET /item
    metric: p95
    bound: < 400ms
    window: recovery
  - name: frozen items are slow
    requests: GET /item
    metric: max
    bound: < 30s
    window: during:freeze-item-service
"""


def _drill(tmp: Path, url: str, pid: int, freeze_s: int) -> Path:
    (tmp / "freeze.yaml").write_text(EXPERIMENT.format(freeze_s=freeze_s))
    (tmp / "profile.yaml").write_text("name: knob\nstages:\n  - {name: warm-up, duration: 2s, users: 20, spawn_rate: 20, measured: false}\n"
                                      "  - {name: steady, duration: 26s, users: 20, spawn_rate: 20}\n")
    drill = tmp / "drill.yaml"
    drill.write_text(f"""\
name: frozen-service
target: {{url: "{url}"}}
load: {{profile: profile.yaml, locustfile: {HERE / 'plain_locustfile.py'}}}
timeline:
  - {{at: 5s, experiment: freeze.yaml, vars: {{pid: "{pid}"}}, recovery_target: 10s}}
abort: {{p95_ms: 60000}}  # a frozen service is the point here: requests wait out the freeze
slo:
""" + "".join(f"  {line}\n" for line in RULES.splitlines()))
    return drill


def _cmdline(process: psutil.Process) -> str:
    try:
        return " ".join(process.cmdline())
    except psutil.Error:  # a child of an earlier test that ended (a zombie) or is ending
        return ""


def _service(test_process: psutil.Process) -> psutil.Process:
    return next(p for p in test_process.children() if "knob_server.py" in _cmdline(p))


def test_process_provider_drill_gets_its_fault_window_and_recovery_verdict(tmp_path):
    with knob_server(tmp_path, 20) as url:
        service = _service(psutil.Process())
        drill = _drill(tmp_path, url, service.pid, freeze_s=5)
        result = peakdrill("drill", str(drill), "--reports-dir", str(tmp_path / "reports"), "--no-progress", timeout=180)
        assert service.status() != psutil.STATUS_STOPPED
    (run_dir,) = (tmp_path / "reports").iterdir()
    assert result.returncode == 0, result.stdout + result.stderr
    score = json.loads((run_dir / "score.json").read_text())
    (fault,) = score["faults"]
    assert fault["fault"] == "freeze-item-service" and fault["provider"] == "process:kill"
    assert 4.5 <= fault["end_t"] - fault["start_t"] <= 8, fault  # the pause, then the rollback
    assert fault["removed_by"] == "rollback"
    verdicts = {v["title"]: v for v in score["verdicts"]}
    assert verdicts["Recovery after freeze-item-service"]["verdict"] == "PASS", verdicts
    assert verdicts["frozen items are slow"]["verdict"] == "PASS"
    report = (run_dir / "report.md").read_text()
    assert "process:kill" in report and "freeze-item-service" in report


def test_kill_9_of_the_runner_mid_fault_the_guardian_plays_the_rollbacks(tmp_path):
    with knob_server(tmp_path, 20) as url:
        service = _service(psutil.Process())
        drill = _drill(tmp_path, url, service.pid, freeze_s=60)
        reports = tmp_path / "reports"
        runner = subprocess.Popen([sys.executable, "-m", "peakdrill.cli", "drill", str(drill), "--reports-dir", str(reports),
                                   "--no-report", "--no-progress"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            run_dir, _ = wait_for_event(reports, "experiment_started", timeout=60)
            deadline = time.monotonic() + 10
            while service.status() != psutil.STATUS_STOPPED:  # the fault is real
                assert time.monotonic() < deadline, "the service was never frozen"
                time.sleep(0.05)
            runner.kill()
            runner.wait(timeout=10)
            killed = time.monotonic()
            while service.status() == psutil.STATUS_STOPPED:
                assert time.monotonic() - killed < GUARDIAN_BOUND_S, "the rollback did not run within the bound"
                time.sleep(0.02)
            print(f"rollback played {time.monotonic() - killed:.2f} s after kill -9 of the runner")
        finally:
            if runner.poll() is None:
                runner.kill()
            service.resume()  # whatever happened, the test leaves nothing frozen
        _, finished = wait_for_event(reports, "experiment_finished", timeout=30)
    lost = [e for e in read_events(run_dir) if e["type"] == "runner_lost"]
    assert [Path(e["experiment"]).name for e in lost] == ["freeze.yaml"]
    removed = next(e for e in read_events(run_dir) if e["type"] == "fault_removed")
    assert removed["by"] == "guardian" and removed["fault"] == "freeze-item-service"
    journal = json.loads(next((run_dir / "journals").glob("*.json")).read_text())
    assert journal["rollbacks"][0]["status"] == "succeeded"
    # Nothing is left for recover to do: the step's journal is written.
    recover = subprocess.run([sys.executable, "-m", "peakdrill.cli", "chaos", "recover", "--run-dir", str(run_dir)],
                             capture_output=True, text=True, timeout=60)
    assert recover.returncode == 0 and "nothing left" in recover.stdout, recover.stdout + recover.stderr


def test_recover_plays_the_rollbacks_of_an_experiment_whose_process_was_killed_too(tmp_path):
    with knob_server(tmp_path, 20) as url:
        service = _service(psutil.Process())
        drill = _drill(tmp_path, url, service.pid, freeze_s=60)
        reports = tmp_path / "reports"
        runner = subprocess.Popen([sys.executable, "-m", "peakdrill.cli", "drill", str(drill), "--reports-dir", str(reports),
                                   "--no-report", "--no-progress"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            run_dir, _ = wait_for_event(reports, "experiment_started", timeout=60)
            deadline = time.monotonic() + 10
            while service.status() != psutil.STATUS_STOPPED:
                assert time.monotonic() < deadline, "the service was never frozen"
                time.sleep(0.05)
            (pid_file,) = (run_dir / "experiments").glob("*.pid")
            step = psutil.Process(int(pid_file.read_text().split()[0]))
            step.kill()  # the experiment's process first, so that no guardian is left
            runner.kill()
            runner.wait(timeout=10)
            step.wait(timeout=10)  # reaped once its parent, the runner, is gone
            time.sleep(1)
            assert service.status() == psutil.STATUS_STOPPED  # nothing rolled it back: recover must
            recover = subprocess.run([sys.executable, "-m", "peakdrill.cli", "chaos", "recover", "--run-dir", str(run_dir)],
                                     capture_output=True, text=True, timeout=60)
            assert recover.returncode == 0, recover.stdout + recover.stderr
            assert "played 1 rollback(s): thaw-item-service succeeded" in recover.stdout, recover.stdout
            assert service.status() != psutil.STATUS_STOPPED
        finally:
            if runner.poll() is None:
                runner.kill()
            service.resume()
    removed = [e for e in read_events(run_dir) if e["type"] == "fault_removed"]
    assert [(e["by"], Path(e["experiment"]).name) for e in removed] == [("recover", "freeze.yaml")]
    journal = json.loads(next((run_dir / "journals").glob("*.json")).read_text())
    assert journal["status"] == "recovered"
    again = subprocess.run([sys.executable, "-m", "peakdrill.cli", "chaos", "recover", "--run-dir", str(run_dir)],
                           capture_output=True, text=True, timeout=60)
    assert again.returncode == 0 and "nothing left" in again.stdout
