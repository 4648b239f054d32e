"""``peakdrill shop up|status|down``: run the embedded reference shop in the background."""

from __future__ import annotations

import argparse
import json
import sys

from peakdrill.options import option
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


UP_DESCRIPTION = """\
Start the embedded reference shop in the background: Redis, the app (gunicorn workers over SQLite,
or PostgreSQL with --db),
the payment/courier/chat-bot stand-ins and the inventory sync worker. Prints the shop's URL on
stdout (details on stderr) and leaves state.json in --shop-dir for `status`, `down` and drills.
"""
UP_EPILOG = """\
examples:
  peakdrill shop up                                  http://127.0.0.1:8800
  URL=$(peakdrill shop up --port 0 --shop-dir /tmp/shop)   a free port, its own state
  peakdrill shop up --workers 4 --fresh              more app workers, from the seed data
  peakdrill shop up --db postgres                    on a PostgreSQL server of its own (shop down stops it)
  peakdrill shop up --db postgresql://shop@127.0.0.1:5432/shop   on a PostgreSQL server you run
"""
STATUS_EPILOG = """\
examples:
  peakdrill shop status
  peakdrill shop status --shop-dir /tmp/shop
"""
DOWN_EPILOG = """\
examples:
  peakdrill shop down
  peakdrill shop down --shop-dir /tmp/shop
"""


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
                                 description=__doc__, epilog="examples:\n  peakdrill shop up\n  peakdrill shop status\n"
                                                            "  peakdrill shop down\n")
    commands = shop.add_subparsers(dest="shop_command", metavar="ACTION", required=True)

    p_up = commands.add_parser("up", help="start Redis + the app in the background and print the URL",
                               description=UP_DESCRIPTION, epilog=UP_EPILOG)
    _shop_dir(p_up)
    # PEAKDRILL_HOST and PEAKDRILL_WORKERS name the load's target and Locust workers: the shop's are SHOP_*.
    option(p_up, "--host", help="address to listen on (loopback only unless --allow-non-loopback)",
           default="127.0.0.1", env="PEAKDRILL_SHOP_HOST")
    option(p_up, "--port", help="port to listen on; 0 picks a free one", default="8800", env="PEAKDRILL_SHOP_PORT")
    option(p_up, "--workers", help="gunicorn worker processes", default="2", env="PEAKDRILL_SHOP_WORKERS")
    option(p_up, "--start-timeout", help="seconds to wait for /healthz after starting", default="30",
           env="PEAKDRILL_SHOP_START_TIMEOUT")
    option(p_up, "--bot-slots", help="the AI chat bot's concurrent conversations, shop-wide", default="4",
           env="PEAKDRILL_SHOP_BOT_SLOTS")
    option(p_up, "--sync-lag", help="seconds the inventory sync lags behind the stores", default="2",
           env="PEAKDRILL_SHOP_SYNC_LAG")
    option(p_up, "--db", help="the system of record: sqlite (a file in the shop dir), postgres (a PostgreSQL "
           "server of the shop's own, from the distribution's package, stopped by `shop down`) or a "
           "postgresql://user:password@127.0.0.1:5432/dbname URL of a server you run", default="sqlite",
           env="PEAKDRILL_SHOP_DB")
    option(p_up, "--allow-non-loopback", action="store_true", env="PEAKDRILL_SHOP_ALLOW_NON_LOOPBACK",
           help="allow a --host (and a --db URL host) that is not a loopback address")
    option(p_up, "--fresh", action="store_true", env="PEAKDRILL_SHOP_FRESH",
           help="delete the shop's database first and start from the seed data")
    p_up.set_defaults(handler=up)

    p_status = commands.add_parser("status", help="print the state file and health; exit 1 if not running",
                                   description="Print the shop's state (processes, ports) and its /healthz as JSON; "
                                               "exit 1 when it is not running or not healthy.", epilog=STATUS_EPILOG)
    _shop_dir(p_status)
    p_status.set_defaults(handler=status)

    p_down = commands.add_parser("down", help="stop everything `up` started (safe to repeat)",
                                 description="Stop every process `peakdrill shop up` started, in order; "
                                             "safe to repeat.", epilog=DOWN_EPILOG)
    _shop_dir(p_down)
    p_down.set_defaults(handler=down)
