"""Prometheus metrics of a running drill, load test or capacity search (``--metrics-port``).

Every value is read from the :class:`~peakdrill.live.feed.LiveFeed` snapshot at scrape time, so a
scrape costs the runner nothing between scrapes. Latency is a Prometheus histogram computed from
the merged HdrHistograms: a request counts under ``le`` when its HdrHistogram bucket's highest
value (what the report's percentiles return) is at most ``le``, and every SLO latency bound is a
bucket edge, so ``histogram_quantile`` and the report agree on which side of a bound a run is.
Names and units follow Prometheus' conventions (seconds, ratios, ``_total`` counters); the
dashboard ``dashboards/peakdrill.json`` is written against them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric

from peakdrill.histograms import Bucket, highest_equivalent
from peakdrill.errors import PeakdrillError
from peakdrill.live.feed import Snapshot
from peakdrill.slo.model import LATENCY, RuleSet

DEFAULT_EDGES_S = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0)


def bucket_edges(ruleset: RuleSet) -> tuple[float, ...]:
    """Prometheus' default-like edges plus every latency bound of the run's rules (ms -> s)."""
    bounds = {rule.bound.value / 1000.0 for rule in ruleset.rules if rule.metric.kind == LATENCY}
    return tuple(sorted(set(DEFAULT_EDGES_S) | bounds))


def cumulative(bucket: Bucket, edges_s: tuple[float, ...]) -> tuple[list[tuple[str, float]], float]:
    """(le, cumulative count) per edge and +Inf, and the sum of latencies in seconds."""
    index, counts = bucket.arrays()
    values_s = highest_equivalent(index) / 1e6 if len(index) else np.zeros(0)
    below = np.cumsum(counts)
    positions = np.searchsorted(values_s, np.asarray(edges_s), side="right")
    rows = [(_le(edge), float(below[p - 1]) if p else 0.0) for edge, p in zip(edges_s, positions)]
    return rows + [("+Inf", float(counts.sum()))], float(np.dot(values_s, counts))


def _le(edge: float) -> str:
    return f"{edge:g}"


class DrillCollector:
    def __init__(self, snapshot: Callable[[], Snapshot], edges_s: tuple[float, ...]) -> None:
        self.snapshot, self.edges_s = snapshot, edges_s

    def describe(self) -> list[Metric]:
        return []  # the metrics depend on the run; nothing to check at registration

    def collect(self) -> Iterator[Metric]:
        snap = self.snapshot()
        requests = CounterMetricFamily("peakdrill_requests", "Requests completed, per endpoint.", labels=["endpoint"])
        failures = CounterMetricFamily("peakdrill_request_failures", "Requests failed, per endpoint.", labels=["endpoint"])
        latency = HistogramMetricFamily("peakdrill_request_duration_seconds",
                                        "Request latency per endpoint, from the merged HdrHistograms.", labels=["endpoint"])
        for name, bucket in sorted(snap.totals.items()):
            requests.add_metric([name], bucket.count)
            failures.add_metric([name], bucket.failures)
            rows, total_s = cumulative(bucket, self.edges_s)
            latency.add_metric([name], rows, total_s)
        yield from (requests, failures, latency)

        info = GaugeMetricFamily("peakdrill_run_info", "The run being exported (always 1).", labels=["run_id", "kind", "plan"])
        info.add_metric([snap.run_id, snap.kind, snap.plan], 1)
        yield info
        yield _gauge("peakdrill_run_start_timestamp_seconds", "When the run started (Unix time).", snap.start_ts)
        yield _gauge("peakdrill_run_measured", "1 while the current stage is scored.", snap.measured)
        yield _gauge("peakdrill_run_aborting", "1 once the run aborts or is interrupted (rollbacks playing).", snap.aborting)
        yield _gauge("peakdrill_run_inconclusive", "1 once the run cannot pass: interrupted, or the load generator saturated.",
                     snap.inconclusive)
        stage = GaugeMetricFamily("peakdrill_stage", "The current stage of the load profile (1).", labels=["stage"])
        if snap.stage:
            stage.add_metric([snap.stage], 1)
        yield stage
        yield _gauge("peakdrill_stage_users", "Users the current stage asks for.", snap.stage_users)
        yield _gauge("peakdrill_users", "Users running, over every load process.", snap.users)
        yield _gauge("peakdrill_workers", "Load worker processes reporting (masters not counted).", snap.workers)
        cpu = GaugeMetricFamily("peakdrill_worker_cpu_ratio", "CPU busy of each load process (1 = one core).", labels=["worker"])
        for worker, percent in sorted(snap.workers_cpu.items()):
            cpu.add_metric([worker], percent / 100.0)
        yield cpu
        faults = GaugeMetricFamily("peakdrill_fault_active", "1 while a fault is injected, 0 once it is removed.",
                                   labels=["fault_id", "fault", "target", "experiment", "plan"])
        for fault in snap.faults:
            faults.add_metric([fault.fault_id, fault.fault, fault.target, fault.experiment, snap.plan],
                              1 if fault.end_ts is None else 0)
        yield faults
        rules = GaugeMetricFamily("peakdrill_slo_rule_holding",
                                  "1 while an SLO rule holds over its last sustained window, 0 while it is broken.",
                                  labels=["rule"])
        for rule, holds in sorted(snap.rules.items()):
            rules.add_metric([rule], 1 if holds else 0)
        yield rules


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=float(value))


class MetricsServer:
    """The ``/metrics`` endpoint, served by prometheus_client on its own thread."""

    def __init__(self, snapshot: Callable[[], Snapshot], ruleset: RuleSet, host: str, port: int) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(DrillCollector(snapshot, bucket_edges(ruleset)))
        try:
            self._server, self._thread = start_http_server(port, addr=host, registry=self.registry)
        except OSError as exc:
            raise PeakdrillError(f"--metrics-host/--metrics-port {host}:{port}: cannot listen ({exc.strerror}); "
                                 f"pick a free port, or 0 for any") from exc
        self.host, self.port = host, self._server.server_port

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/metrics"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
