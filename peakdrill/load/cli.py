"""``peakdrill load``: run a profile with Locust's own master and workers, record it, report it."""

from __future__ import annotations

import argparse
from pathlib import Path

from peakdrill.argtypes import number
from peakdrill.errors import SpecError
from peakdrill.live.cli import add_live_options, watching
from peakdrill.load.plan import COMMAND_LINE, DEFAULT_LOCUSTFILE, LoadOptions, build_load_plan
from peakdrill.options import add_rule_options, option, rules_from_args
from peakdrill.outputs import output_dir
from peakdrill.run.finish import finish_run
from peakdrill.run.locust import Topology
from peakdrill.run.runner import RunMode, run_drill
from peakdrill.run.worker import WorkerOptions, run_worker
from peakdrill.spec.limits import MAX_DURATION_S, MAX_LOCAL_WORKERS, MAX_REMOTE_WORKERS, MAX_SCALE

DESCRIPTION = """\
Run a load profile through real Locust (a master and N local worker processes) against a target,
write the run directory reports/<run-id>/ as it goes (run.json kind "load", per-second histograms,
generator health, events; see docs/run-directory.md), print progress, then score it like a drill.

For a run across machines, start one master (--master, it waits for --workers workers to join)
and workers elsewhere (--worker --master-host H). Several masters (shards of one big run) each
write their own run directory; `peakdrill merge` combines them exactly.
"""

EPILOG = """\
examples:
  peakdrill load loadtests/profiles/demo.yaml --host http://127.0.0.1:8800 --workers 2
  peakdrill load loadtests/profiles/demo.yaml --host http://127.0.0.1:8800 --scale 0.5 --no-report

  # your own system and locustfile, judged by rules (docs/slo.md)
  peakdrill load perf/ci.yaml --host http://127.0.0.1:8080 --locustfile perf/locustfile.py \\
      --slo perf/slo.yaml --threshold 'GET /api/products/[id]: p99 < 50ms'

  # did every acknowledged order reach the database? (docs/integrity.md)
  peakdrill load perf/ci.yaml --host http://127.0.0.1:8080 --locustfile perf/locustfile.py \\
      --integrity perf/integrity.yaml

  # across machines: the master (records and reports) and two machines of 4 workers each
  peakdrill load PROFILE.yaml --host http://10.0.0.5:8800 --allow-host 10.0.0.5 \\
      --master --workers 8 --master-bind-host 0.0.0.0 --master-port 5557
  peakdrill load PROFILE.yaml --worker --workers 4 --master-host 10.0.0.2 --master-port 5557
"""


