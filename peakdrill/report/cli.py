"""``peakdrill report RUN_DIR``: score a run and write score.json, report.html, report.md, junit.xml.

Exit code: 0 PASS, 1 FAIL, 3 INCONCLUSIVE (2 for a usage or input error, raised as RunDirError).
"""

from __future__ import annotations

import argparse

from peakdrill.options import add_rule_options, option, rules_from_args
from peakdrill.report.score import Score

HELP = "score a run directory and write score.json, report.html, report.md and junit.xml"
DESCRIPTION = """\
Score a run directory (written by `peakdrill drill`, `load`, `capacity` or `merge`) against its
targets and write score.json, report.html, report.md and junit.xml, all four or none (they are
written aside and renamed into place). The exit code is the verdict.
"""
EPILOG = """\
examples:
  peakdrill report reports/20261121-231500-demo
  peakdrill report reports/20261121-231500-demo --output-dir /tmp/report
  peakdrill report reports/20261121-231500-demo --template my-report.html.j2
"""


def register(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("report", help=HELP, description=DESCRIPTION, epilog=EPILOG)
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a run directory, e.g. reports/20261121-231500-demo")
    option(parser, "--output-dir", metavar="DIR", env="PEAKDRILL_REPORT_OUTPUT_DIR",
           help="write the report files here instead of into RUN_DIR")
    option(parser, "--template", metavar="PATH", help="Jinja2 template for report.html (copy "
           "peakdrill/report/templates/report.html.j2 to start)")
    add_rule_options(parser, "instead of the rules the run recorded")
    parser.set_defaults(handler=run)
    return parser


def summary(score: Score) -> str:
    rows = [(v.verdict, v.title, v.measured_text, v.target_text, v.window) for v in score.verdicts]
    header = ("VERDICT", "CHECK", "MEASURED", "TARGET", "WINDOW")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(4)]
    lines = ["  ".join(str(c).ljust(widths[i]) if i < 4 else str(c) for i, c in enumerate(r)).rstrip()
             for r in [header, *rows]]
    totals = score.totals
    lines.append(f"{totals['requests']:,} requests, {totals['failures']:,} failures, {totals['duration_s']:g} s")
    lines.append(f"{score.verdict}: " + "; ".join(score.reasons))
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from peakdrill import crash
    from peakdrill.outputs import output_dir
    from peakdrill.report import build_report, report_files
    from peakdrill.spec.safeyaml import read_text

    crash.note_run_dir(args.run_dir)
    if args.output_dir:
        output_dir(args.output_dir, "--output-dir")
    if args.template:
        read_text(args.template, what="report template")

    score = build_report(args.run_dir, args.output_dir, args.template, rules_from_args(args))
    print(summary(score))
    print(f"report: {report_files(args.run_dir, args.output_dir).html}")
    return score.exit_code
