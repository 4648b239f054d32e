"""``peakdrill profile``: check load profiles, and build them from last peak's traffic."""

from __future__ import annotations

import argparse
from pathlib import Path

from peakdrill.argtypes import duration, number
from peakdrill.options import option
from peakdrill.errors import COMMAND_LINE, SpecError
from peakdrill.outputs import output_file
from peakdrill.replay.accesslog import read_access_log
from peakdrill.replay.build import build_profile, per_bucket, write_profile
from peakdrill.replay.counts import read_counts
from peakdrill.rundir import iso
from peakdrill.spec.profile import MAX_GROWTH, Profile, ThinkTime, load_profile

DESCRIPTION = """\
Load profiles (loadtests/profiles/*.yaml) in real units; see docs/load-profiles.md.

  check      validate profiles as a drill would, and summarise them
  from-log   build an open-model profile from a web server's access log (combined log format):
             the arrival curve per --bucket and the endpoint mix, times --growth
  from-csv   the same from a CSV of request or order counts per bucket
"""

EPILOG = """\
examples:
  peakdrill profile check loadtests/profiles/*.yaml
  peakdrill profile from-log /var/log/nginx/access.log --growth 1.35 -o loadtests/profiles/replay.yaml
  peakdrill profile from-csv last-peak-orders.csv --requests-per-order 9 --growth 1.35 -o profile.yaml
  peakdrill drill drills/replay.yaml --scale 0.001        # then run it, smaller
"""


CHECK_EPILOG = """\
examples:
  peakdrill profile check loadtests/profiles/demo.yaml
  peakdrill profile check loadtests/profiles/*.yaml
"""
FROM_LOG_DESCRIPTION = """\
Build an open-model profile from a web server's access log in the combined log format (nginx's and
Apache's default): one stage per --bucket with the arrival rate seen then, times --growth, and the
endpoint mix of the traffic. Health checks and scrapes (/healthz, /metrics) are left out by default.
"""
FROM_LOG_EPILOG = """\
examples:
  peakdrill profile from-log /var/log/nginx/access.log --growth 1.35 -o loadtests/profiles/replay.yaml
  peakdrill profile from-log access.log --bucket 10s --exclude /healthz --exclude /static -o replay.yaml
"""
FROM_CSV_DESCRIPTION = """\
Build an open-model profile from a CSV of request (or order) counts per time bucket, oldest first:
one stage per row, times --growth. Order counts need --requests-per-order.
"""
FROM_CSV_EPILOG = """\
examples:
  peakdrill profile from-csv last-peak-requests.csv --growth 1.35 -o profile.yaml
  peakdrill profile from-csv last-peak-orders.csv --requests-per-order 9 --bucket 1m -o profile.yaml
"""


def _summary(path: str, profile: Profile) -> str:
    lines = [f"{path}: ok: {profile.name!r}, {profile.model} model, {len(profile.stages)} stage(s) over "
             f"{profile.duration:g}s, peak {profile.peak_users} users"]
    rates = [stage.arrival_rate for stage in profile.stages if stage.arrival_rate is not None]
    if rates:
        lines.append(f"  arrival rate {min(rates):g}-{max(rates):g} req/s ({max(rates) * 60:g} req/min at peak)")
    if profile.forecast:
        forecast = profile.forecast
        lines.append(f"  forecast {forecast.peak_orders_per_day:,.0f} orders/day; with {forecast.headroom_target:.0%} headroom "
                     f"the system must hold {forecast.required_orders_per_day:,.0f} orders/day")
    return "\n".join(lines)


def check(args: argparse.Namespace) -> int:
    for path in args.profiles:
        print(_summary(path, load_profile(path)))
    return 0


def _think_time(args: argparse.Namespace) -> ThinkTime:
    if args.think_max < args.think_min:
        raise SpecError(COMMAND_LINE, "--think-max", f"{args.think_max:g}s is below --think-min {args.think_min:g}s",
                        "give --think-min <= --think-max, e.g. --think-min 1s --think-max 3s")
    return ThinkTime(min=args.think_min, max=args.think_max)


def _write(args: argparse.Namespace, profile: Profile) -> int:
    write_profile(profile, output_file(args.output, "--output"))
    print(_summary(args.output, profile))
    return 0


# Health checks and scrapes are not customer traffic.
DEFAULT_EXCLUDES = ("/healthz", "/metrics")


