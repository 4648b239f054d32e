"""Profiles in real units: every kind of mistake is refused before anything runs (exit 2, file and field),
the shipped profiles are valid and scale down, and the open model records intended against achieved
rate so a run that fell behind is never scored PASS."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from peakdrill.report import score_run_dir
from peakdrill.report.rundata import iter_health
from peakdrill.spec.profile import load_profile
from loadkit import peakdrill
from runfactory import make_run

ROOT = Path(__file__).resolve().parents[1]
STAGE = "stages:\n  - {name: a, duration: 5s, users: 3}\n"
OPEN_STAGE = "model: open\nstages:\n  - {name: a, duration: 5s, users: 3, arrival_rate: 4}\n"



@pytest.mark.parametrize("text, field, words", [
    ("name: x\npeak_concurrent_users: 2\n" + STAGE, "stages.0.users", "above peak_concurrent_users"),
    ("name: x\nmodel: open\n" + STAGE, "stages.0.arrival_rate", "needs an arrival rate"),
    ("name: x\n" + OPEN_STAGE.replace("model: open\n", ""), "stages.0.arrival_rate", "only applies to model: open"),
    ("name: x\n" + OPEN_STAGE.replace("arrival_rate: 4", "arrival_rate: -4"), "stages.0.arrival_rate", "greater than or equal to 0"),
    ("name: x\nmodel: bursty\n" + STAGE, "model", "'closed' or 'open'"),
    ("name: x\ncs_mix: {intents: {complaints: 10}}\n" + STAGE, "cs_mix.intents", "unknown intent 'complaints'"),
    ("name: x\ncs_mix: {channels: {chat: 0, phone: 0}}\n" + STAGE, "cs_mix.channels", "share above 0"),
    ("name: x\nforecast: {peak_orders_per_day: 0}\n" + STAGE, "forecast.peak_orders_per_day", "greater than 0"),
    ("name: x\nforecast: {capacity_orders_per_day: 100000}\n" + STAGE, "forecast.peak_orders_per_day", "missing"),
    ("name: x\nforecast: {peak_orders_per_day: 150000, growth: many}\n" + STAGE, "forecast.growth", "valid number"),
    ("name: x\nreplay: {source: a.log, counted: 3, endpoint_mix: {GET /: 0.5}}\n" + STAGE, "replay.endpoint_mix", "add up to 0.500"),
    ("name: x\nthink_time: {min: 2s, max: soon}\n" + STAGE, "think_time.max", "not a duration"),
    ("name: x\nuser_mix: {order: 0}\n" + STAGE, "user_mix.order", "greater than 0"),
    ("name: x\nstages:\n  - {name: a, duration: 0s, users: 3}\n", "stages.0.duration", "greater than 0"),
    ("name: x\nstages:\n  - {name: a, duration: 5s, users: 3, spawn_rate: 0}\n", "stages.0.spawn_rate", "greater than 0"),
    ("name: x\nforcast: {peak_orders_per_day: 1}\n" + STAGE, "forcast", "unknown field"),
])
def test_each_kind_of_bad_profile_exits_2_naming_file_and_field(tmp_path, text, field, words):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    result = peakdrill("profile", "check", str(path))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert f"{path}: {field}:" in result.stderr and words in result.stderr, result.stderr


def test_shipped_profiles_are_valid_and_the_peak_one_runs_smaller_at_a_scale():
    result = peakdrill("profile", "check", str(ROOT / "loadtests/profiles/demo.yaml"), str(ROOT / "loadtests/profiles/double11-peak.yaml"))
    assert result.returncode == 0, result.stderr
    assert "must hold 195,000 orders/day" in result.stdout  # 150k forecast + 30% headroom

    peak = load_profile(ROOT / "loadtests/profiles/double11-peak.yaml")
    assert peak.peak_users == peak.peak_concurrent_users == 1_000_000
    assert peak.forecast.peak_orders_per_day / peak.forecast.capacity_orders_per_day == 1.5
    laptop = peak.scaled_stages(0.0001)
    assert [s.users for s in laptop] == [10, 40, 100, 60]
    assert [s.duration for s in laptop] == [s.duration for s in peak.stages]  # time never scales


def test_open_model_scales_arrival_rates_with_the_users(tmp_path):
    path = tmp_path / "open.yaml"
    path.write_text("name: o\n" + OPEN_STAGE.replace("users: 3, arrival_rate: 4", "users: 300, arrival_rate: 400"))
    [stage] = load_profile(path).scaled_stages(0.01)
    assert (stage.users, stage.arrival_rate) == (3, 4)


def _with_rates(run_dir: Path, behind_from_t: float, behind_to_t: float, start_ts: float) -> None:
    """Give a synthetic run's generator samples open-model rates, falling to a third inside a span."""
    lines = []
    for line in (run_dir / "generator.jsonl").read_text().splitlines():
        sample = json.loads(line)
        behind = behind_from_t <= sample["ts"] - start_ts < behind_to_t
        sample.update(intended_rps=20.0, achieved_rps=6.5 if behind else 19.8)
        lines.append(json.dumps(sample))
    (run_dir / "generator.jsonl").write_text("\n".join(lines) + "\n")


