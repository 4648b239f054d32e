"""Run directories written before format 2 (per-worker histogram records, verbatim server scrapes)
still report the same verdicts. The fixtures were written by the format-1 code (commit f9e4b0f) with
tests/runfactory.py; expected-score.json is what that code's report said about them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from peakdrill.report import build_report

FIXTURES = Path(__file__).parent / "fixtures" / "format1"


@pytest.mark.parametrize("case", ["pass", "fail"])
def test_a_format_1_run_directory_reports_the_same_verdicts(tmp_path, case):
    run_dir = tmp_path / case
    shutil.copytree(FIXTURES / case, run_dir)
    expected = json.loads((run_dir / "expected-score.json").read_text())
    assert json.loads((run_dir / "run.json").read_text())["format"] == 1
    score = build_report(run_dir, output_dir=tmp_path / "out").to_dict()
    for key in ("verdict", "status", "exit_code", "totals", "endpoints", "generator_max_cpu", "saturated"):
        assert score[key] == expected[key], key
    # Fault summaries gained fields since (the injecting provider, overlapping faults: issue 12);
    # every field the format-1 report had must still say the same.
    assert [{k: fault[k] for k in old} for fault, old in zip(score["faults"], expected["faults"])] == expected["faults"]
    assert len(score["faults"]) == len(expected["faults"])
    # The verdicts' wording moved on with SLO rules (issue 10); what they measure and decide did not.
    core = ("id", "verdict", "measured", "target", "unit", "comparison", "window")
    assert [{k: v[k] for k in core} for v in score["verdicts"]] == [{k: v[k] for k in core} for v in expected["verdicts"]]
