"""dashboards/peakdrill.json: the structure Grafana imports, and PromQL that names only metrics the
exporter really serves (parsed out of every expression, checked against a live scrape)."""

from __future__ import annotations

import json
import re
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from drillkit import ROOT
from peakdrill.histograms import Bucket
from peakdrill.live.exporter import MetricsServer
from peakdrill.live.feed import Fault, Snapshot
from peakdrill.slo.model import RuleSet
from peakdrill.slo.parse import parse_section

DASHBOARD = ROOT / "dashboards" / "peakdrill.json"
PANEL_TYPES = {"timeseries", "stat", "state-timeline", "gauge", "table", "bargauge", "text"}
# PromQL words that are not metric names: operators, modifiers, and the functions/aggregations used.
KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset"}


def metric_names(expr: str) -> set[str]:
    """The metric names an expression selects (strings, label matchers, ranges, groupings, calls removed)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)
    text = re.sub(r"\{[^}]*\}", "", text)
    text = re.sub(r"\[[^\]]*\]", "", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    names = set()
    for match in re.finditer(r"(?<![\w$.])([a-zA-Z_:][a-zA-Z0-9_:]*)\b(\s*\()?", text):
        word, call = match.group(1), match.group(2)
        if not call and word not in KEYWORDS:
            names.add(word)
    return names


def test_metric_names_are_parsed_out_of_promql():
    assert metric_names('histogram_quantile(0.95, sum by (endpoint, le) (rate(a_bucket{endpoint=~"$x"}[$__rate_interval])))') \
        == {"a_bucket"}
    assert metric_names("sum(rate(b_total[1m])) / on (x) group_left c and d == 1") == {"b_total", "c", "d"}


@pytest.fixture(scope="module")
def exported() -> set[str]:
    """Every sample name the exporter serves, scraped over HTTP from a snapshot with every kind of data."""
    rules = parse_section({"rules": [{"name": "reads fast", "requests": "*", "metric": "p95", "bound": "< 300ms"}]},
                          "slo.yaml")
    latency = Bucket()
    for ms in (3, 40, 120, 299, 301, 900):
        latency.record(ms, failed=ms > 800)
    snapshot = Snapshot(run_id="r", plan="demo", stage="steady", stage_users=10, measured=True, users=10,
                        workers_cpu={"worker-1": 35.0}, totals={"GET /api/products": latency},
                        faults=(Fault("cache@1", "cache-stopped", "redis", "cache-outage.yaml", 1.0, None),),
                        rules={rules.rules[0].id: True})
    server = MetricsServer(lambda: snapshot, rules, "127.0.0.1", 0)
    try:
        text = urllib.request.urlopen(server.url, timeout=10).read().decode()
    finally:
        server.close()
    assert 'le="0.3"' in text  # the rule's 300 ms bound is a bucket edge
    return {sample.name for family in text_string_to_metric_families(text) for sample in family.samples}


def _targets(dashboard: dict):
    for panel in dashboard["panels"]:
        for target in panel.get("targets", ()):
            yield panel, target


def test_dashboard_has_the_structure_grafana_imports(exported):
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] and dashboard["title"] and isinstance(dashboard["schemaVersion"], int)
    assert dashboard["schemaVersion"] >= 36  # a current Grafana (9+) migrates nothing
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids)) and all(isinstance(i, int) for i in ids)
    titles = " ".join(panel["title"].lower() for panel in dashboard["panels"])
    for wanted in ("latency", "throughput", "errors", "slo", "worker", "fault"):
        assert wanted in titles, wanted
    for panel in dashboard["panels"]:
        assert panel["type"] in PANEL_TYPES, panel["type"]
        grid = panel["gridPos"]
        assert all(isinstance(grid[k], int) for k in "xywh") and grid["x"] + grid["w"] <= 24 and grid["h"] > 0
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        refs = [t["refId"] for t in panel["targets"]]
        assert refs and len(refs) == len(set(refs))

    expressions = [target["expr"] for _, target in _targets(dashboard)]
    annotations = [a for a in dashboard["annotations"]["list"] if a.get("datasource", {}).get("type") == "prometheus"]
    assert annotations and "peakdrill_fault_active" in annotations[0]["expr"]  # fault windows as annotations
    expressions += [a["expr"] for a in annotations]
    for variable in (v for v in variables.values() if v["type"] == "query"):
        metric, label = re.fullmatch(r"label_values\((\w+),\s*(\w+)\)", variable["query"]["query"]).groups()
        expressions.append(f"{metric}{{{label}!=\"\"}}")
    used = set()
    for expr in expressions:
        names = metric_names(expr)
        assert names, expr
        used |= names
    assert used <= exported, f"not exported: {sorted(used - exported)}"
    # Every family the issue asks for is on the dashboard.
    for family in ("peakdrill_request_duration_seconds_bucket", "peakdrill_requests_total", "peakdrill_request_failures_total",
                   "peakdrill_slo_rule_holding", "peakdrill_workers", "peakdrill_worker_cpu_ratio", "peakdrill_fault_active",
                   "peakdrill_stage", "peakdrill_run_measured", "peakdrill_run_aborting", "peakdrill_run_inconclusive"):
        assert family in used, family
