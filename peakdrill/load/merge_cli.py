"""``peakdrill merge``: one run directory out of several masters' (shards of one big run)."""

from __future__ import annotations

import argparse
from pathlib import Path

from peakdrill.options import option
from peakdrill.load.merge import merge_runs
from peakdrill.run.finish import finish_run

DESCRIPTION = """\
Merge the run directories that several Locust masters wrote for one run (each master with its own
workers, e.g. one per machine group) into one run directory, then score it. The histograms are
copied unchanged, so counts add up and percentiles are exact; run.json takes the earliest start,
the latest end and the worst status, and lists the shards.
"""

EPILOG = """\
examples:
  peakdrill merge reports/20261122-001500-peak reports/20261122-001502-peak -o reports/peak-merged
  peakdrill merge shard-a/ shard-b/ shard-c/ -o reports/peak-all --no-report
"""


def handle(args: argparse.Namespace) -> int:
    run, warnings = merge_runs([Path(path) for path in args.run_dirs], Path(args.output))
    for warning in warnings:
        print(f"peakdrill: warning: {warning}", flush=True)
    return finish_run(run, args.no_report)


def register(subparsers) -> None:
    parser = subparsers.add_parser("merge", help="merge several masters' run directories (shards) into one",
                                   description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="a run directory written by one master")
    option(parser, "-o", "--output", required=True, metavar="OUT", env="PEAKDRILL_MERGE_OUTPUT",
           help="the merged run directory to create (written aside and renamed: complete or absent)")
    option(parser, "--no-report", action="store_true", help="only merge; score it later with `peakdrill report`")
    parser.set_defaults(handler=handle)
