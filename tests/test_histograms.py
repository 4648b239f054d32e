"""Histograms merge exactly: any split of the same samples gives the same counts and percentiles,
and those percentiles are the raw samples' (sorted, within HdrHistogram's quantisation)."""

from __future__ import annotations

import json
import random

from hdrh.histogram import HdrHistogram

from oracle import assert_percentile
from peakdrill.histograms import HISTOGRAM_DIR, Recorder, load_buckets, merge_buckets


def test_split_across_sources_merges_to_the_single_process_reference(tmp_path):
    rng = random.Random(7)
    samples = [(1000 + i // 50, "GET /p", rng.lognormvariate(2.0, 0.8), rng.random() < 0.02) for i in range(5000)]
    # One histogram of every sample, built with hdrh directly (not through peakdrill's Bucket).
    reference = HdrHistogram(1, 3_600_000_000, 3)
    workers = [Recorder(f"worker-{n}") for n in range(3)]
    for index, (second, name, latency, failed) in enumerate(samples):
        reference.record_value(round(latency * 1000))
        workers[index % 3].record(second, name, latency, failed)
    (tmp_path / HISTOGRAM_DIR).mkdir()
    for worker in workers:
        records = worker.drain()
        (tmp_path / HISTOGRAM_DIR / f"{worker.source}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    merged = merge_buckets(load_buckets(tmp_path).values())
    assert merged.count == reference.get_total_count() == 5000
    assert merged.failures == sum(failed for *_, failed in samples)
    for percentile in (50, 95, 99, 99.9, 100):
        assert merged.percentile_ms(percentile) == reference.get_value_at_percentile(percentile) / 1000
        assert_percentile(merged.percentile_ms(percentile), [latency for _, _, latency, _ in samples], percentile)


def test_drain_keeps_the_second_still_filling():
    recorder = Recorder("w")
    recorder.record(10, "a", 1.0, False)
    recorder.record(11, "a", 1.0, False)
    assert [r["second"] for r in recorder.drain(before_second=11)] == [10]
    assert [r["second"] for r in recorder.drain()] == [11]


def test_a_torn_last_line_is_skipped_and_the_rest_kept(tmp_path):
    recorder = Recorder("w")
    for second in range(3):
        recorder.record(second, "a", 2.0, False)
    lines = [json.dumps(r) for r in recorder.drain()]
    (tmp_path / HISTOGRAM_DIR).mkdir()
    (tmp_path / HISTOGRAM_DIR / "w.jsonl").write_text("\n".join(lines) + "\n" + lines[0][:20])
    assert sum(b.count for b in load_buckets(tmp_path).values()) == 3
