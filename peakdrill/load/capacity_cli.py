"""``peakdrill capacity``: step the load up until an SLO breaks, find the knee, score the headroom."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from peakdrill.argtypes import duration, number
from peakdrill.options import option
from peakdrill.errors import SpecError
from peakdrill.load.capacity import (REFERENCE_ORDER_ENDPOINT, STEP_OPTIONS, CapacitySearch, StopPastTheKnee,
                                     write_capacity)
from peakdrill.load.capacity_rules import DEFAULT_ERROR_RATIO, DEFAULT_P95_MS, judged, step_rules
from peakdrill.live.cli import watching
from peakdrill.load.cli import load_options, run_parser
from peakdrill.load.plan import COMMAND_LINE, build_load_plan
from peakdrill.outputs import output_dir
from peakdrill.report.capacity import CapacityStep
from peakdrill.run.finish import finish_run
from peakdrill.run.runner import RunMode, run_drill
from peakdrill.slo.model import RuleSet
from peakdrill.spec.endpoints import load_endpoint_map
from peakdrill.spec.limits import MAX_RATE, MAX_USERS
from peakdrill.spec.profile import Profile, load_profile

DEFAULT_HEADROOM = 0.30

DESCRIPTION = """\
Find the target's capacity and the headroom over the forecast peak. The profile's journeys run at
a user count that steps up (--start-users, then +--step-users every --step-duration, up to
--max-users; real units, scaled by --scale like the profile). Each step's last two thirds are
judged from the merged per-second histograms by the SLO rules: those of --slo FILE|PRESET and
--threshold, plus --p95-ms and --error-ratio, which are shorthands for '*: p95 <= N ms' and
'*: error_ratio <= R' (with no rules at all: p95 <= 500 ms and errors <= 1%). A step breaks when
any rule fails over it; a rule with no requests in a step makes that step inconclusive. The load
stops once a step breaks. The knee is the last step that held;
capacity is its measured requests/s and orders/s. Headroom = capacity / forecast peak (at the
run's scale) - 1, and the report's verdict is PASS at >= --headroom (30%).

Writes a run directory (run.json kind "capacity", histograms, capacity.json with every step) and
its report; see docs/capacity.md.
"""

EPILOG = """\
examples:
  peakdrill capacity loadtests/profiles/demo.yaml --host http://127.0.0.1:8800 --forecast-rps 40
  peakdrill capacity PROFILE.yaml --host http://127.0.0.1:8800 --start-users 10 --step-users 10 \\
      --max-users 200 --step-duration 30s --p95-ms 300 --forecast-orders-per-s 5 --scale 0.01
  peakdrill capacity PROFILE.yaml --host http://127.0.0.1:8080 --locustfile theirs.py --forecast-rps 100 \\
      --threshold 'GET /item: p99 < 200ms' --threshold '*: error_ratio < 0.5%'

The verdict: PASS when the headroom holds, FAIL when it does not, INCONCLUSIVE when there is no
forecast, the SLO never broke below the headroom needed, or the generator saturated.
"""


def _forecast(args: argparse.Namespace, profile: Profile) -> tuple[float | None, float | None, float]:
    """Forecast rps, orders/s and the headroom needed: the command line over the profile's forecast."""
    forecast = profile.forecast
    orders_per_s = args.forecast_orders_per_s
    if orders_per_s is None and args.forecast_rps is None and forecast is not None:
        orders_per_s = forecast.peak_orders_per_s
    headroom = args.headroom if args.headroom is not None else (forecast.headroom_target if forecast else DEFAULT_HEADROOM)
    return args.forecast_rps, orders_per_s, headroom


def _steps(args: argparse.Namespace, profile: Profile) -> tuple[str, float, float, float]:
    """What is stepped (users of a closed-model profile, arrivals of an open-model one), from where, by how
    much, up to where. Defaults: start and step a quarter of the profile's peak, up to 4x the peak."""
    open_model = profile.model == "open"
    unit, other = ("req/s", "users") if open_model else ("users", "req/s")
    given = {"users": (args.start_users, args.step_users, args.max_users),
             "req/s": (args.start_rate, args.step_rate, args.max_rate)}
    if any(value is not None for value in given[other]):
        raise SpecError(COMMAND_LINE, "/".join(STEP_OPTIONS[other]), f"a {profile.model}-model profile steps {unit}, not {other}",
                        f"use {', '.join(STEP_OPTIONS[unit])}")
    peak = max(stage.arrival_rate for stage in profile.stages) if open_model else profile.peak_users
    start, step, maximum = given[unit]
    if step is None:
        step = peak / 4 if open_model else max(1, round(peak / 4))
    return unit, step if start is None else start, step, 4 * peak if maximum is None else maximum


def order_endpoints(given: list[str] | None, endpoint_map: Path | None) -> tuple[str, ...]:
    """The request names counted as placed orders: as given, else the target's place_order."""
    if given:
        return tuple(given)
    if endpoint_map is None:
        return (REFERENCE_ORDER_ENDPOINT,)
    place = load_endpoint_map(endpoint_map).endpoints["place_order"]
    return (f"{place.method} {place.name}",)


def _search(args: argparse.Namespace, profile: Profile, orders: tuple[str, ...], rules: RuleSet | None) -> CapacitySearch:
    unit, start, step, maximum = _steps(args, profile)
    step_s = args.step_duration
    forecast_rps, forecast_orders_per_s, headroom = _forecast(args, profile)
    return CapacitySearch(unit=unit, start=start, step=step, maximum=maximum, step_s=step_s,
                          rules=step_rules(rules, args.p95_ms, args.error_ratio), pool_users=args.pool_users or profile.peak_users,
                          forecast_rps=forecast_rps, forecast_orders_per_s=forecast_orders_per_s, headroom=headroom,
                          order_endpoints=orders)


def _print_steps(result: dict) -> None:
    for step in result["steps"]:
        state = {True: "held", False: "BROKE", None: "inconclusive"}[step["held"]]
        print(f"  {CapacityStep.parse(step).load:>22} | {step['rps']:8.1f} req/s | {step['orders_per_s']:7.2f} orders/s | "
              f"p95 {step['p95_ms']:8.1f} ms | errors {step['error_ratio']:6.2%} | {state} {step['why']}".rstrip(), flush=True)
    knee = result["knee"]
    print(f"peakdrill: knee: {CapacityStep.parse(knee).load}, {knee['rps']:.1f} req/s, {knee['orders_per_s']:.2f} orders/s"
          if knee else "peakdrill: no step held: the capacity is below the first step", flush=True)


def handle(args: argparse.Namespace) -> int:
    given = load_options(args)
    options = replace(given, rules=given.rules or RuleSet())
    search = _search(args, load_profile(options.profile_file), order_endpoints(args.order_endpoint, options.endpoints),
                     given.rules)
    stages = search.stages(options.scale)
    # The plan checks the given rules against the endpoint map; then they judge the steps, not the run: the
    # search pushes the target past them on purpose, and its verdict is the headroom.
    plan = replace(build_load_plan(options, stages=stages), rules=RuleSet())
    output_dir(args.reports_dir, "--reports-dir")
    print(f"peakdrill: capacity search on {plan.target_url}: a {search.settle_s:g}s warm-up, then {len(stages) - 1} steps of "
          f"{search.step_s:g}s from {stages[1].name} to {stages[-1].name}; a step breaks when a rule fails over it: "
          f"{'; '.join(rule.title for rule in judged(search.rules))}", flush=True)
    mode = RunMode(kind="capacity", meta={"capacity": search.meta(options.scale), "endpoints": {}}, stop_when=StopPastTheKnee())
    with watching(args, plan) as observers:
        run = run_drill(plan, Path(args.reports_dir), show_progress=not args.no_progress, mode=mode, observers=observers)
        _print_steps(write_capacity(run.path))
        return finish_run(run, args.no_report)


def register(subparsers) -> None:
    parser = run_parser(subparsers, "capacity", "step the load up to the knee and score the headroom over the forecast",
                        DESCRIPTION, EPILOG)
    steps = parser.add_argument_group("the search (users for a closed-model profile, arrival rates for an open-model one)")
    users = number(int, 0, MAX_USERS, example="10")
    rate = number(float, 0, MAX_RATE, example="5")
    option(steps, "--start-users", type=users, help="users of the first step (default: a quarter of the profile's peak)")
    option(steps, "--step-users", type=users, help="users added per step (default: a quarter of the profile's peak)")
    option(steps, "--max-users", type=users, help="stop stepping here (default: 4x the profile's peak)")
    option(steps, "--start-rate", type=rate, help="open model: requests/s of the first step (default: a quarter of the peak rate)")
    option(steps, "--step-rate", type=rate, help="open model: requests/s added per step (default: a quarter of the peak rate)")
    option(steps, "--max-rate", type=rate, help="open model: stop stepping here (default: 4x the peak rate)")
    option(steps, "--pool-users", type=users, help="open model: users serving the arrivals (default: the profile's peak users)")
    option(steps, "--step-duration", default="30s", type=duration(example="30s"), help="how long each step holds, e.g. 30s or 1m")
    option(steps, "--p95-ms", type=number(float, 0, 3_600_000, example="500"),
           help="shorthand for the rule '*: p95 <= N ms' (default without --slo/--threshold: "
                f"{DEFAULT_P95_MS:g})")
    option(steps, "--error-ratio", type=number(float, 0, 1, example="0.01"),
           help="shorthand for the rule '*: error_ratio <= R' (default without --slo/--threshold: "
                f"{DEFAULT_ERROR_RATIO:g})")
    option(parser, "--order-endpoint", action="append", metavar="NAME",
           help="request name counted as a placed order (repeatable; default: the endpoint map's "
                f"place_order, '{REFERENCE_ORDER_ENDPOINT}' on the reference shop)")
    forecast = parser.add_argument_group("the forecast peak (real units; scaled by --scale)")
    option(forecast, "--forecast-rps", type=rate, help="forecast peak requests/s (instead of the profile's forecast)")
    option(forecast, "--forecast-orders-per-s", type=rate,
           help="forecast peak orders/s (default: the profile's forecast: peak_orders_per_day / 86400 x peak_factor)")
    option(forecast, "--headroom", type=number(float, 0, 10, above_low=False, example="0.3"),
           help="headroom needed for PASS, as a ratio (default: the profile's forecast.headroom_target, else 0.30)")
    parser.set_defaults(handler=handle)
