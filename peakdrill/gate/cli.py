"""``peakdrill baseline save`` and ``peakdrill gate``: catch a regression that is still within budget."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from peakdrill.argtypes import number
from peakdrill.exitcodes import table
from peakdrill.gate import baseline as baselines
from peakdrill.gate.compare import GateResult, Tolerances, check_comparable, compare, overall
from peakdrill.gate.render import render_junit, render_markdown
from peakdrill.report.rules import load_for_rules
from peakdrill.report.rundata import FINISHED_OK
from peakdrill.report.trust import behind_reasons, refused_reasons, saturation_reasons, status_reason
from peakdrill.report.verdict import EXIT_CODES
from peakdrill.report.writer import write_file

BASELINE_HELP = "save a compact, committable summary of a good run, to gate later runs against"
BASELINE_EPILOG = """\
examples:
  peakdrill baseline save reports/20261121-231117-ci -o perf/baseline.json
"""
GATE_HELP = "compare a run with a baseline endpoint by endpoint; fail on a regression beyond tolerance"
GATE_DESCRIPTION = GATE_HELP + """.

Per endpoint, p95 and p99 fail when more than --latency-pct AND --latency-ms worse, the error ratio
when up by more than --error-points, the throughput when down by more than --throughput-pct at the
same offered load; each only when the run's per-second samples are worse than the baseline's by a
rank test at --alpha (so noise does not fail a build), with at least --min-seconds samples.
Runs of another profile or scale are refused unless allowed. Writes gate.md (a pull-request
comment), gate-junit.xml (one test case per endpoint and metric) and adds "gate" to score.json.
"""
GATE_EPILOG = """\
examples:
  peakdrill gate reports/<run-id> --baseline perf/baseline.json
  peakdrill gate reports/<run-id> --baseline perf/baseline.json --latency-pct 20 --output-dir out/

""" + table()


def save_baseline(args: argparse.Namespace) -> int:
    summary = baselines.summarise(load_for_rules(args.run_dir)[0])
    baselines.save(summary, Path(args.output))
    print(f"peakdrill: baseline of {summary.run_id} ({len(summary.endpoints)} endpoints, profile "
          f"{summary.profile!r} at scale {summary.scale:g}) saved to {args.output}")
    return 0


def _trust(data) -> list[str]:
    reasons = [] if data.info.status == FINISHED_OK else [status_reason(data)]
    return reasons + saturation_reasons(data) + behind_reasons(data) + refused_reasons(data)


def gate(args: argparse.Namespace) -> int:
    data = load_for_rules(args.run_dir)[0]
    base, now = baselines.load(Path(args.baseline)), baselines.summarise(data)
    notes = check_comparable(base, now, args.allow_different_profile, args.allow_different_scale, args.baseline)
    tolerances = Tolerances(latency_pct=float(args.latency_pct), latency_ms=float(args.latency_ms),
                            error_points=float(args.error_points), throughput_pct=float(args.throughput_pct),
                            alpha=float(args.alpha), min_seconds=int(args.min_seconds))
    cases = compare(base, now, tolerances, throughput=not notes or all("targets differ" in n for n in notes))
    verdict, reasons = overall(cases, _trust(data))
    result = GateResult(verdict, base.run_id, now.run_id, tuple(cases), tuple(reasons + notes))
    out = Path(args.output_dir) if args.output_dir else data.run_dir
    out.mkdir(parents=True, exist_ok=True)
    write_file(out / "gate.md", render_markdown(result))
    write_file(out / "gate-junit.xml", render_junit(result))
    score_file = out / "score.json"
    score = json.loads(score_file.read_text(encoding="utf-8")) if score_file.is_file() else {}
    write_file(score_file, json.dumps(score | {"gate": result.to_dict()}, indent=2) + "\n")
    print(f"peakdrill: gate {verdict} against {args.baseline}: " + "; ".join(reasons + notes))
    print(f"peakdrill: {out / 'gate.md'}, {out / 'gate-junit.xml'}")
    return EXIT_CODES[verdict]


def register(subparsers) -> None:
    from peakdrill.options import option

    parser = subparsers.add_parser("baseline", help=BASELINE_HELP, description=BASELINE_HELP, epilog=BASELINE_EPILOG,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = parser.add_subparsers(dest="baseline_command", metavar="ACTION", required=True)
    save = actions.add_parser("save", help=BASELINE_HELP, description=BASELINE_HELP, epilog=BASELINE_EPILOG,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    save.add_argument("run_dir", metavar="RUN_DIR", help="the good run, e.g. reports/20261121-231117-ci")
    option(save, "-o", "--output", default="baseline.json", env="PEAKDRILL_BASELINE_OUTPUT", help="where to write the baseline")
    save.set_defaults(handler=save_baseline)

    parser = subparsers.add_parser("gate", help=GATE_HELP, description=GATE_DESCRIPTION, epilog=GATE_EPILOG,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", metavar="RUN_DIR", help="the run to judge")
    option(parser, "--baseline", default="baseline.json", help="the baseline saved by `peakdrill baseline save`")
    option(parser, "--output-dir", metavar="DIR", env="PEAKDRILL_GATE_OUTPUT_DIR",
           help="write gate.md, gate-junit.xml, score.json here instead of RUN_DIR")
    option(parser, "--allow-different-profile", action="store_true", help="compare runs of different profiles")
    option(parser, "--allow-different-scale", action="store_true", help="compare runs at different scales")
    defaults = Tolerances()
    tolerance = number(float, 0, 1e9, above_low=False, example="10")
    option(parser, "--latency-pct", default=defaults.latency_pct, type=tolerance, help="p95/p99 tolerance in percent")
    option(parser, "--latency-ms", default=defaults.latency_ms, type=tolerance, help="p95/p99 tolerance in ms (both must be exceeded)")
    option(parser, "--error-points", default=defaults.error_points, type=number(float, 0, 100, above_low=False, example="1"),
           help="error-ratio tolerance in percentage points")
    option(parser, "--throughput-pct", default=defaults.throughput_pct, type=tolerance, help="throughput tolerance in percent")
    option(parser, "--alpha", default=defaults.alpha, type=number(float, 0, 1, example="0.05"),
           help="significance level of the noise test")
    option(parser, "--min-seconds", default=defaults.min_seconds, type=number(int, 0, 1_000_000, example="10"),
           help="per-second samples needed on each side")
    parser.set_defaults(handler=gate)
