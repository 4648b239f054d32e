"""Drill and profile files are validated before anything runs, with errors that name file and field."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from peakdrill.errors import SpecError
from peakdrill.spec.drill import load_drill
from peakdrill.spec.loader import parse_duration
from peakdrill.spec.profile import load_profile

ROOT = Path(__file__).resolve().parents[1]
GOOD_PROFILE = """\
name: tiny
stages:
  - {name: warm-up, duration: 5s, users: 2, measured: false}
  - {name: steady, duration: 1m, users: 4}
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def drill_text(extra: str = "", timeline_at: str = "10s") -> str:
    return f"""\
name: t
load:
  profile: {ROOT}/loadtests/profiles/demo.yaml
  locustfile: {ROOT}/loadtests/locustfile.py
timeline:
  - at: {timeline_at}
    experiment: {ROOT}/experiments/cache-outage.yaml
{extra}"""


@pytest.mark.parametrize("text, field, words", [
    ("name: x\nstages: []\n", "stages", "at least 1"),
    ("name: x\nstages:\n  - {name: a, duration: soon, users: 3}\n", "stages.0.duration", "'soon' is not a duration"),
    ("name: x\nstages:\n  - {name: a, duration: 5s, users: -3}\n", "stages.0.users", "greater than 0"),
    ("name: x\nstages:\n  - {name: a, duration: 5s, users: 3, usres: 4}\n", "stages.0.usres", "unknown field"),
    ("name: x\nuser_mix: {robots: 3}\nstages:\n  - {name: a, duration: 5s, users: 3}\n", "(top level)", "unknown journey 'robots'"),
    ("name: x\nthink_time: {min: 5s, max: 1s}\nstages:\n  - {name: a, duration: 5s, users: 3}\n", "think_time", "below"),
    ("stages:\n  - {name: a, duration: 5s, users: 3}\n", "name", "missing"),
    ("name: [unclosed\n", "line 2, column 1", "not valid YAML"),
    ("- just a list\n", "", "mapping"),
])
def test_bad_profiles_name_file_and_field(tmp_path, text, field, words):
    path = write(tmp_path, "bad.yaml", text)
    with pytest.raises(SpecError) as caught:
        load_profile(path)
    assert caught.value.file == str(path)
    assert caught.value.field == field
    assert words in str(caught.value)


def test_good_profile_scales_users_but_not_below_one(tmp_path):
    profile = load_profile(write(tmp_path, "p.yaml", GOOD_PROFILE))
    assert profile.duration == 65
    scaled = profile.scaled_stages(0.5)
    assert [s.users for s in scaled] == [1, 2]
    assert all(s.spawn_rate >= 1 for s in scaled)


def test_durations():
    assert parse_duration("1m30s") == 90
    assert parse_duration("2h") == 7200
    assert parse_duration(45) == 45
    for bad in ("ten", "-5", "", True):
        with pytest.raises(ValueError):
            parse_duration(bad)


def test_drill_paths_resolve_relative_to_the_drill_file():
    drill = load_drill(ROOT / "drills/demo.yaml")
    assert Path(drill.load.profile) == ROOT / "loadtests/profiles/demo.yaml"
    assert Path(drill.timeline[0].experiment).is_file()


@pytest.mark.parametrize("text, field, words", [
    (drill_text().replace("profiles/demo.yaml", "profiles/nope.yaml"), "load.profile", "does not exist"),
    (drill_text(timeline_at="whenever"), "timeline.0.at", "not a duration"),
    (drill_text("slo:\n  order_success_rate: 3\n"), "slo.order_success_rate", "less than or equal to 1"),
    (drill_text("abort:\n  error_ratio: 0\n"), "abort.error_ratio", "greater than 0"),
])
def test_bad_drills_name_file_and_field(tmp_path, text, field, words):
    path = write(tmp_path, "bad-drill.yaml", text)
    with pytest.raises(SpecError) as caught:
        load_drill(path)
    assert (caught.value.file, caught.value.field) == (str(path), field)
    assert words in str(caught.value)


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "peakdrill.cli", *args], capture_output=True, text=True, timeout=120, cwd=cwd)


def test_cli_exits_2_without_traceback_for_a_malformed_drill(tmp_path):
    path = write(tmp_path, "bad-drill.yaml", drill_text(timeline_at="whenever"))
    result = run_cli("drill", str(path), "--target", "http://127.0.0.1:9")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert str(path) in result.stderr and "timeline.0.at" in result.stderr


def test_cli_exits_2_for_a_fault_scheduled_after_the_load(tmp_path):
    path = write(tmp_path, "late.yaml", drill_text(timeline_at="1h"))
    result = run_cli("drill", str(path), "--target", "http://127.0.0.1:9")
    assert result.returncode == 2, result.stderr
    assert "timeline.0.at" in result.stderr and "after the end of the load" in result.stderr


def test_cli_exits_2_for_a_malformed_experiment(tmp_path):
    experiment = write(tmp_path, "broken.yaml", (ROOT / "experiments/cache-outage.yaml").read_text()
                       .replace("func: stop_cache", "func: stop_the_cache_please"))
    path = write(tmp_path, "d.yaml", drill_text().replace(f"{ROOT}/experiments/cache-outage.yaml", str(experiment)))
    result = run_cli("drill", str(path), "--target", "http://127.0.0.1:9")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert str(experiment) in result.stderr and "stop_the_cache_please" in result.stderr
