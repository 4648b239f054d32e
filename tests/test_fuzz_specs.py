"""Property-based fuzz of every spec loader: random and mutated inputs give a valid result or a
PeakdrillError, never another exception, never a hang (tests/fuzzkit.py). Under CI=true each loader
family gets at least 2,000 generated inputs."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fuzzkit import (FUZZ_SETTINGS, HOSTILE_SCALARS, SAMPLE_SETTINGS, SCALARS, dump, file_contents, only_peakdrill_errors, scratch_dir, trees,
                     write)
from peakdrill.argtypes import duration, number
from peakdrill.run.experiments import prepare
from peakdrill.replay.accesslog import read_access_log
from peakdrill.replay.build import build_profile, per_bucket
from peakdrill.replay.counts import read_counts
from peakdrill.sizing.calibration import load_calibration
from peakdrill.integrity.config import load_integrity
from peakdrill.spec.drill import load_drill
from peakdrill.spec.endpoints import load_endpoint_map
from peakdrill.spec.loader import parse_duration
from peakdrill.spec.profile import load_profile
from peakdrill.spec.safeyaml import load_yaml

ROOT = Path(__file__).resolve().parent.parent
SCRATCH = scratch_dir()  # one file per family, rewritten per example

PROFILE = {"name": "peak", "model": "open", "user_mix": {"order": 7, "customer_service": 3},
           "think_time": {"min": "1s", "max": "3s"}, "cs_mix": {"intents": {"logistics": 1}, "channels": {"chat": 1}},
           "forecast": {"peak_orders_per_day": 150000, "headroom_target": 0.3, "peak_factor": 2},
           "replay": {"source": "x.log", "counted": 10, "endpoint_mix": {"GET /": 0.5, "POST /o": 0.5}},
           "stages": [{"name": "warm", "duration": "15s", "users": 10, "spawn_rate": 5, "measured": False, "arrival_rate": 2},
                      {"name": "steady", "duration": "1m", "users": 30, "arrival_rate": 5.5}]}
DRILL = {"name": "fuzz", "target": {"url": "http://127.0.0.1:9", "allowed_hosts": ["127.0.0.1"]},
         "load": {"profile": "profile.yaml", "scale": 0.5, "workers": 1, "locustfile": "locust.py"},
         "timeline": [{"at": "10s", "experiment": "experiment.yaml", "vars": {"outage_duration": 5}, "recovery_target": "30s"}],
         "slo": {"cache_read_p99_ms": 50, "order_success_rate": 0.98}, "abort": {"error_ratio": 0.5, "sustained": "10s"},
         "max_duration": "5m"}
CALIBRATION = json.loads(json.dumps({"format": 1, "source": "measured", "machine": {"cpus": 2}, "think_time_s": [0.5, 1.5],
                                     "users_reached": 3000, "peak_rps": 2500.0, "requests_per_cpu_second": 2600.0,
                                     "memory_per_user_bytes": 40000.0, "base_rss_bytes": 150000000,
                                     "saturation": {"users": 2800, "rps": 2400.0, "cpu_percent": 91.0},
                                     "samples": [{"t": 1.0, "users": 10, "rps": 9.0, "cpu_percent": 3.0, "rss_bytes": 1}]}))
INTEGRITY = {"timeout": "30s", "settle": 2, "sample": 5, "kinds": {
    "order": {"type": "reference-shop", "customer_prefix": "lt-"},
    "payment": {"type": "http", "url": "http://127.0.0.1:9/charges", "items": "charges", "ref_field": "key"},
    "booking": {"type": "sql", "url": "sqlite:///x.db", "query": "SELECT id, ref FROM bookings", "id_prefix": "lt-"},
    "ticket": {"type": "command", "command": ["./ids.sh", "--all"]}}}
ENDPOINT_MAP = load_yaml(ROOT / "loadtests" / "targets" / "reference-shop.yaml")
EXPERIMENT_FILES = sorted((ROOT / "experiments").glob("*.yaml"))
ACCESS_LINES = ['127.0.0.1 - - [29/Nov/2026:10:00:{s:02d} +0000] "GET /api/products/{s} HTTP/1.1" 200 512 "-" "curl"\n',
                '10.0.0.7 - - [29/Nov/2026:10:01:{s:02d} +0100] "POST /api/orders HTTP/1.1" 201 88 "-" "Mozilla/5.0"\n']


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _directory(name: str) -> Path:
    path = SCRATCH / name
    path.mkdir(exist_ok=True)
    return path


@FUZZ_SETTINGS
@given(file_contents(PROFILE, [dump(PROFILE), _text(ROOT / "loadtests/profiles/demo.yaml"),
                               _text(ROOT / "loadtests/profiles/double11-peak.yaml")]),
       st.one_of(st.floats(allow_nan=True), st.sampled_from([1e-9, 0.001, 1.0, 1000.0])))
def test_profiles(content, scale):
    path = _directory("profile") / "profile.yaml"
    write(path, content)
    profile = only_peakdrill_errors(load_profile, path)
    if profile is not None and scale > 0:  # a valid profile, scaled as a run would (scale itself is checked first)
        only_peakdrill_errors(profile.scaled_stages, scale, str(path))


@FUZZ_SETTINGS
@given(file_contents(DRILL, [dump(DRILL), _text(ROOT / "drills/demo.yaml")]))
def test_drills(content):
    directory = _directory("drill")
    if not (directory / "locust.py").exists():  # what the valid drill refers to
        write(directory / "profile.yaml", dump(PROFILE))
        write(directory / "experiment.yaml", _text(ROOT / "experiments/cache-outage.yaml"))
        write(directory / "locust.py", "")
    write(directory / "drill.yaml", content)
    only_peakdrill_errors(load_drill, directory / "drill.yaml")


@FUZZ_SETTINGS
@given(file_contents(INTEGRITY, [dump(INTEGRITY), dump({"integrity": INTEGRITY})]))
def test_integrity_files(content):
    path = _directory("integrity") / "integrity.yaml"
    write(path, content)
    only_peakdrill_errors(load_integrity, path)


@FUZZ_SETTINGS
@given(file_contents(ENDPOINT_MAP, [_text(ROOT / "loadtests/targets/reference-shop.yaml")]))
def test_endpoint_maps(content):
    path = _directory("map") / "map.yaml"
    write(path, content)
    found = only_peakdrill_errors(load_endpoint_map, path)
    if found is not None:
        for endpoint in found.endpoints.values():
            endpoint.url(**{name: 1 for name in ("id", "n") if "{" + name + "}" in endpoint.path})


@FUZZ_SETTINGS
@given(file_contents(CALIBRATION, [json.dumps(CALIBRATION, indent=2)]))
def test_calibrations(content):
    path = _directory("calibration") / "calibration.json"
    write(path, content)
    only_peakdrill_errors(load_calibration, path)


COUNT_VALUES = st.one_of(st.integers(-5, 10**6).map(str), st.floats().map(str), HOSTILE_SCALARS.map(str), st.text(max_size=8))


@st.composite
def csv_files(draw):
    header = draw(st.sampled_from(["requests", "orders", "minute,requests", "time,orders,other", "", "requests;x",
                                   '"requests', draw(st.text(max_size=20))]))
    rows = draw(st.lists(st.lists(COUNT_VALUES, min_size=1, max_size=3).map(",".join), max_size=30))
    text = "\n".join([header, *rows]) + draw(st.sampled_from(["", "\n", "\r\n", '\n"unterminated', "\0"]))
    return text if draw(st.integers(0, 5)) else draw(st.binary(max_size=100))


@FUZZ_SETTINGS
@given(csv_files(), st.sampled_from([None, "requests", "orders", "other", ""]))
def test_csv_counts(content, column):
    path = _directory("csv") / "counts.csv"
    write(path, content)
    found = only_peakdrill_errors(read_counts, path, column)
    if found is not None:
        unit, counts = found
        only_peakdrill_errors(build_profile, "replay", counts, bucket_s=60.0, growth=1.35, source=str(path),
                              unit="orders" if unit == "orders" else "requests", requests_per_unit=9.0)


@st.composite
def access_logs(draw):
    lines = [draw(st.sampled_from(ACCESS_LINES)).format(s=draw(st.integers(0, 59))) for _ in range(draw(st.integers(0, 12)))]
    for _ in range(draw(st.integers(0, 4))):
        line = draw(st.sampled_from(ACCESS_LINES)).format(s=1)
        edit = draw(st.sampled_from(["prose", "date", "zone", "path"]))
        if edit == "prose":
            line = draw(st.text(max_size=60)) + "\n"
        elif edit == "date":
            line = line.replace("29/Nov/2026", draw(st.sampled_from(
                ["31/Feb/2026", "01/Jan/0001", "31/Dec/9999", "29/Nov/1970", "xx/Nov/2026", "29/Nov/2026:99"])))
        elif edit == "zone":
            line = line.replace("+0000", draw(st.sampled_from(["+9999", "-2400", "Z", "+1400"])))
        else:
            line = line.replace("/api/products/1", draw(st.text(
                alphabet=st.characters(blacklist_categories=("Zs", "Cc")), min_size=1, max_size=40)))
        lines.insert(draw(st.integers(0, len(lines))), line)
    text = "".join(lines)
    return text if draw(st.integers(0, 7)) else text.encode("utf-8") + draw(st.binary(max_size=40))


@FUZZ_SETTINGS
@given(access_logs(), st.sampled_from([10.0, 60.0, 3600.0]), st.sampled_from([(), ("/healthz",), ("",)]))
def test_access_logs(content, bucket_s, excludes):
    path = _directory("log") / "access.log"
    write(path, content)

    def replay():
        counts, endpoints, _ = per_bucket(read_access_log(path, excludes), bucket_s, str(path))
        return build_profile("replay", counts, bucket_s=bucket_s, growth=1.0, source=str(path), unit="requests",
                             endpoints=endpoints)

    only_peakdrill_errors(replay)


def _validators() -> list:
    """Every ``validate_*`` argument check of every module of the chaos provider."""
    import importlib
    import pkgutil

    import peakdrill.chaos

    found = []
    for module in pkgutil.iter_modules(peakdrill.chaos.__path__):
        loaded = importlib.import_module(f"peakdrill.chaos.{module.name}")
        found += [function for name, function in vars(loaded).items()
                  if name.startswith("validate_") and name != "validate_control" and inspect.isfunction(function)
                  and function.__module__ == loaded.__name__]
    assert len(found) >= 20
    return found


VALIDATORS = _validators()


@st.composite
def activity_arguments(draw):
    validator = draw(st.sampled_from(VALIDATORS))
    names = [name for name in inspect.signature(validator).parameters if name != "shop_dir"]
    arguments = {name: draw(st.one_of(SCALARS, trees(max_leaves=4))) for name in names if draw(st.booleans())}
    return validator, arguments


@FUZZ_SETTINGS
@given(activity_arguments())
def test_experiment_arguments(validate):
    """The provider's argument checks: what `chaos validate` and a drill run before any fault."""
    validator, arguments = validate
    only_peakdrill_errors(validator, **arguments)


