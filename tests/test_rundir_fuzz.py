"""Property-based fuzzing of every run-directory reader.

Random and mutated files (valid lines with a field replaced, dropped or added; bytes cut, flipped
or inserted; HdrHistogram payloads with random counters; random JSON) must give a valid result or a
PeakdrillError, never another exception, and each example must finish within the deadline. Under
CI=true each reader family gets 2,000 examples (the four JSON Lines files are drawn together, one
input each per example; about 30 s of CPU in all); locally 150.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import struct
import zlib
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from peakdrill.run.live import LiveStats
from peakdrill.errors import PeakdrillError
from peakdrill.hdrcodec import COMPRESSION_COOKIE, ENCODING_COOKIE
from peakdrill.report import score_run_dir
from peakdrill.report.capacity import headroom_verdict
from peakdrill.report.rundata import (default_groups, iter_health, read_capacity, read_events, read_health,
                                      read_journal, read_scrapes, read_series)
from peakdrill.rundir import RunDir
from peakdrill.rundir.histfiles import load_buckets
from peakdrill.rundir.records import SecondSpan
from runfactory import make_run

EXAMPLES = 2000 if os.environ.get("CI") == "true" else 150
FUZZ = settings(max_examples=EXAMPLES, deadline=timedelta(seconds=5), database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# Bytes decoded as Latin-1: any character, generated much faster than st.text().
TEXT = st.binary(max_size=10).map(lambda b: b.decode("latin-1"))
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-2**70, max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True) | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=4)


@st.composite
def hdr_payloads(draw) -> str:
    """An encoded histogram whose headers are mostly right and whose counters are random bytes."""
    body = draw(st.binary(max_size=64))
    fields = [ENCODING_COOKIE, len(body), 0, 3, 1, 3_600_000_000, 1.0]
    if draw(st.booleans()):
        at = draw(st.integers(0, 5))
        fields[at] = draw(st.integers(0, 2**32 - 1)) if at < 4 else draw(st.integers(0, 2**63))
    inner = zlib.compress(struct.pack(">IIIIQQd", *fields) + body)
    outer = struct.pack(">II", COMPRESSION_COOKIE, len(inner) + draw(st.sampled_from([0, 0, 0, 1, -1]))) + inner
    return base64.b64encode(outer).decode()


@st.composite
def mutated_line(draw, valid: list[dict], keys: list[str]) -> str:
    record = dict(draw(st.sampled_from(valid)))
    for _ in range(draw(st.integers(0, 3))):
        action = draw(st.sampled_from(["set", "set", "drop", "add", "hist"]))
        key = draw(st.sampled_from(keys))
        if action == "set":
            record[key] = draw(JSON)
        elif action == "drop":
            record.pop(key, None)
        elif action == "add":
            record[draw(TEXT)] = draw(JSON)
        else:
            record["hist"] = draw(hdr_payloads())
    try:
        text = json.dumps(record)
    except ValueError:
        text = "{}"
    if draw(st.integers(0, 4)) == 0:  # byte-level damage
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(TEXT) + text[at + draw(st.integers(0, 8)):]
    return text


def file_contents(valid: list[dict], keys: list[str]):
    line = st.one_of(st.sampled_from([json.dumps(r) for r in valid]), mutated_line(valid, keys),
                     JSON.map(lambda v: json.dumps(v, default=str)), TEXT)
    return st.tuples(st.lists(line, min_size=0, max_size=4), st.booleans()).map(
        lambda parts: "\n".join(parts[0]) + ("\n" if parts[1] else ""))


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("fuzz")
    run = make_run(base, duration_s=8, warmup_s=2, fault=(3.0, 5.0), recovery_lag_s=1.0, cache_reads_per_s=3,
                   orders_per_s=1, sources=("worker-1-1",))
    (run.path / "capacity.json").write_text(json.dumps({
        "forecast": {"orders_per_s": 2.0, "scale": 1.0}, "headroom_target": 0.3, "slo": {"p95_ms": 100, "error_ratio": 0.01},
        "steps": [{"step": 1, "users": 4, "rps": 10, "orders_per_s": 3, "p95_ms": 20, "error_ratio": 0, "held": True}],
        "knee": None, "broke_at": None}))
    return run.path


@pytest.fixture()
def workdir(template, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("case") / "run"
    shutil.copytree(template, path)
    return path


def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _tolerated(read) -> None:
    try:
        read()
    except PeakdrillError:
        pass


FAMILIES = {
    "histograms": ("histograms/worker-1-1.jsonl", ["second", "name", "count", "failures", "hist", "late", "source"]),
    "events": ("events.jsonl", ["ts", "t", "type", "fault_id", "fault", "by", "experiment"]),
    "generator": ("generator.jsonl", ["ts", "source", "cpu_percent", "users", "rps", "intended_rps", "achieved_rps",
                                      "second", "master", "names", "requests"]),
    "server-metrics": ("server-metrics.jsonl", ["ts", "ok", "text", "error"]),
}


def _read_family(family: str, run_dir: Path) -> None:
    info = RunDir(run_dir).meta()
    if family == "histograms":
        span = SecondSpan.of_run(info.start_ts, info.planned_end_ts)
        builder = read_series(run_dir, span, default_groups(info), [])
        builder.endpoint_series(), builder.group_series(), builder.endpoint_totals()
        load_buckets(run_dir, span)
        LiveStats(run_dir).poll()
    elif family == "events":
        read_events(run_dir, info, [])
    elif family == "generator":
        list(iter_health(run_dir))
        read_health(run_dir, [])
    else:
        read_scrapes(run_dir, [])


def test_jsonl_readers_survive_anything(template, workdir):
    """Each example gives every JSONL family its own input (and runs each family's reader on it)."""
    contents = []
    for family, (relative, keys) in sorted(FAMILIES.items()):
        valid = _records(template / relative)
        if family == "generator":  # both formats
            valid.append({"second": 1795302905, "master": "m", "names": ["w", "m"], "cpu_percent": [40.0, 1.0],
                          "users": [3, 0], "rps": [5, 0], "requests": [5, 0]})
        contents.append(file_contents(valid, keys))

    @FUZZ
    @given(st.tuples(*contents))
    def check(texts: tuple[str, ...]) -> None:
        for (family, (relative, _)), text in zip(sorted(FAMILIES.items()), texts):
            (workdir / relative).write_text(text)
        for family in sorted(FAMILIES):
            _tolerated(lambda: _read_family(family, workdir))

    check()


def test_run_json_reader_survives_anything(template, workdir):
    valid = [json.loads((template / "run.json").read_text())]
    keys = ["format", "start_ts", "end_ts", "status", "stages", "timeline", "slo", "endpoints", "run_id", "kind"]

    @FUZZ
    @given(file_contents(valid, keys).map(lambda text: text.replace("\n", " ")))
    def check(content: str) -> None:
        (workdir / "run.json").write_text(content)
        _tolerated(lambda: RunDir(workdir).meta())

    check()


def test_capacity_and_journal_readers_survive_anything(template, workdir):
    capacity = json.loads((template / "capacity.json").read_text())
    journal_path = next((template / "journals").glob("*.json"))
    journal = json.loads(journal_path.read_text())

    @FUZZ
    @given(file_contents([capacity], list(capacity) + ["steps"]), file_contents([journal], list(journal)))
    def check(capacity_text: str, journal_text: str) -> None:
        (workdir / "capacity.json").write_text(capacity_text.replace("\n", " "))
        (workdir / "journals" / journal_path.name).write_text(journal_text.replace("\n", " "))

        def read() -> None:
            result = read_capacity(workdir)
            if result is not None:
                headroom_verdict(result)
            read_journal(workdir / "journals" / journal_path.name, [])

        _tolerated(read)

    check()


def test_the_whole_report_survives_hostile_run_json_and_events(template, workdir):
    """Beyond the readers: scoring itself on run.json and events that read but are odd. Each
    example is a whole report (~10 ms), so a quarter of the readers' count."""
    meta = json.loads((template / "run.json").read_text())
    events = _records(template / "events.jsonl")
    meta_keys = ["stages", "timeline", "slo", "endpoints", "status", "end_ts"]

    @settings(FUZZ, max_examples=EXAMPLES // 4)
    @given(mutated_line([meta], meta_keys), file_contents(events, ["ts", "type", "fault_id", "by", "t"]))
    def check(meta_text: str, events_text: str) -> None:
        (workdir / "run.json").write_text(meta_text)
        (workdir / "events.jsonl").write_text(events_text)
        _tolerated(lambda: score_run_dir(workdir))

    check()
