"""``peakdrill calibrate`` and ``peakdrill plan``: the road from one worker to 1M users."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from peakdrill.argtypes import number
from peakdrill.options import option
from peakdrill.errors import SizingError, quote
from peakdrill.outputs import output_dir, output_file
from peakdrill.safety import LOOPBACK_HOSTS, ensure_allowed
from peakdrill.spec.limits import MAX_DURATION_S, MAX_USERS
from peakdrill.spec.profile import load_profile

DEFAULT_THINK_TIME_S = 10.0

CALIBRATE_DESCRIPTION = """\
Measure what one Locust worker process sustains on this machine: it ramps users up (with the
keep-alive fix and peakdrill's hooks, like a real worker) against a built-in fast local server,
or against --host, until the run time ends or the process sits at Locust's 90% CPU warning.
It writes requests per CPU-second, memory per user, the saturation point and the per-second
samples to a JSON file that `peakdrill plan` reads. Run it on the machine type the load will run
on, with nothing else busy, and keep it short: it is bounded by --duration.
"""

CALIBRATE_EPILOG = """\
examples:
  peakdrill calibrate                                        built-in server, 3000 users, 45 s
  peakdrill calibrate --users 6000 --spawn-rate 200 --duration 60 --output calibration.json
  peakdrill calibrate --host http://127.0.0.1:8800 --path /api/products/1 --think-time 1,2
  peakdrill calibrate --host http://127.0.0.1:8800 --locustfile loadtests/locustfile.py
"""

PLAN_DESCRIPTION = """\
Size a run for N concurrent users from a calibration (or from built-in conservative defaults,
which the output says it used): workers, cores, memory and file descriptors per worker,
ephemeral ports per source address, and how many Locust masters to shard the run across (one
master handles a few hundred workers; shards write histograms that merge exactly). With
--output-dir it also writes Kubernetes manifests: a namespace, the load tests as a ConfigMap, a
reports volume claim, and per shard a master Job, its Service and a worker Deployment, with
resources from the sizing. See docs/scaling.md for the arithmetic.

With --drill it sizes and writes a whole drill instead: the drill runner and the masters as Jobs,
workers as Deployments, ConfigMaps with the drill, its experiments' Kubernetes variants (the file
of the same name in experiments/kubernetes/, or in --experiments-dir) and the load tests, a
ServiceAccount whose Role allows exactly what those experiments call, and the reports volume.
"""

PLAN_EPILOG = """\
examples:
  peakdrill plan --users 1000000                                conservative defaults, 10 s think time
  peakdrill plan --users 1000000 --calibration calibration.json --think-time 5
  peakdrill plan --users 1000000 --calibration calibration.json --output-dir k8s/ \\
      --host http://shop.staging.svc:8080 --allow-host shop.staging.svc --image registry/peakdrill:0.1.0
  peakdrill plan --users 1000000 --profile loadtests/profiles/double11-peak.yaml --output-dir k8s/ \\
      --host http://shop.staging.svc:8080 --allow-host shop.staging.svc      # the peak's stages, not a flat ramp
  peakdrill plan --drill drills/demo.yaml --users 1000000 --output-dir k8s/ \\
      --host http://shop-app.shop.svc:8080 --allow-host shop-app.shop.svc    # the whole drill, in a cluster
  peakdrill plan --drill drills/demo.yaml --users 1000000 --calibration calibration.json \\
      --host http://shop-app.shop.svc:8080 --allow-host shop-app.shop.svc \\
      --target-namespace shop --start-at 2026-11-10T15:30:00Z --output-dir k8s/
  peakdrill plan --drill drills/demo.yaml --users 1000000 --experiments-dir my-cluster/experiments \\
      --host http://shop.prod.svc:8080 --allow-host shop.prod.svc               # your own variants
  kubectl apply -f k8s/
