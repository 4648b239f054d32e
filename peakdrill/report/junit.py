"""junit.xml: one test suite per run, one test case per verdict.

FAIL is a ``<failure>``, INCONCLUSIVE a ``<skipped>`` with the reason, so CI systems show them.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from peakdrill.report.score import FAIL, INCONCLUSIVE, Score


def render_junit(score: Score) -> str:
    failures = sum(1 for v in score.verdicts if v.verdict == FAIL)
    skipped = sum(1 for v in score.verdicts if v.verdict == INCONCLUSIVE)
    suite_name = f"peakdrill.{score.run_id}"
    suites = ET.Element("testsuites", name="peakdrill", tests=str(len(score.verdicts)),
                        failures=str(failures), errors="0", skipped=str(skipped))
    suite = ET.SubElement(suites, "testsuite", name=suite_name, tests=str(len(score.verdicts)),
                          failures=str(failures), errors="0", skipped=str(skipped),
                          time=f"{score.totals.get('duration_s', 0):g}")
    properties = ET.SubElement(suite, "properties")
    ET.SubElement(properties, "property", name="verdict", value=score.verdict)
    ET.SubElement(properties, "property", name="status", value=score.status)
    for index, reason in enumerate(score.reasons):
        ET.SubElement(properties, "property", name=f"reason.{index}", value=reason)
    for verdict in score.verdicts:
        case = ET.SubElement(suite, "testcase", classname=suite_name, name=verdict.id, time="0")
        message = f"{verdict.title}: measured {verdict.measured_text}, target {verdict.target_text}"
        if verdict.window:
            message += f" ({verdict.window})"
        if verdict.verdict == FAIL:
            failure = ET.SubElement(case, "failure", message=message, type="SLO")
            failure.text = verdict.detail
        elif verdict.verdict == INCONCLUSIVE:
            ET.SubElement(case, "skipped", message=f"{verdict.title}: {verdict.detail or 'inconclusive'}")
        out = ET.SubElement(case, "system-out")
        out.text = f"{message}\n{verdict.detail}"
    if score.verdict == INCONCLUSIVE and not skipped:
        # The run itself is untrusted (interrupted, saturated): say so as one skipped case.
        case = ET.SubElement(suite, "testcase", classname=suite_name, name="measurement_trusted", time="0")
        ET.SubElement(case, "skipped", message="; ".join(score.reasons))
        suite.set("tests", str(len(score.verdicts) + 1))
        suite.set("skipped", "1")
        suites.set("tests", suite.get("tests"))
        suites.set("skipped", "1")
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
