"""The ``peakdrill`` command.

Each sub-command lives in its own module that exposes ``register(subparsers)``; this module only
assembles them and turns :class:`PeakdrillError` into exit code 2 with a one-line message.
Every option has one name on the command line and in the environment: ``--shop-dir`` is
``PEAKDRILL_SHOP_DIR`` (see :func:`option`).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from peakdrill import __version__
from peakdrill.errors import PeakdrillError

EXAMPLES = """\
typical session:
  peakdrill shop up                        start the embedded reference shop
  peakdrill drill drills/demo.yaml         run a drill: load + faults on one clock
  peakdrill report reports/<run-id>        score it: score.json, report.html/.md, junit.xml
  peakdrill shop down

exit codes: 0 pass, 1 fail, 2 usage or input error, 3 inconclusive.
Every --some-option can also be set as PEAKDRILL_SOME_OPTION in the environment.
"""


def option(parser: argparse.ArgumentParser, flag: str, *, help: str, default=None, **kwargs) -> None:
    """Add ``--flag`` whose default comes from ``PEAKDRILL_FLAG`` when that is set."""
    env_name = "PEAKDRILL_" + flag.lstrip("-").replace("-", "_").upper()
    env_value = os.environ.get(env_name)
    if env_value is not None:
        default = env_value
    suffix = f" [env {env_name}" + (f", default {default}]" if default is not None else "]")
    parser.add_argument(flag, default=default, help=help + suffix, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    from peakdrill.chaos import cli as chaos_cli
    from peakdrill.drill import cli as drill_cli
    from peakdrill.gate import cli as gate_cli
    from peakdrill.integrity import cli as integrity_cli
    from peakdrill.load import capacity_cli, merge_cli
    from peakdrill.load import cli as load_cli
    from peakdrill.replay import cli as profile_cli
    from peakdrill.report import cli as report_cli
    from peakdrill.shop import cli as shop_cli
    from peakdrill.sizing import cli as sizing_cli

    parser = argparse.ArgumentParser(
        prog="peakdrill",
        description="Load tests, chaos drills and scored reports for e-commerce sales peaks.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"peakdrill {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in (shop_cli, drill_cli, report_cli, profile_cli, chaos_cli, load_cli, capacity_cli, merge_cli, sizing_cli,
                   gate_cli, integrity_cli):
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.handler(args) or 0)
    except PeakdrillError as exc:
        print(f"peakdrill: error: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
