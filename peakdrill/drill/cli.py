"""``peakdrill drill``: run a drill file and leave its run directory (and, by default, its report)."""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

from peakdrill.argtypes import number, shard, utc_time
from peakdrill.drill.plan import DrillPlan, Overrides, build_plan
from peakdrill.errors import SpecError
from peakdrill.live.cli import add_live_options, watching
from peakdrill.options import option
from peakdrill.outputs import output_dir
from peakdrill.run.finish import finish_run
from peakdrill.run.locust import Topology
from peakdrill.run.runner import RunMode, run_drill
from peakdrill.run.schedule import shard_stages, utc_text
from peakdrill.run.worker import WorkerOptions, run_worker
from peakdrill.spec.drill import load_drill
from peakdrill.spec.limits import MAX_DURATION_S, MAX_LOCAL_WORKERS, MAX_REMOTE_WORKERS, MAX_SCALE

DESCRIPTION = """\
Run a drill: the drill's load profile through real Locust (a master and local workers) and its
timeline of Chaos Toolkit experiments on the same clock, against a target the drill allows.

Across machines: `--expect-workers N` runs the master and the timeline here and waits (at most
--wait-for-workers seconds) for N workers started elsewhere with `peakdrill drill DRILL.yaml
--worker --master-host H` (or plain `locust --worker`); no fault is injected before every expected
worker has joined and the load has started. A worker that drops out is an event on the timeline.
Past one master: N masters with `--shard K/N` and the same `--start-at` start the profile at the
same instant with 1/N of the users each; only shard 0 runs the experiments, the others record the
timeline; `peakdrill merge` combines their run directories into one run with one report.

Everything is validated first (drill, profile, experiments, target host); then the run directory
reports/<run-id>/ is written as the drill goes (see docs/run-directory.md). Ctrl-C stops the
drill in order: the running experiment's rollbacks play, Locust stops, the data is kept.
"""

EPILOG = """\
examples:
  peakdrill shop up && peakdrill drill drills/demo.yaml
  peakdrill drill drills/demo.yaml --scale 0.5 --no-report
  peakdrill drill drills/demo.yaml --target http://127.0.0.1:9000
  peakdrill drill drills/demo.yaml --web --web-port 8089 --metrics-port 9464   # watch it live (docs/live.md)

  # across machines: the runner and master here, 3 workers elsewhere
  peakdrill drill drills/demo.yaml --expect-workers 3 --master-port 5557
  peakdrill drill drills/demo.yaml --worker --master-host 10.0.0.2 --master-port 5557

  # two masters on one clock, then one run and one report
  peakdrill drill drills/demo.yaml --shard 0/2 --start-at 2026-11-11T00:00:00Z --no-report
  peakdrill drill drills/demo.yaml --shard 1/2 --start-at 2026-11-11T00:00:00Z --no-report
  peakdrill merge reports/<shard-0> reports/<shard-1> -o reports/double11
"""


def _worker(args: argparse.Namespace) -> int:
    """Worker processes of a drill's master elsewhere: they need the drill's journeys, not its target."""
    if args.expect_workers:
        raise SpecError("the command line", "--worker/--expect-workers", "both given",
                        "a process is either the master (--expect-workers) or a worker (--worker); pick one")
    drill_file = Path(args.drill_file)
    drill = load_drill(drill_file)
    output_dir(args.reports_dir, "--reports-dir")
    endpoints = Path(drill.target.endpoint_map) if drill.target.endpoint_map else None
    options = WorkerOptions(locustfile=Path(drill.load.locustfile), profile_file=Path(drill.load.profile),
                            scale=args.scale or drill.load.scale, workers=args.workers or 1, endpoints=endpoints,
                            source=str(drill_file))
    return run_worker(options, Topology(role="worker", master_host=args.master_host, master_port=args.master_port),
                      Path(args.reports_dir))


def _mode(args: argparse.Namespace, plan: DrillPlan) -> tuple[DrillPlan, RunMode]:
    """The plan as this master runs it (its shard's users) and how it runs it (topology, clock)."""
    index, count = args.shard or (0, 1)
    if args.start_at is not None and args.start_at < time.time() - 1:
        raise SpecError("the command line", "--start-at", f"{utc_text(args.start_at)} is in the past",
                        "give every master the same time a little ahead, e.g. a minute from now")
    topology = Topology()
    if args.expect_workers:
        topology = Topology(role="master", master_host=args.master_bind_host, master_port=args.master_port,
                            wait_for_workers_s=args.wait_for_workers)
    meta = {"shard": {"index": index, "count": count}} if count > 1 else {}
    if args.start_at is not None:
        meta["start_at"] = utc_text(args.start_at)
    return (replace(plan, stages=shard_stages(plan.stages, index, count)),
            RunMode(kind="drill", topology=topology, meta=meta, run_timeline=index == 0, start_at_ts=args.start_at,
                    run_suffix=f"-shard{index}of{count}" if count > 1 else ""))


def handle(args: argparse.Namespace) -> int:
    if args.worker:
        return _worker(args)
    overrides = Overrides(target=args.target, shop_dir=args.shop_dir, allow_hosts=tuple(args.allow_host or ()),
                          scale=args.scale, workers=args.expect_workers or args.workers)
    plan, mode = _mode(args, build_plan(Path(args.drill_file), overrides))
    output_dir(args.reports_dir, "--reports-dir")
    workers = (f"waiting for {plan.workers} remote worker(s) on port {args.master_port}" if args.expect_workers
               else f"{plan.workers} Locust worker(s)")
    shard = f", shard {args.shard[0]}/{args.shard[1]}" if args.shard else ""
    start = f", starting at {utc_text(args.start_at)}" if args.start_at is not None else ""
    experiments = f"{len(plan.steps)} experiment(s)" + ("" if mode.run_timeline else " (recorded; shard 0 runs them)")
    print(f"peakdrill: drill {plan.drill.name!r} against {plan.target_url}: {len(plan.stages)} stages over "
          f"{plan.load_duration_s:.0f}s at scale {plan.scale:g}{shard}{start}, {experiments}, {workers}", flush=True)
    with watching(args, plan) as observers:
        run = run_drill(plan, Path(args.reports_dir), show_progress=not args.no_progress, mode=mode, observers=observers)
        return finish_run(run, args.no_report)


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
    roles = parser.add_argument_group("across machines (docs/scaling.md)")
    option(roles, "--expect-workers", type=number(int, 0, MAX_REMOTE_WORKERS, example="3"),
           help="be the master: run the timeline here and wait for N remote workers before the load starts")
    option(roles, "--wait-for-workers", default=120.0, type=number(float, 0, MAX_DURATION_S, example="120"),
           help="(master) seconds to wait for every worker to join")
    option(roles, "--master-bind-host", default="*", help="(master) the interface to listen on for workers")
    option(roles, "--worker", action="store_true",
           help="be --workers Locust worker processes of the drill's master at --master-host (no target, no timeline)")
    option(roles, "--master-host", default="127.0.0.1", help="(worker) the master's address")
    option(roles, "--master-port", default=5557, type=number(int, 0, 65535, example="5557"), help="the master's port")
    option(roles, "--shard", type=shard, metavar="K/N",
           help="be master K (from 0) of N: 1/N of the users; only shard 0 runs the experiments")
    option(roles, "--start-at", type=utc_time, metavar="UTC",
           help="start the load's first stage at this UTC instant (e.g. 2026-11-11T00:00:00Z), the same for every shard")
    parser.set_defaults(handler=handle)
