"""``peakdrill shop up|status|down``: run the embedded reference shop in the background."""

from __future__ import annotations

import argparse
import json
import sys

from peakdrill.cli import option
from peakdrill.errors import ShopError
from peakdrill.shop import supervisor
from peakdrill.shop.state import load_state, state_path


def _int(flag: str, value: str, low: int, high: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ShopError(f"{flag} {value!r} is not a whole number (fix: e.g. {flag} {low or 1})") from None
    if not low <= number <= high:
        raise ShopError(f"{flag} {number} is out of range (fix: use {low}..{high})")
    return number


def _shop_dir(parser: argparse.ArgumentParser) -> None:
    option(parser, "--shop-dir", help="directory for the shop's database, logs and state.json",
           default=supervisor.DEFAULT_SHOP_DIR)


def up(args: argparse.Namespace) -> int:
    state = supervisor.start_shop(
        args.shop_dir, host=args.host, port=_int("--port", args.port, 0, 65535),
        workers=_int("--workers", args.workers, 1, 32), allow_non_loopback=bool(args.allow_non_loopback),
        timeout=_int("--start-timeout", args.start_timeout, 1, 600), fresh=bool(args.fresh),
        bot_slots=_int("--bot-slots", args.bot_slots, 0, 1000), sync_lag_s=_int("--sync-lag", args.sync_lag, 0, 3600),
        database=args.db)
    # Details to stderr, the bare URL to stdout, so `URL=$(peakdrill shop up)` works in scripts.
    print(f"shop up at {state.url} (database {state.database.shown}, redis {state.redis.host}:{state.redis.port}, "
          f"{state.app.workers} workers, "
          f"state {state.state_file})", file=sys.stderr)
    print(state.url)
    return 0


def status(args: argparse.Namespace) -> int:
    if not state_path(args.shop_dir).exists():
        print(f"no shop running from '{args.shop_dir}' (start one with `peakdrill shop up`)")
        return 1
    state = load_state(args.shop_dir)
    report = state.to_dict()
    report["database"]["url"] = state.database.shown if state.database.url else ""
    report["running"] = {"app": supervisor.procs.alive(state.app.pid, state.app.create_time),
                         "redis": supervisor.redis_running(state),
                         **{name: supervisor.procs.alive(s.pid, s.create_time) for name, s in state.standins.items()},
                         "sync": state.sync is not None and supervisor.procs.alive(state.sync.pid, state.sync.create_time)}
    report["health"] = supervisor.health(state.url)
    print(json.dumps(report, indent=2))
    return 0 if (report["health"] or {}).get("status") == "ok" else 1


def down(args: argparse.Namespace) -> int:
    if supervisor.stop_shop(args.shop_dir):
        print(f"shop in '{args.shop_dir}' stopped")
    else:
        print(f"no shop running from '{args.shop_dir}'; nothing to stop")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    shop = subparsers.add_parser("shop", help="run the embedded reference shop (the system under test)",
                                 description=__doc__)
    commands = shop.add_subparsers(dest="shop_command", metavar="ACTION", required=True)

    p_up = commands.add_parser("up", help="start Redis + the app in the background and print the URL")
    _shop_dir(p_up)
    option(p_up, "--host", help="address to listen on (loopback only unless --allow-non-loopback)",
           default="127.0.0.1")
    option(p_up, "--port", help="port to listen on; 0 picks a free one", default="8800")
    option(p_up, "--workers", help="gunicorn worker processes", default="2")
    option(p_up, "--start-timeout", help="seconds to wait for /healthz after starting", default="30")
    option(p_up, "--bot-slots", help="the AI chat bot's concurrent conversations, shop-wide", default="4")
    option(p_up, "--sync-lag", help="seconds the inventory sync lags behind the stores", default="2")
    option(p_up, "--db", help="the system of record: sqlite (a file in the shop dir), postgres (a PostgreSQL "
           "server of the shop's own, from the distribution's package, stopped by `shop down`) or a "
           "postgresql://user:password@127.0.0.1:5432/dbname URL of a server you run", default="sqlite")
    p_up.add_argument("--allow-non-loopback", action="store_true",
                      help="allow a --host (and a --db URL host) that is not a loopback address")
    p_up.add_argument("--fresh", action="store_true",
                      help="delete the shop's database first and start from the seed data")
    p_up.set_defaults(handler=up)

    p_status = commands.add_parser("status", help="print the state file and health; exit 1 if not running")
    _shop_dir(p_status)
    p_status.set_defaults(handler=status)

    p_down = commands.add_parser("down", help="stop everything `up` started (safe to repeat)")
    _shop_dir(p_down)
    p_down.set_defaults(handler=down)