def run_parser(subparsers, name: str, help: str, description: str, epilog: str) -> argparse.ArgumentParser:
    """A sub-command that runs a profile, with the options every load-running command shares."""
    parser = subparsers.add_parser(name, help=help, description=description, epilog=epilog,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("profile_file", metavar="PROFILE.yaml", help="the load profile, e.g. loadtests/profiles/demo.yaml")
    option(parser, "--host", help="target base URL, e.g. http://127.0.0.1:8800 (loopback unless --allow-host)")
    option(parser, "--allow-host", action="append", metavar="HOST",
           help="also allow load to HOST (repeatable); only for hosts you own")
    option(parser, "--scale", default=1.0, type=number(float, 0, MAX_SCALE, example="0.01"),
           help="multiply the profile's users and spawn rates")
    option(parser, "--workers", default=1, type=number(int, 0, MAX_REMOTE_WORKERS, example="2"),
           help=f"number of Locust worker processes (at most {MAX_LOCAL_WORKERS} on this machine)")
    option(parser, "--locustfile", default=DEFAULT_LOCUSTFILE, help="the Locust file with the user journeys")
    option(parser, "--endpoints", metavar="MAP.yaml",
           help="the target's endpoint map, for a shop whose paths differ (see loadtests/targets/); "
                "default: the reference shop's paths")
    add_rule_options(parser, "instead of the default (the reference-shop preset with the shop's own locustfile, "
                             "no rules with another)")
    option(parser, "--integrity", metavar="FILE",
           help="reconcile what the target acknowledged with its system of record after the load (docs/integrity.md)")
    option(parser, "--reports-dir", default="reports", help="where run directories are created")
    option(parser, "--no-progress", action="store_true", help="do not print the live progress lines")
    option(parser, "--no-report", action="store_true", help="only record the run; score it later with `peakdrill report`")
    add_live_options(parser)
    return parser


def load_options(args: argparse.Namespace, host_required: bool = True) -> LoadOptions:
    if host_required and not args.host:
        raise SpecError(COMMAND_LINE, "--host", "no target given", "pass --host http://127.0.0.1:8800 (the target's base URL)")
    rules = rules_from_args(args)
    return LoadOptions(profile_file=Path(args.profile_file), host=args.host or "", scale=args.scale, workers=args.workers,
                       locustfile=Path(args.locustfile), allow_hosts=tuple(args.allow_host or ()),
                       endpoints=Path(args.endpoints) if args.endpoints else None, rules=rules,
                       rules_source=args.slo if args.slo else COMMAND_LINE,
                       integrity=Path(args.integrity) if getattr(args, "integrity", None) else None)


def _topology(args: argparse.Namespace) -> Topology:
    if args.master and args.worker:
        raise SpecError(COMMAND_LINE, "--master/--worker", "both given", "a process is either the master or a worker; pick one")
    if args.worker:
        return Topology(role="worker", master_host=args.master_host, master_port=args.master_port)
    if args.master:
        return Topology(role="master", master_host=args.master_bind_host, master_port=args.master_port,
                        wait_for_workers_s=args.wait_for_workers)
    return Topology()


def handle(args: argparse.Namespace) -> int:
    topology = _topology(args)
    if topology.role != "master" and args.workers > MAX_LOCAL_WORKERS:
        raise SpecError(COMMAND_LINE, "--workers", f"{args.workers:,} worker processes on one machine",
                        f"start at most {MAX_LOCAL_WORKERS} here; spread more over machines (--master / --worker)")
    if topology.role == "worker":
        output_dir(args.reports_dir, "--reports-dir")
        options = load_options(args, host_required=False)
        return run_worker(WorkerOptions(locustfile=options.locustfile, profile_file=options.profile_file, scale=options.scale,
                                        workers=options.workers, endpoints=options.endpoints, source=COMMAND_LINE),
                          topology, Path(args.reports_dir))
    plan = build_load_plan(load_options(args))
    output_dir(args.reports_dir, "--reports-dir")  # once the run is known good: a refused run leaves nothing
    workers = (f"waiting for {plan.workers} remote worker(s) on port {topology.master_port}" if topology.role == "master"
               else f"{plan.workers} local worker process(es)")
    print(f"peakdrill: load {plan.profile.name!r} against {plan.target_url}: {len(plan.stages)} stages over "
          f"{plan.load_duration_s:.0f}s at scale {plan.scale:g}, {workers}", flush=True)
    with watching(args, plan) as observers:
        run = run_drill(plan, Path(args.reports_dir), show_progress=not args.no_progress,
                        mode=RunMode(kind="load", topology=topology), observers=observers)
        return finish_run(run, args.no_report)


def register(subparsers) -> None:
    parser = run_parser(subparsers, "load", "run a load profile (locally or across machines) and report it", DESCRIPTION, EPILOG)
    roles = parser.add_argument_group("multi-machine runs")
    option(roles, "--master", action="store_true", help="be the master: wait for --workers remote workers, record, report")
    option(roles, "--worker", action="store_true", help="be --workers worker processes of the master at --master-host")
    option(roles, "--master-host", default="127.0.0.1", help="(worker) the master's address")
    option(roles, "--master-bind-host", default="*", help="(master) the interface to listen on for workers")
    option(roles, "--master-port", default=5557, type=number(int, 0, 65535, example="5557"), help="the master's port")
    option(roles, "--wait-for-workers", default=120.0, type=number(float, 0, MAX_DURATION_S, example="120"),
           help="(master) seconds to wait for every worker to join")
    parser.set_defaults(handler=handle)
