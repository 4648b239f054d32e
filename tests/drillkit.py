"""Helpers for tests that run real drills: small drill files and a way to follow a run as it goes."""

from __future__ import annotations

import json
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def write_quick_drill(tmp_path: Path, shop_dir: str, steady_s: int = 30, fault_at_s: int = 10, outage_s: int = 8,
                      recovery_target_s: int = 20) -> Path:
    (tmp_path / "profile.yaml").write_text(f"""\
name: quick
think_time: {{min: 0.3s, max: 1s}}
stages:
  - {{name: warm-up, duration: 4s, users: 4, spawn_rate: 4, measured: false}}
  - {{name: steady, duration: {steady_s}s, users: 10, spawn_rate: 10}}
""")
    drill = tmp_path / "drill.yaml"
    drill.write_text(f"""\
name: quick
target: {{shop_dir: {shop_dir}}}
load: {{profile: profile.yaml, locustfile: {ROOT}/loadtests/locustfile.py}}
timeline:
  - {{at: {fault_at_s}s, experiment: {ROOT}/experiments/cache-outage.yaml, vars: {{outage_duration: {outage_s}}}, recovery_target: {recovery_target_s}s}}
""")
    return drill


def read_events(run_dir: Path) -> list[dict]:
    path = run_dir / "events.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def wait_for_event(reports_dir: Path, event_type: str, timeout: float) -> tuple[Path, dict]:
    deadline = time.time() + timeout
    while time.time() < deadline:
        for run_dir in reports_dir.iterdir() if reports_dir.exists() else ():
            for event in read_events(run_dir):
                if event["type"] == event_type:
                    return run_dir, event
        time.sleep(0.3)
    raise AssertionError(f"no {event_type} event within {timeout}s in {reports_dir}")
