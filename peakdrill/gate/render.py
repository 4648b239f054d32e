"""The gate's outputs for CI: JUnit XML (one test case per endpoint and metric) and Markdown for a
pull-request comment (baseline against now, with deltas)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from peakdrill.gate.compare import GateResult
from peakdrill.report.markdown import ICONS, table
from peakdrill.report.verdict import FAIL, INCONCLUSIVE


def _value(value: float | None, unit: str) -> str:
    if value is None:
        return "–"
    return f"{value:g}{unit}" if unit in ("%", "") else f"{value:g} {unit}"


def _delta(case) -> str:
    if case.delta is None:
        return "–"
    pct = f" ({case.delta_pct:+g}%)" if case.delta_pct is not None and case.unit != "%" else ""
    unit = " points" if case.unit == "%" else f" {case.unit}"
    return f"{case.delta:+g}{unit}{pct}"


def render_markdown(result: GateResult) -> str:
    out = [f"## {ICONS[result.verdict]} peakdrill gate {result.verdict}: `{result.run_id}` against baseline "
           f"`{result.baseline_run}`", ""]
    out += [f"- {reason}" for reason in result.reasons] + [""]
    shown = sorted(result.cases, key=lambda c: (c.verdict not in (FAIL, INCONCLUSIVE), c.endpoint, c.metric))
    out += table(["Result", "Endpoint", "Metric", "Baseline", "Now", "Delta"],
                 [[f"{ICONS[c.verdict]} {c.verdict}", c.endpoint, c.metric, _value(c.baseline, c.unit),
                   _value(c.now, c.unit), _delta(c)] for c in shown])
    return "\n".join(out) + "\n"


def render_junit(result: GateResult) -> str:
    failures = sum(1 for c in result.cases if c.verdict == FAIL)
    skipped = sum(1 for c in result.cases if c.verdict == INCONCLUSIVE)
    name = f"peakdrill.gate.{result.run_id}"
    counts = dict(tests=str(len(result.cases)), failures=str(failures), errors="0", skipped=str(skipped))
    suites = ET.Element("testsuites", name="peakdrill-gate", **counts)
    suite = ET.SubElement(suites, "testsuite", name=name, **counts)
    properties = ET.SubElement(suite, "properties")
    ET.SubElement(properties, "property", name="verdict", value=result.verdict)
    ET.SubElement(properties, "property", name="baseline_run", value=result.baseline_run)
    for case in result.cases:
        element = ET.SubElement(suite, "testcase", classname=name, name=f"{case.endpoint} {case.metric}", time="0")
        message = (f"{case.endpoint} {case.metric}: baseline {_value(case.baseline, case.unit)}, now "
                   f"{_value(case.now, case.unit)} ({_delta(case)}): {case.detail}")
        if case.verdict == FAIL:
            ET.SubElement(element, "failure", message=message, type="regression").text = case.detail
        elif case.verdict == INCONCLUSIVE:
            ET.SubElement(element, "skipped", message=message)
        ET.SubElement(element, "system-out").text = message
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