def test_a_run_that_fell_behind_its_intended_rate_is_inconclusive(tmp_path):
    run = make_run(tmp_path)
    _with_rates(run.path, 60, 80, run.spec.start_ts)
    score = score_run_dir(run.path)
    assert score.verdict == "INCONCLUSIVE"
    reason = next(r for r in score.reasons if "fell behind" in r)
    assert "worker-1-41001" in reason and "6.5 of 20.0" in reason and "t=60-80s" in reason


def test_a_run_that_kept_its_rate_or_fell_behind_only_in_warm_up_passes(tmp_path):
    run = make_run(tmp_path)
    _with_rates(run.path, 0, 20, run.spec.start_ts)  # the synthetic run's warm-up is t=0-20s
    assert score_run_dir(run.path).verdict == "PASS"


@pytest.mark.slow
def test_open_model_drill_records_intended_and_achieved_rate_and_a_starved_stage_is_flagged(shop, tmp_path):
    (tmp_path / "open.yaml").write_text("""\
name: open-quick
model: open
think_time: {min: 0.1s, max: 0.3s}
stages:
  - {name: warm-up, duration: 3s, users: 4, arrival_rate: 4, measured: false}
  - {name: served, duration: 10s, users: 12, arrival_rate: 8}
  - {name: starved, duration: 10s, users: 1, spawn_rate: 20, arrival_rate: 40}
""")
    drill = tmp_path / "drill.yaml"
    drill.write_text(f"name: open-quick\ntarget: {{shop_dir: {shop.shop_dir}}}\n"
                     f"load: {{profile: open.yaml, workers: 2, locustfile: {ROOT}/loadtests/locustfile.py}}\n")
    result = peakdrill("drill", str(drill), "--reports-dir", str(tmp_path / "reports"), "--no-progress", timeout=180)
    [run_dir] = list((tmp_path / "reports").iterdir())
    meta = json.loads((run_dir / "run.json").read_text())
    stage_of = {s["name"]: (meta["start_ts"] + s["start_s"], meta["start_ts"] + s["end_s"]) for s in meta["stages"]}
    workers = [s for s in iter_health(run_dir) if s.source.startswith("worker-") and s.cpu_percent is not None]
    assert len({s.source for s in workers}) == 2
    # A worker has no rate until the shape's first message reaches it; from then on, every second does.
    load_start = stage_of["warm-up"][0]
    assert all(s.intended_rps is not None and s.achieved_rps is not None for s in workers if s.ts > load_start + 2)

    def intended_in(stage: str) -> set[float]:
        start, end = stage_of[stage]
        return {s.intended_rps for s in workers if start + 1.5 < s.ts < end - 0.5}

    assert intended_in("served") == {4.0} and intended_in("starved") == {20.0}  # the stage's rate, split over 2 workers
    assert result.returncode == 3, result.stdout + result.stderr
    score = json.loads((run_dir / "score.json").read_text())
    behind = [r for r in score["reasons"] if "fell behind" in r]
    assert behind, score["reasons"]
    starved_t = stage_of["starved"][0] - meta["start_ts"]
    for reason in behind:
        first_t = float(reason.split("(t=")[1].split("-")[0])
        assert first_t >= starved_t - 1, (reason, starved_t)