"""


def _think_time(value: str) -> tuple[float, float]:
    seconds = number(float, 0, MAX_DURATION_S, above_low=False, example="0.5,1.5")
    parts = [seconds(part) for part in value.split(",")]
    if len(parts) == 1:
        parts *= 2
    if len(parts) != 2:
        raise argparse.ArgumentTypeError(f"{quote(value)} is not MIN,MAX seconds; write e.g. 0.5,1.5")
    return parts[0], parts[1]


def calibrate(args: argparse.Namespace) -> int:
    from peakdrill.sizing.calibrate import CALIBRATION_LOCUSTFILE, CalibrationRun
    from peakdrill.sizing.calibrate import calibrate as measure
    from peakdrill.sizing.calibration import save_calibration

    output_file(args.output, "--output")
    run = CalibrationRun(max_users=args.users, spawn_rate=args.spawn_rate, duration_s=args.duration,
                         think_time_s=args.think_time, host=args.host, path=args.path,
                         locustfile=Path(args.locustfile) if args.locustfile else CALIBRATION_LOCUSTFILE,
                         allowed_hosts=(*LOOPBACK_HOSTS, *(args.allow_host or ())))
    print(f"peakdrill: calibrating one Locust process: up to {run.max_users} users at {run.spawn_rate:g}/s for "
          f"at most {run.duration_s:g}s against {run.host or 'the built-in fast server'}", flush=True)
    result = measure(run)
    save_calibration(result, Path(args.output))
    saturation = (f"saturated at {result.saturation.users:,} users, {result.saturation.rps:,.0f} req/s"
                  if result.saturation else f"not saturated (peak CPU {result.peak_cpu_percent:.0f}%)")
    print(f"users reached          {result.users_reached:,}\n"
          f"peak requests/s        {result.peak_rps:,.0f}\n"
          f"requests per CPU-s     {result.requests_per_cpu_second:,.0f}\n"
          f"memory per user        {result.memory_per_user_bytes / 1024:,.1f} KiB (base RSS {result.base_rss_bytes / 2**20:,.0f} MiB)\n"
          f"saturation             {saturation}\n"
          f"peakdrill: calibration written to {args.output}; next: peakdrill plan --calibration {args.output}")
    return 0


def plan(args: argparse.Namespace) -> int:
    if args.drill:
        from peakdrill.sizing.drill_cli import plan_drill

        return plan_drill(args)
    from peakdrill.sizing.calibration import CONSERVATIVE, load_calibration
    from peakdrill.sizing.manifests import ClusterRun, ProfileLoad, write_manifests
    from peakdrill.sizing.plan import PlanRequest, table
    from peakdrill.sizing.plan import plan as size

    profile = load_profile(Path(args.profile)) if args.profile else None
    think_time_s = args.think_time or (profile.think_time.mean if profile else DEFAULT_THINK_TIME_S)
    request = PlanRequest(users=args.users, think_time_s=think_time_s, cpu_target_percent=args.cpu_target,
                          max_users_per_worker=args.max_users_per_worker, workers_per_master=args.workers_per_master,
                          targets=args.targets)
    cluster_run = None
    if args.output_dir:
        if not args.host:
            raise SizingError("--output-dir needs --host, the URL the workers will load (e.g. --host http://shop.staging.svc:8080)")
        ensure_allowed(args.host, (*LOOPBACK_HOSTS, *(args.allow_host or ())), "the command line")
        loadtests_dir = Path(args.loadtests_dir)
        shipped = ProfileLoad.shipped(profile, Path(args.profile), loadtests_dir) if profile else None
        cluster_run = ClusterRun(host=args.host, image=args.image, run_time=args.run_time, ramp_up_s=args.ramp_up,
                                run_id=args.run_id or time.strftime("%Y%m%d-%H%M%S-plan", time.gmtime()),
                                loadtests_dir=loadtests_dir, namespace=args.namespace, profile=shipped)
        output_dir(args.output_dir, "--output-dir")  # after the run's own checks: a refused plan writes nothing
    calibration = load_calibration(args.calibration) if args.calibration else CONSERVATIVE
    sizing = size(request, calibration)
    print(table(sizing))
    if not args.calibration:
        print("note: no --calibration given; used the built-in conservative defaults above. "
              "Run `peakdrill calibrate` on the load machines for a sizing from measurement.")
    if cluster_run is not None:
        for path in write_manifests(sizing, cluster_run, Path(args.output_dir)):
            print(f"wrote {path}")
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser("calibrate", help="measure what one Locust worker sustains on this machine",
                                   description=CALIBRATE_DESCRIPTION, epilog=CALIBRATE_EPILOG,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    option(parser, "--users", type=number(int, 0, 1_000_000, example="3000"), default="3000", env="PEAKDRILL_CALIBRATE_USERS",
           help="users to ramp up to")
    option(parser, "--spawn-rate", type=number(float, 0, 100_000, example="100"), default="100", help="users started per second")
    option(parser, "--duration", type=number(float, 0, 600, example="45"), default="45",
           help="longest the ramp may run, seconds (5-600)")
    option(parser, "--think-time", type=_think_time, default="0.5,1.5", env="PEAKDRILL_CALIBRATE_THINK_TIME",
           help="MIN,MAX seconds each user waits between requests; short, so one process saturates within the run")
    option(parser, "--host", env="PEAKDRILL_CALIBRATE_HOST", help="measure against this URL instead of the built-in fast server")
    option(parser, "--allow-host", action="append", metavar="HOST", help="also allow --host to be HOST (repeatable)")
    option(parser, "--path", default="/", env="PEAKDRILL_CALIBRATE_PATH", help="the path each user GETs (with the built-in locustfile)")
    option(parser, "--locustfile", env="PEAKDRILL_CALIBRATE_LOCUSTFILE",
           help="calibrate with this locustfile instead; it must import peakdrill.loadgen.plugin, as loadtests/locustfile.py does")
    option(parser, "--output", default="calibration.json", env="PEAKDRILL_CALIBRATE_OUTPUT", help="where to write the result")
    parser.set_defaults(handler=calibrate)

    parser = subparsers.add_parser("plan", help="size a run for N users and write Kubernetes manifests",
                                   description=PLAN_DESCRIPTION, epilog=PLAN_EPILOG,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    option(parser, "--users", type=number(int, 0, MAX_USERS, example="1000000"), default="1000000", help="peak concurrent users")
    option(parser, "--calibration", help="a calibration.json from `peakdrill calibrate` (default: conservative built-ins)")
    option(parser, "--think-time", type=number(float, 0, MAX_DURATION_S, example="10"),
           help=f"mean seconds a user waits between requests (default: the --profile's, else {DEFAULT_THINK_TIME_S:g})")
    option(parser, "--cpu-target", type=number(float, 0, 90, example="70"), default="70", help="plan each worker at this %% of a core")
    option(parser, "--max-users-per-worker", type=number(int, 0, 1_000_000, example="20000"), default="20000",
           help="users one Locust process holds")
    option(parser, "--workers-per-master", type=number(int, 0, 100_000, example="200"), default="200",
           help="workers one Locust master coordinates")
    option(parser, "--targets", type=number(int, 0, 1_000_000, example="1"), default="1",
           help="target address:port pairs the load spreads over")
    option(parser, "--output-dir", env="PEAKDRILL_PLAN_OUTPUT_DIR", help="write Kubernetes manifests here")
    option(parser, "--host", help="the URL the workers load (needed with --output-dir)")
    option(parser, "--allow-host", action="append", metavar="HOST", help="allow --host to be HOST (repeatable)")
    option(parser, "--image", default="peakdrill:0.1.0", help="container image with peakdrill (and Locust) installed")
    # Not PEAKDRILL_PROFILE: that names the profile of a plain `locust` run, not a plan's.
    option(parser, "--profile", metavar="PROFILE.yaml", env="PEAKDRILL_PLAN_PROFILE",
           help="size for this profile's think time and, with --output-dir, run its stages (it must be "
                "under --loadtests-dir) scaled to peak at --users instead of a flat ramp; --ramp-up and "
                "--run-time then do not apply")
    option(parser, "--run-time", default="30m", help="how long each master runs the load (Locust -t)")
    option(parser, "--ramp-up", type=number(float, 0, MAX_DURATION_S, example="600"), default="600",
           help="seconds to start all users")
    option(parser, "--run-id", help="run directory name under the reports volume (default: time-stamped)")
    option(parser, "--loadtests-dir", default="loadtests", help="the load tests to ship in the ConfigMap")
    option(parser, "--namespace", default="peakdrill", help="Kubernetes namespace for everything")
    drills = parser.add_argument_group("whole drills in a cluster (--drill)")
    option(drills, "--drill", metavar="DRILL.yaml",
           help="size this drill's profile and write what runs the whole drill in a cluster")
    option(drills, "--experiments-dir", metavar="DIR",
           help="take the timeline's experiments from DIR, by file name (default: the kubernetes/ directory next to each)")
    option(drills, "--target-namespace", default="shop", help="the shop's namespace, where the experiments act (the Role's)")
    option(drills, "--start-at", metavar="UTC",
           help="when the masters start together, e.g. 2026-11-10T15:30:00Z (default with several: plan time + 30 min)")
    parser.set_defaults(handler=plan)
