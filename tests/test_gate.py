"""`peakdrill baseline save` and `peakdrill gate` on recorded runs: the baseline's figures against the
raw samples, no alarm on a rerun with other random draws, a regression named by endpoint and metric,
other profiles and scales refused, and the rank test itself."""

from __future__ import annotations

import json
import math
import random

import pytest

from loadkit import peakdrill
from peakdrill.gate.stats import p_greater, p_proportion_greater
from runfactory import CACHE_READ, make_run


def _oracle(values: list[float], percentile: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(percentile / 100 * len(ordered)) - 1)]


@pytest.fixture
def baseline(tmp_path):
    run = make_run(tmp_path / "base", fault=None, seed=1)
    path = tmp_path / "baseline.json"
    result = peakdrill("baseline", "save", str(run.path), "-o", str(path), timeout=60)
    assert result.returncode == 0, result.stderr
    return run, path


def test_the_baseline_holds_the_steady_window_figures(baseline):
    run, path = baseline
    saved = json.loads(path.read_text())
    assert (saved["profile"]["name"], saved["scale"], saved["window"]) == ("demo", 1.0, "steady")
    cache = saved["endpoints"][CACHE_READ]
    start = int(run.spec.start_ts)
    steady = [s for s in range(start, start + 121) if 20 <= s + 0.5 - run.spec.start_ts < 120]
    samples = run.latencies(CACHE_READ, steady)
    assert cache["count"] == len(samples) and cache["seconds"] == len(steady)
    assert cache["p95_ms"] == pytest.approx(_oracle(samples, 95), rel=0.002)
    assert cache["rps"] == pytest.approx(len(samples) / len(steady), abs=0.001)
    assert len(cache["per_second"]) == len(steady)


def test_same_system_passes_slower_system_fails_naming_endpoint_and_metric(tmp_path, baseline):
    _, path = baseline
    same = make_run(tmp_path / "same", fault=None, seed=2)
    result = peakdrill("gate", str(same.path), "--baseline", str(path), timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    slower = make_run(tmp_path / "slower", fault=None, seed=3, normal_cache_ms=8.0)  # +60% on the cache reads: about +5 ms
    result = peakdrill("gate", str(slower.path), "--baseline", str(path), timeout=60)
    assert result.returncode == 1, result.stdout
    gate = json.loads((slower.path / "score.json").read_text())["gate"]
    failed = {(c["endpoint"], c["metric"]) for c in gate["cases"] if c["verdict"] == "FAIL"}
    assert failed == {(CACHE_READ, "p95"), (CACHE_READ, "p99")}, gate
    case = next(c for c in gate["cases"] if (c["endpoint"], c["metric"]) == (CACHE_READ, "p95"))
    assert case["delta"] == pytest.approx(case["now"] - case["baseline"], abs=0.001) and case["p_value"] < 0.01
    markdown = (slower.path / "gate.md").read_text()
    assert "| ❌ FAIL | GET /api/products/[id] | p95 |" in markdown
    assert 'name="GET /api/products/[id] p95"' in (slower.path / "gate-junit.xml").read_text()


def test_other_profiles_and_scales_are_refused_unless_allowed(tmp_path, baseline):
    _, path = baseline
    other = make_run(tmp_path / "other", fault=None, seed=2)
    meta = json.loads((other.path / "run.json").read_text())
    (other.path / "run.json").write_text(json.dumps(meta | {"scale": 0.5}))
    refused = peakdrill("gate", str(other.path), "--baseline", str(path), timeout=60)
    assert refused.returncode == 2 and "scale" in refused.stderr and "--allow-different-scale" in refused.stderr
    allowed = peakdrill("gate", str(other.path), "--baseline", str(path), "--allow-different-scale", timeout=60)
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
    gate = json.loads((other.path / "score.json").read_text())["gate"]
    assert not any(c["metric"] == "rps" for c in gate["cases"])


def test_the_rank_test_tells_a_shift_from_noise():
    rng = random.Random(5)
    same = [[rng.lognormvariate(math.log(10), 0.1) for _ in range(30)] for _ in range(2)]
    shifted = [x * 1.2 for x in (rng.lognormvariate(math.log(10), 0.1) for _ in range(30))]
    assert p_greater(same[0], same[1]) > 0.01
    assert p_greater(shifted, same[1]) < 0.01 and p_greater(same[1], shifted) > 0.99
    assert p_greater([], same[0]) == 1.0 and p_greater([1.0] * 5, [1.0] * 5) == 1.0
    assert p_proportion_greater(30, 1000, 5, 1000) < 0.01 and p_proportion_greater(5, 1000, 5, 1000) > 0.4
