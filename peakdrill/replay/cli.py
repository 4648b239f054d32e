"""``peakdrill profile``: check load profiles, and build them from last peak's traffic."""

from __future__ import annotations

import argparse
from pathlib import Path

from peakdrill.options import option
from peakdrill.errors import SpecError
from peakdrill.replay.accesslog import read_access_log
from peakdrill.replay.build import build_profile, per_bucket, write_profile
from peakdrill.replay.counts import read_counts
from peakdrill.rundir import iso
from peakdrill.spec.loader import parse_duration
from peakdrill.spec.profile import Profile, ThinkTime, load_profile

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
    try:
        return ThinkTime(min=parse_duration(args.think_min), max=parse_duration(args.think_max))
    except ValueError as exc:
        raise SpecError("command line", "--think-min/--think-max", str(exc), "give durations such as 1s, min <= max") from exc


def _settings(args: argparse.Namespace) -> tuple[float, float]:
    try:
        bucket_s, growth = parse_duration(args.bucket), float(args.growth)
    except ValueError as exc:
        raise SpecError("command line", "--bucket/--growth", str(exc), "e.g. --bucket 1m --growth 1.35") from exc
    if bucket_s <= 0 or growth <= 0:
        raise SpecError("command line", "--bucket/--growth", f"bucket {bucket_s:g}s, growth {growth:g}", "both must be above 0")
    return bucket_s, growth


def _write(args: argparse.Namespace, profile: Profile) -> int:
    write_profile(profile, Path(args.output))
    print(_summary(args.output, profile))
    return 0


# Health checks and scrapes are not customer traffic.
DEFAULT_EXCLUDES = ("/healthz", "/metrics")


def from_log(args: argparse.Namespace) -> int:
    bucket_s, growth = _settings(args)
    source = Path(args.log)
    counts, endpoints, first_ts = per_bucket(read_access_log(source, tuple(p for p in (args.exclude if args.exclude is not None else DEFAULT_EXCLUDES) if p)), bucket_s)
    description = (f"Replayed from {source.name}: {int(sum(counts))} requests from {iso(first_ts)}, "
                   f"{bucket_s:g}s buckets, x{growth:g} growth.")
    profile = build_profile(args.name or f"replay-{source.stem}", counts, bucket_s=bucket_s, growth=growth, source=str(source),
                            unit="requests", endpoints=endpoints, think_time=_think_time(args), description=description)
    return _write(args, profile)


def from_csv(args: argparse.Namespace) -> int:
    bucket_s, growth = _settings(args)
    source = Path(args.csv)
    column, counts = read_counts(source, args.column)
    unit = "orders" if column == "orders" else "requests"
    if unit == "orders" and not args.requests_per_order:
        raise SpecError(str(source), f"column {column}", "order counts need a conversion to requests",
                        "pass --requests-per-order (requests / orders of the same period, from your access logs)")
    per_unit = float(args.requests_per_order) if unit == "orders" else 1.0
    description = f"Replayed from {source.name}: {int(sum(counts))} {unit} in {bucket_s:g}s buckets, x{growth:g} growth."
    profile = build_profile(args.name or f"replay-{source.stem}", counts, bucket_s=bucket_s, growth=growth, source=str(source),
                            unit=unit, requests_per_unit=per_unit, think_time=_think_time(args), description=description)
    return _write(args, profile)


def _replay_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--output", required=True, metavar="PROFILE.yaml", help="where to write the profile")
    option(parser, "--growth", default="1.0", help="multiply every rate by this (the forecast's growth, e.g. 1.35)")
    option(parser, "--bucket", default="1m", help="width of a time bucket, one profile stage each (e.g. 1m; 1s compresses time)")
    option(parser, "--name", help="the profile's name (default: replay-<file name>)")
    option(parser, "--think-min", default="1s", help="the profile's shortest think time")
    option(parser, "--think-max", default="3s", help="the profile's longest think time; sizes each stage's user pool")


def register(subparsers) -> None:
    parser = subparsers.add_parser("profile", help="check load profiles, build them from access logs or counts",
                                   description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="profile_command", metavar="ACTION", required=True)

    checking = commands.add_parser("check", help="validate profiles and summarise them")
    checking.add_argument("profiles", nargs="+", metavar="PROFILE.yaml", help="profiles to validate")
    checking.set_defaults(handler=check)

    log = commands.add_parser("from-log", help="profile from an access log in the combined log format")
    log.add_argument("log", metavar="ACCESS.log", help="nginx, Apache or gunicorn access log in the combined log format")
    _replay_options(log)
    log.add_argument("--exclude", action="append", metavar="PREFIX",
                     help="leave out requests whose path starts with PREFIX (repeatable; replaces the default "
                          f"{' and '.join(DEFAULT_EXCLUDES)}; --exclude '' keeps everything)")
    log.set_defaults(handler=from_log)

    counts = commands.add_parser("from-csv", help="profile from a CSV of request or order counts per bucket")
    counts.add_argument("csv", metavar="COUNTS.csv", help="CSV with a header and one row of counts per bucket, oldest first")
    _replay_options(counts)
    option(counts, "--column", help="the count column (default: 'requests', else 'orders')")
    option(counts, "--requests-per-order", help="requests each order brings (required for order counts)")
    counts.set_defaults(handler=from_csv)