def from_log(args: argparse.Namespace) -> int:
    bucket_s, growth = args.bucket, args.growth
    output_file(args.output, "--output")
    source = Path(args.log)
    counts, endpoints, first_ts = per_bucket(read_access_log(source, tuple(p for p in (args.exclude if args.exclude is not None else DEFAULT_EXCLUDES) if p)),
                                           bucket_s, str(source))
    description = (f"Replayed from {source.name}: {int(sum(counts))} requests from {iso(first_ts)}, "
                   f"{bucket_s:g}s buckets, x{growth:g} growth.")
    profile = build_profile(args.name or f"replay-{source.stem}", counts, bucket_s=bucket_s, growth=growth, source=str(source),
                            unit="requests", endpoints=endpoints, think_time=_think_time(args), description=description)
    return _write(args, profile)


def from_csv(args: argparse.Namespace) -> int:
    bucket_s, growth = args.bucket, args.growth
    output_file(args.output, "--output")
    source = Path(args.csv)
    column, counts = read_counts(source, args.column)
    unit = "orders" if column == "orders" else "requests"
    if unit == "orders" and not args.requests_per_order:
        raise SpecError(str(source), f"column {column}", "order counts need a conversion to requests",
                        "pass --requests-per-order (requests / orders of the same period, from your access logs)")
    per_unit = args.requests_per_order if unit == "orders" else 1.0
    description = f"Replayed from {source.name}: {int(sum(counts))} {unit} in {bucket_s:g}s buckets, x{growth:g} growth."
    profile = build_profile(args.name or f"replay-{source.stem}", counts, bucket_s=bucket_s, growth=growth, source=str(source),
                            unit=unit, requests_per_unit=per_unit, think_time=_think_time(args), description=description)
    return _write(args, profile)


def _replay_options(parser: argparse.ArgumentParser) -> None:
    option(parser, "-o", "--output", required=True, metavar="PROFILE.yaml", env="PEAKDRILL_PROFILE_OUTPUT",
           help="where to write the profile")
    option(parser, "--growth", default="1.0", type=number(float, 0, MAX_GROWTH, example="1.35"),
           help="multiply every rate by this (the forecast's growth, e.g. 1.35)")
    option(parser, "--bucket", default="1m", type=duration(example="1m"),
           help="width of a time bucket, one profile stage each (e.g. 1m; 1s compresses time)")
    option(parser, "--name", help="the profile's name (default: replay-<file name>)")
    option(parser, "--think-min", default="1s", type=duration(-1, example="1s"), help="the profile's shortest think time")
    option(parser, "--think-max", default="3s", type=duration(-1, example="3s"),
           help="the profile's longest think time; sizes each stage's user pool")


def register(subparsers) -> None:
    parser = subparsers.add_parser("profile", help="check load profiles, build them from access logs or counts",
                                   description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="profile_command", metavar="ACTION", required=True)

    checking = commands.add_parser("check", help="validate profiles and summarise them", epilog=CHECK_EPILOG,
                                   description="Validate load profiles exactly as a drill would, and summarise each: "
                                               "stages, duration, peak users, arrival rates, forecast.")
    checking.add_argument("profiles", nargs="+", metavar="PROFILE.yaml", help="profiles to validate")
    checking.set_defaults(handler=check)

    log = commands.add_parser("from-log", help="profile from an access log in the combined log format",
                              epilog=FROM_LOG_EPILOG, description=FROM_LOG_DESCRIPTION)
    log.add_argument("log", metavar="ACCESS.log", help="nginx, Apache or gunicorn access log in the combined log format")
    _replay_options(log)
    option(log, "--exclude", action="append", metavar="PREFIX",
           help="leave out requests whose path starts with PREFIX (repeatable; replaces the default "
                f"{' and '.join(DEFAULT_EXCLUDES)}; --exclude '' keeps everything; the variable is comma-separated)")
    log.set_defaults(handler=from_log)

    counts = commands.add_parser("from-csv", help="profile from a CSV of request or order counts per bucket",
                                 epilog=FROM_CSV_EPILOG, description=FROM_CSV_DESCRIPTION)
    counts.add_argument("csv", metavar="COUNTS.csv", help="CSV with a header and one row of counts per bucket, oldest first")
    _replay_options(counts)
    option(counts, "--column", help="the count column (default: 'requests', else 'orders')")
    option(counts, "--requests-per-order", type=number(float, 0, 1_000_000, example="9"),
           help="requests each order brings (required for order counts)")
    counts.set_defaults(handler=from_csv)
