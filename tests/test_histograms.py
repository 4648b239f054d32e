"""Histograms merge exactly: any split of the same samples gives the same counts and percentiles,
those percentiles are the raw samples' (sorted, within HdrHistogram's quantisation), and the stored
encoding is the standard HdrHistogram one (the ``hdrhistogram`` package reads it)."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
from hdrh.histogram import HdrHistogram

from oracle import assert_percentile
from peakdrill import hdrcodec
from peakdrill.histograms import HISTOGRAM_DIR, Bucket, Recorder, merge_buckets
from peakdrill.rundir.histfiles import load_buckets, records_of


def _write(tmp_path, source: str, wire: list[dict]) -> None:
    lines = records_of(wire, source=source)
    (tmp_path / HISTOGRAM_DIR).mkdir(exist_ok=True)
    (tmp_path / HISTOGRAM_DIR / f"{source}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))


def test_split_across_sources_merges_to_the_single_process_reference(tmp_path):
    rng = random.Random(7)
    samples = [(1000 + i // 50, "GET /p", rng.lognormvariate(2.0, 0.8), rng.random() < 0.02) for i in range(5000)]
    # One histogram of every sample, built with hdrh directly (not through peakdrill's Bucket).
    reference = HdrHistogram(1, 3_600_000_000, 3)
    workers = [Recorder(f"worker-{n}") for n in range(3)]
    for index, (second, name, latency, failed) in enumerate(samples):
        reference.record_value(round(latency * 1000))
        workers[index % 3].record(second, name, latency, failed)
    for worker in workers:
        _write(tmp_path, worker.source, worker.drain())
    merged = merge_buckets(load_buckets(tmp_path).values())
    assert merged.count == reference.get_total_count() == 5000
    assert merged.failures == sum(failed for *_, failed in samples)
    for percentile in (50, 95, 99, 99.9, 100):
        assert merged.percentile_ms(percentile) == reference.get_value_at_percentile(percentile) / 1000
        assert_percentile(merged.percentile_ms(percentile), [latency for _, _, latency, _ in samples], percentile)


@pytest.mark.parametrize("seed", range(5))
def test_the_encoding_is_hdrhistograms_and_percentiles_match_it(seed):
    """Same bytes as the hdrhistogram package writes, decoded back exactly; percentiles and max as it
    computes them; every value within 1/1000 of its bucket's reported value (3 significant digits)."""
    rng = random.Random(seed)
    reference, bucket = HdrHistogram(1, 3_600_000_000, 3), Bucket()
    values = [rng.choice([rng.lognormvariate(9, 2), rng.uniform(1, 3000), 1.0, 3_600_000_000.0]) for _ in range(2000)]
    for value in values:
        micros = min(max(int(round(value)), 1), 3_600_000_000)
        reference.record_value(micros)
        bucket.record(micros / 1000, False)
    index, counts = bucket.arrays()
    text = hdrcodec.encode(index.tolist(), counts.tolist())
    assert text == reference.encode().decode()
    assert HdrHistogram.decode(text.encode()).get_total_count() == 2000
    _, decoded_index, decoded_counts = hdrcodec.decode_batch([text])
    assert dict(zip(decoded_index.tolist(), decoded_counts.tolist())) == bucket.counts
    for percentile in (0, 50, 90, 99, 99.9, 99.99, 100):
        assert bucket.percentile_ms(percentile) == reference.get_value_at_percentile(percentile) / 1000
    assert bucket.max_ms() == reference.get_max_value() / 1000
    ordered = np.sort(np.array([min(max(int(round(v)), 1), 3_600_000_000) for v in values]))
    for percentile in (50, 90, 99, 99.9):
        exact = ordered[max(int(percentile / 100 * len(ordered) + 0.5), 1) - 1]
        reported = bucket.percentile_ms(percentile) * 1000
        assert exact <= reported <= exact * 1.001 + 1, (percentile, exact, reported)


def test_a_batch_decodes_every_record_apart():
    rng = random.Random(3)
    buckets = [Bucket() for _ in range(50)]
    for bucket in buckets:
        for _ in range(rng.choice([0, 1, 3, 300])):
            bucket.record(rng.lognormvariate(3, 1), False)
    texts = [hdrcodec.encode(*(a.tolist() for a in b.arrays())) for b in buckets]
    position, index, counts = hdrcodec.decode_batch(texts)
    for at, bucket in enumerate(buckets):
        rows = position == at
        assert dict(zip(index[rows].tolist(), counts[rows].tolist())) == bucket.counts


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
    _write(tmp_path, "w", recorder.drain())
    path = tmp_path / HISTOGRAM_DIR / "w.jsonl"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines) + "\n" + lines[0][:20])
    assert sum(b.count for b in load_buckets(tmp_path).values()) == 3
