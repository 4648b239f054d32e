"""Replay: a real web server's access log and a CSV of counts become profiles whose rates and endpoint
mix match the traffic they came from."""

from __future__ import annotations

import http.client
import math
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import pytest

import yaml

from peakdrill.rundir.histfiles import load_buckets
from peakdrill.replay.mix import replayed_weights
from peakdrill.replay.templates import endpoint_name, fold_path
from peakdrill.spec.profile import load_profile
from loadkit import peakdrill
from servers import gunicorn

ROOT = Path(__file__).resolve().parents[1]
GROWTH = 1.35
BUCKET_S = 2  # each 2 s of the log stands for a minute of a real peak: the test stays short
# Requests per bucket (a ramp up and down) and the endpoint mix inside every bucket.
CURVE = [10, 30, 50, 30, 10]
MIX = [("GET", "/api/products/{i}", 5), ("GET", "/api/products?page={i}", 2), ("POST", "/api/orders", 2),
       ("POST", "/api/orders/{i}/pay", 1)]



def send_curve(url: str) -> tuple[Counter, Counter]:
    """Send CURVE in the middle of consecutive buckets; what was sent, per bucket and per endpoint
    (bucket by the time each answer arrived: the server logs a request when it has answered it)."""
    parts = urlsplit(url)
    per_bucket: Counter = Counter()
    per_endpoint: Counter = Counter()
    first_bucket = math.floor(time.time() / BUCKET_S) + 1
    cycle = [entry for entry in MIX for _ in range(entry[2])]
    for index, count in enumerate(CURVE):
        # A quarter into the bucket, so no request of the batch crosses into the next one.
        time.sleep(max(0.0, (first_bucket + index + 0.25) * BUCKET_S - time.time()))
        # A connection per batch: the server closes one left idle between batches (keep-alive timeout).
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        try:
            for number in range(count):
                method, template, _ = cycle[number % len(cycle)]
                path = template.format(i=number + 1)
                connection.request(method, path, body=b"{}" if method == "POST" else None)
                connection.getresponse().read()
                per_bucket[math.floor(time.time() / BUCKET_S)] += 1
                per_endpoint[endpoint_name(method, path)] += 1
            connection.request("GET", "/healthz")  # a load balancer's probe: replay leaves it out
            connection.getresponse().read()
        finally:
            connection.close()
    return per_bucket, per_endpoint


def test_access_log_of_a_real_server_becomes_a_matching_profile(shop, tmp_path):
    log = tmp_path / "access.log"
    with gunicorn("answer_everything", access_log=log) as url:
        sent_per_bucket, sent_per_endpoint = send_curve(url)
    assert len(log.read_text().splitlines()) == sum(CURVE) + len(CURVE)  # the server wrote every request

    out = tmp_path / "replayed.yaml"
    result = peakdrill("profile", "from-log", str(log), "--growth", str(GROWTH), "--bucket", f"{BUCKET_S}s", "-o", str(out))
    assert result.returncode == 0, result.stderr
    profile = load_profile(out)
    assert profile.model == "open" and profile.replay.growth == GROWTH and profile.replay.counted == sum(CURVE)

    sent = [sent_per_bucket[b] for b in sorted(sent_per_bucket)]
    assert sent == CURVE  # the batches landed in the buckets meant for them
    assert [stage.duration for stage in profile.stages] == [BUCKET_S] * len(CURVE)
    for stage, count in zip(profile.stages, sent, strict=True):
        per_minute = stage.arrival_rate * 60
        expected = count * GROWTH / BUCKET_S * 60
        assert per_minute == pytest.approx(expected, rel=0.05)
    total = sum(sent_per_endpoint.values())
    assert set(profile.replay.endpoint_mix) == set(sent_per_endpoint)
    for name, share in profile.replay.endpoint_mix.items():
        assert share == pytest.approx(sent_per_endpoint[name] / total, rel=0.05), name

    # The order journey, steered by the replayed mix, sends its requests in the log's shares: real
    # Locust running loadtests/locustfile.py against the reference shop, counted from the run's histograms.
    defining = ["GET /api/products?page=[n]", "GET /api/products/[id]", "POST /api/orders", "GET /api/orders/[id]"]
    sent = journey_requests(mix_run_profile(out, tmp_path), shop.url, tmp_path / "reports")
    total = sum(sent.get(n, 0) for n in defining)
    assert total >= 1000, sent  # enough requests for shares within a few hundredths
    logged = {name: sent_per_endpoint.get(name, 0) / sum(sent_per_endpoint[n] for n in defining) for name in defining}
    produced = {name: sent.get(name, 0) / total for name in defining}
    for name in defining:
        # Task choice is random: 4 standard deviations of a share counted over `total` requests, plus
        # the weights' rounding to thousandths.
        tolerance = 4 * math.sqrt(max(logged[name] * (1 - logged[name]), 0.01) / total) + 0.01
        assert produced[name] == pytest.approx(logged[name], abs=tolerance), (name, produced, logged)
    assert 0 < sent["POST /api/orders/[id]/pay"] <= sent["POST /api/orders"]


