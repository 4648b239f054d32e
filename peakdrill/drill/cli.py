"""``peakdrill drill``: run a drill file and leave its run directory (and, by default, its report)."""

from __future__ import annotations

import argparse
from pathlib import Path

from peakdrill.argtypes import number
from peakdrill.cli import option
from peakdrill.drill.plan import Overrides, build_plan
from peakdrill.drill.runner import run_drill
from peakdrill.live.cli import add_live_options, watching
from peakdrill.outputs import output_dir
from peakdrill.rundir import RunDir
from peakdrill.spec.limits import MAX_LOCAL_WORKERS, MAX_SCALE

DESCRIPTION = """\
Run a drill: the drill's load profile through real Locust (a master and local workers) and its
timeline of Chaos Toolkit experiments on the same clock, against a target the drill allows.

Everything is validated first (drill, profile, experiments, target host); then the run directory
reports/<run-id>/ is written as the drill goes (see docs/run-directory.md). Ctrl-C stops the
drill in order: the running experiment's rollbacks play, Locust stops, the data is kept.
"""

EPILOG = """\
examples:
  peakdrill shop up && peakdrill drill drills/demo.yaml
  peakdrill drill drills/demo.yaml --scale 0.5 --no-report
  peakdrill drill drills/demo.yaml --target http://127.0.0.1:9000
  peakdrill drill drills/demo.yaml --web --web-port 8089 --metrics-port 9464
"""


def handle(args: argparse.Namespace) -> int:
    overrides = Overrides(target=args.target, shop_dir=args.shop_dir, allow_hosts=tuple(args.allow_host or ()),
                          scale=args.scale, workers=args.workers)
    plan = build_plan(Path(args.drill_file), overrides)
    output_dir(args.reports_dir, "--reports-dir")
    print(f"peakdrill: drill {plan.drill.name!r} against {plan.target_url}: {len(plan.stages)} stages over "
          f"{plan.load_duration_s:.0f}s at scale {plan.scale:g}, {len(plan.steps)} experiment(s), {plan.workers} Locust worker(s)",
          flush=True)
    with watching(args, plan) as observers:
        run = run_drill(plan, Path(args.reports_dir), show_progress=not args.no_progress, observers=observers)
        return finish_run(run, args.no_report)


def finish_run(run: RunDir, no_report: bool) -> int:
    """Say how the run ended, score it (unless told not to) and return the exit code."""
    status = run.read_meta()["status"]
    print(f"peakdrill: run {status}: {run.path}", flush=True)
    if no_report:
        return 0 if status == "completed" else 3
    from peakdrill.report import build_report

    score = build_report(run.path)
    print(f"peakdrill: verdict {score.verdict}; report: {run.path / 'report.html'}", flush=True)
    return score.exit_code


def register(subparsers) -> None:
    parser = subparsers.add_parser("drill", help="run a drill (load + faults on one clock)", description=DESCRIPTION,
                                   epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("drill_file", metavar="DRILL.yaml", help="the drill to run, e.g. drills/demo.yaml")
    option(parser, "--target", help="target base URL, overriding the drill's target")
    option(parser, "--shop-dir", default=".peakdrill/shop",
           help="state directory of the reference shop to drill, when the drill names no URL or shop_dir")
    option(parser, "--allow-host", action="append", metavar="HOST",
           help="also allow load and faults to HOST (repeatable); only for hosts you own")
    option(parser, "--scale", type=number(float, 0, MAX_SCALE, example="0.01"),
           help="multiply the profile's users and spawn rates (e.g. 0.001 on a laptop); default: the drill's load.scale")
    option(parser, "--workers", type=number(int, 0, MAX_LOCAL_WORKERS, example="2"),
           help="number of local Locust worker processes; default: the drill's load.workers")
    option(parser, "--reports-dir", default="reports", help="where run directories are created")
    option(parser, "--no-progress", action="store_true", help="do not print the live progress lines")
    option(parser, "--no-report", action="store_true", help="only record the run; score it later with `peakdrill report`")
    add_live_options(parser)
    parser.set_defaults(handler=handle)