@SAMPLE_SETTINGS
@given(st.sampled_from(EXPERIMENT_FILES).flatmap(lambda path: file_contents(load_yaml(path), [_text(path)]).map(
    lambda content: (path, content))))
def test_experiment_files(experiment):
    """An experiment file as a drill reads it: parsed, its variables set, validated by Chaos Toolkit
    (slower per example: fewer of them)."""
    source, content = experiment
    path = _directory("experiment") / source.name
    write(path, content)
    only_peakdrill_errors(prepare, 0, 1.0, path, {}, 30.0, SCRATCH / "no-shop")


@FUZZ_SETTINGS
@given(st.one_of(st.text(max_size=30), HOSTILE_SCALARS.map(str)))
def test_option_values(value):
    """Every typed option parses a value or says why not (argparse turns that into exit 2)."""
    import argparse

    for parse in (number(int, 0, 256), number(float, 0, 1000), number(float, 0, 1, above_low=False), duration()):
        try:
            parse(value)
        except argparse.ArgumentTypeError as exc:
            assert len(str(exc)) < 300
    try:
        parse_duration(value)
    except ValueError as exc:
        assert len(str(exc)) < 300


@pytest.fixture(scope="module", autouse=True)
def _scratch():
    yield
    import shutil

    shutil.rmtree(SCRATCH, ignore_errors=True)