def mix_run_profile(replayed: Path, tmp_path: Path) -> Path:
    """The replayed profile (its endpoint mix) run as a short closed-model burst: thousands of requests
    in seconds, where its own stages (the log's few hundred requests) would leave the shares to chance."""
    data = yaml.safe_load(replayed.read_text())
    data.update(model="closed", think_time={"min": 0.0, "max": 0.0},
                stages=[{"name": "mix", "duration": "12s", "users": 12, "spawn_rate": 12}])
    path = tmp_path / "mix-run.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def journey_requests(profile: Path, url: str, reports: Path) -> Counter:
    """Requests per name that `peakdrill load` with the real journeys sent to ``url``, from its histograms."""
    result = peakdrill("load", str(profile), "--host", url, "--reports-dir", str(reports), "--no-report", "--no-progress",
                       "--locustfile", str(ROOT / "loadtests" / "locustfile.py"), timeout=120)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    [run_dir] = reports.iterdir()
    sent: Counter = Counter()
    for (_, name), bucket in load_buckets(run_dir).items():
        sent[name] += bucket.count
    return sent


def test_replayed_weights_subtract_what_other_tasks_already_send():
    defaults = {"look": 4, "buy": 1}
    defining = {"look": "GET /p/[id]", "buy": "POST /o"}
    also = {"buy": ("GET /p/[id]",)}  # buying starts with a product page
    # 0.6 product reads of which 0.2 come with the purchases: looking alone is 0.4 against buying's 0.2.
    assert replayed_weights(defaults, defining, also, {"GET /p/[id]": 0.6, "POST /o": 0.2, "GET /x": 0.2}) == {
        "look": 667, "buy": 333}
    assert replayed_weights(defaults, defining, also, {"GET /p/[id]": 0.2, "POST /o": 0.3}) == {"look": 0, "buy": 1000}
    assert replayed_weights(defaults, defining, {}, {"GET /p/[id]": 0.9999, "POST /o": 0.0001}) == {"look": 1000, "buy": 1}
    assert replayed_weights(defaults, defining, also, {"GET /elsewhere": 1.0}) == defaults
    assert replayed_weights(defaults, defining, also, {}) == defaults


def test_csv_of_order_counts_needs_a_conversion_then_scales_by_growth(tmp_path):
    counts = tmp_path / "orders.csv"
    counts.write_text("minute,orders\n2025-11-11T00:00,600\n2025-11-11T00:01,1200\n2025-11-11T00:02,0\n")
    out = tmp_path / "p.yaml"
    refused = peakdrill("profile", "from-csv", str(counts), "--growth", "1.35", "-o", str(out))
    assert refused.returncode == 2 and "--requests-per-order" in refused.stderr and str(counts) in refused.stderr
    assert not out.exists()

    result = peakdrill("profile", "from-csv", str(counts), "--growth", "1.35", "--requests-per-order", "8", "-o", str(out))
    assert result.returncode == 0, result.stderr
    profile = load_profile(out)
    assert [s.arrival_rate for s in profile.stages] == pytest.approx([600 * 8 * 1.35 / 60, 1200 * 8 * 1.35 / 60, 0])
    assert profile.replay.unit == "orders" and profile.replay.counted == 1800
    assert all(stage.users >= 1 for stage in profile.stages)


@pytest.mark.parametrize("text, where", [
    ("minute,visits\n0,5\n", "line 1"),
    ("minute,requests\n0,5\n1,lots\n", "line 3, column requests"),
    ("minute,requests\n0,-5\n", "line 2, column requests"),
])
def test_bad_csv_names_file_and_line(tmp_path, text, where):
    counts = tmp_path / "counts.csv"
    counts.write_text(text)
    result = peakdrill("profile", "from-csv", str(counts), "-o", str(tmp_path / "p.yaml"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"{counts}: {where}" in result.stderr


def test_a_file_that_is_not_an_access_log_is_refused(tmp_path):
    log = tmp_path / "notes.txt"
    log.write_text("".join(f"shopping list item {n}\n" for n in range(20)))
    result = peakdrill("profile", "from-log", str(log), "-o", str(tmp_path / "p.yaml"))
    assert result.returncode == 2 and "combined log format" in result.stderr and str(log) in result.stderr


def test_ids_fold_into_templates_like_the_journeys_name_them():
    assert fold_path("/api/orders/1234/pay") == "/api/orders/[id]/pay"
    assert fold_path("/api/products?page=3") == "/api/products?page=[n]"
    assert fold_path("/api/carts/7f3c9a2e-1b2c-4d5e-8f90-0a1b2c3d4e5f/items") == "/api/carts/[id]/items"
    assert fold_path("/search?q=red+shoes&page=2") == "/search?q=[v]&page=[n]"
    assert fold_path("/api/cs/chats") == "/api/cs/chats"
    assert endpoint_name("get", "/api/products/17") == "GET /api/products/[id]"
