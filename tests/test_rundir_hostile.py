"""Damaged or hostile run-directory files: a clear RunDirError naming the file and the line (or the
run.json field), never a hang, a crash or a wrong verdict."""

from __future__ import annotations

import json
import time

import pytest

from peakdrill.run.live import LiveStats
from peakdrill.errors import RunDirError
from peakdrill.report import score_run_dir
from runfactory import make_run


def _histogram_file(run):
    return sorted((run.path / "histograms").glob("*.jsonl"))[0]


def _replace_line(path, number: int, text: str) -> None:
    lines = path.read_text().splitlines()
    lines[number - 1] = text
    path.write_text("\n".join(lines) + "\n")


def _mutate_record(path, number: int, **changes) -> None:
    record = json.loads(path.read_text().splitlines()[number - 1])
    record.update(changes)
    _replace_line(path, number, json.dumps(record))


@pytest.mark.parametrize("changes, message", [
    ({"count": -3}, "'count' must be a whole number"),
    ({"failures": -1}, "'failures' must be a whole number"),
    ({"failures": 10**6}, "'failures' (1000000) is more than 'count'"),
    ({"count": "12"}, "'count' must be a whole number"),
    ({"second": 0}, "'second' lies outside the run"),
    ({"second": 10**12}, "'second' lies outside the run"),
    ({"second": 1795302950.5}, "'second' must be a whole number"),
    ({"name": ["GET /"]}, "'name' must be a string"),
    ({"hist": "HISTFAAAACl4nJNpmSzMwMDAyQABzFCaEURcm7yEwf4DRGCiBVM/I9NKRiYAh2AGmQ=="}, "'hist' holds 3 samples"),
    ({"hist": "not base64 at all!"}, "'hist' is not base64"),
    ({"hist": "SGVsbG8gd29ybGQ="}, "'hist' is not a compressed HdrHistogram"),
    ({"hist": 42}, "'hist' must be a base64 HdrHistogram string"),
])
def test_a_bad_histogram_record_names_its_file_and_line(tmp_path, changes, message):
    run = make_run(tmp_path, duration_s=40, warmup_s=5, fault=None)
    path = _histogram_file(run)
    _mutate_record(path, 5, **changes)
    started = time.monotonic()
    with pytest.raises(RunDirError) as error:
        score_run_dir(run.path)
    assert f"{path}:5: " in str(error.value) and message in str(error.value), str(error.value)
    assert time.monotonic() - started < 10  # a second far outside the run once made the report loop


@pytest.mark.parametrize("text, message", [
    ("{oops", "not valid JSON"),
    ('["a", "list"]', "expected a JSON object, got list"),
    ('"just a string"', "expected a JSON object, got str"),
    ('{"second": NaN}', "not valid JSON"),
])
def test_a_torn_or_misshapen_line_before_the_last_names_its_line(tmp_path, text, message):
    run = make_run(tmp_path, duration_s=40, warmup_s=5, fault=None)
    for path in (_histogram_file(run), run.path / "events.jsonl", run.path / "generator.jsonl",
                 run.path / "server-metrics.jsonl"):
        saved = path.read_text()
        _replace_line(path, 2, text)
        with pytest.raises(RunDirError, match=rf"{path.name}:2: {message}"):
            score_run_dir(run.path)
        path.write_text(saved)


@pytest.mark.parametrize("file, changes, message", [
    ("events.jsonl", {"ts": "soon"}, "'ts' must be a number"),
    ("events.jsonl", {"type": 7}, "'type' must be a string"),
    ("events.jsonl", {"fault_id": {"a": 1}}, "'fault_id' must be a string"),
    ("generator.jsonl", {"cpu_percent": -5}, "'cpu_percent' must be a number >= 0"),
    ("generator.jsonl", {"users": 2.5}, "'users' must be a whole number"),
    ("server-metrics.jsonl", {"ok": "yes"}, "'ok' must be true or false"),
    ("server-metrics.jsonl", {"text": ["# a list"]}, "'text' must be a string"),
])
def test_a_bad_field_in_the_other_jsonl_files_names_file_and_line(tmp_path, file, changes, message):
    run = make_run(tmp_path, duration_s=40, warmup_s=5)
    _mutate_record(run.path / file, 3, **changes)
    with pytest.raises(RunDirError) as error:
        score_run_dir(run.path)
    assert f"{file}:3: " in str(error.value) and message in str(error.value), str(error.value)


@pytest.mark.parametrize("field, value, message", [
    ("stages", [{"name": "s", "start_s": 0, "end_s": 10, "measured": "no"}], "'stages.0.measured' must be true or false"),
    ("stages", [{"name": "s", "start_s": 10, "end_s": 5}], "'stages.0.end_s' must be a number >= start_s"),
    ("stages", {"name": "s"}, "'stages' must be a list"),
    ("start_ts", "yesterday", "'start_ts' must be a number"),
    ("end_ts", True, "'end_ts' must be a number"),
    ("status", "exploded", "'status' must be one of running, completed"),
    ("slo", {"cache_read_p99_ms": "fast"}, "'slo.cache_read_p99_ms' must be a number"),
    ("endpoints", {"cache_read": [1, 2]}, "'endpoints.cache_read' must be a list of request names"),
    ("timeline", [{"at_s": "later"}], "'timeline.0.at_s' must be a number"),
    ("format", 99, "'format' is 99; this peakdrill reads formats 1, 2"),
])
def test_a_bad_run_json_field_is_named(tmp_path, field, value, message):
    run = make_run(tmp_path, duration_s=40, warmup_s=5)
    meta = json.loads((run.path / "run.json").read_text())
    meta[field] = value
    (run.path / "run.json").write_text(json.dumps(meta))
    with pytest.raises(RunDirError) as error:
        score_run_dir(run.path)
    assert "run.json" in str(error.value) and message in str(error.value), str(error.value)


def test_a_bad_capacity_json_is_named(tmp_path):
    run = make_run(tmp_path, duration_s=40, warmup_s=5)
    (run.path / "capacity.json").write_text(json.dumps({"steps": "many"}))
    with pytest.raises(RunDirError, match="capacity.json: not a capacity result"):
        score_run_dir(run.path)


def test_the_live_view_names_the_line_of_a_bad_record(tmp_path):
    run = make_run(tmp_path, duration_s=40, warmup_s=5, fault=None)
    path = _histogram_file(run)
    _mutate_record(path, 3, failures=-2)
    with pytest.raises(RunDirError, match=rf"{path.name}:3: 'failures' must be a whole number"):
        LiveStats(run.path).poll()
