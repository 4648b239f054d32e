"""The live views' parts without a drill: the Prometheus histogram against a numpy oracle, the stop
endpoint's token, the terminal's fallback. (The whole thing on a real drill: tests/test_live.py.)"""

from __future__ import annotations

import urllib.error
import urllib.request

import numpy as np

from peakdrill.histograms import Bucket
from peakdrill.live.exporter import bucket_edges, cumulative
from peakdrill.live.feed import Fault, Snapshot
from peakdrill.live.progress import describe
from peakdrill.live.web import LivePage, LiveWebServer
from peakdrill.slo.parse import parse_section


def test_histogram_buckets_count_what_lies_below_each_edge_and_slo_bounds_are_edges():
    rules = parse_section({"rules": [{"name": "p95", "requests": "*", "metric": "p95", "bound": "< 333ms"}]}, "slo.yaml")
    edges = bucket_edges(rules)
    assert 0.333 in edges and edges == tuple(sorted(edges))
    rng = np.random.default_rng(7)
    samples_ms = rng.lognormal(mean=4.0, sigma=1.0, size=20_000)
    bucket = Bucket()
    for ms in samples_ms:
        bucket.record(float(ms), failed=False)
    rows, total_s = cumulative(bucket, edges)
    assert rows[-1] == ("+Inf", 20_000.0)
    for (le, count), edge in zip(rows, edges):
        oracle = int((samples_ms / 1000 <= edge).sum())
        # HdrHistogram buckets are at most 1/1000 of their value wide: only samples that close to an edge may differ.
        near = int((np.abs(samples_ms / 1000 - edge) <= edge / 1000).sum())
        assert abs(count - oracle) <= near, (le, count, oracle)
    assert total_s == np.float64(total_s) and abs(total_s - samples_ms.sum() / 1000) / (samples_ms.sum() / 1000) < 0.002


def _post(url: str, body: bytes) -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=body, method="POST"), timeout=10) as reply:
            return reply.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_the_stop_needs_the_token_and_a_post(tmp_path):
    stops, running = [], [False]

    def request_stop() -> bool:
        if running[0]:
            stops.append(1)
        return running[0]

    server = LiveWebServer(LivePage(lambda: None, lambda: "starting"), request_stop, "127.0.0.1", 0)
    try:
        assert server.host == "127.0.0.1"  # loopback unless bound elsewhere on purpose
        page = urllib.request.urlopen(server.url, timeout=10).read().decode()
        assert 'id="stop-button"' in page and server.token not in page
        assert _post(server.url + "stop", b"token=" + server.token[:-1].encode()) == 403
        assert _post(server.url + "stop", b"") == 403
        try:
            urllib.request.urlopen(server.url + "stop?token=" + server.token, timeout=10)
            raise AssertionError("a GET must not stop the drill")
        except urllib.error.HTTPError as exc:
            assert exc.code == 405
        assert stops == []
        assert _post(server.url + "stop", b"token=" + server.token.encode()) == 409  # not running (yet)
        running[0] = True
        assert _post(server.url + "stop", b"token=" + server.token.encode()) == 202
        assert _post(server.url + "stop", b"token=" + server.token.encode()) == 202  # a second press stops once
        assert stops == [1]
    finally:
        server.close()


def test_the_progress_bar_says_stage_users_faults_and_stopping():
    snap = Snapshot(load_start_ts=1.0, stage="steady", users=12, aborting=True,
                    faults=(Fault("c@1", "cache-stopped", "redis", "x.yaml", 2.0, None), Fault("d@1", "db-slow", "pg", "y.yaml", 1.0, 1.5)))
    assert describe(snap) == "steady | 12 users | FAULT cache-stopped | STOPPING (rollbacks)"
    assert describe(Snapshot()) == "starting the load"
