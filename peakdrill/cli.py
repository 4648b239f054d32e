"""The ``peakdrill`` command.

Each sub-command lives in its own module that exposes ``register(subparsers)``; this module
assembles them and is the one error boundary: a :class:`PeakdrillError` is exit 2 with a one-line
message, anything else is a bug in peakdrill, exit 70 with the traceback saved to a file
(:mod:`peakdrill.crash`). Every option has one name on the command line and in the environment:
``--shop-dir`` is ``PEAKDRILL_SHOP_DIR``; an option whose name means something else elsewhere is
named after its command (``shop up --host`` is ``PEAKDRILL_SHOP_HOST``; see :func:`peakdrill.options.option`).
"""

from __future__ import annotations

import argparse
import logging
import sys

from peakdrill import __version__, crash
from peakdrill.errors import PeakdrillError
from peakdrill.exitcodes import ExitCode, table
from peakdrill.options import option

EXAMPLES = """\
examples (a typical session):
  peakdrill shop up                        start the embedded reference shop
  peakdrill drill drills/demo.yaml         run a drill: load + faults on one clock
  peakdrill report reports/<run-id>        score it: score.json, report.html/.md, junit.xml
  peakdrill shop down

Every option can also be set in the environment; its --help names the variable
(--some-option is PEAKDRILL_SOME_OPTION unless the help says otherwise).
"""


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
    option(parser, "-v", "--verbose", action="store_true", help="log debug details")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in (shop_cli, drill_cli, report_cli, profile_cli, chaos_cli, load_cli, capacity_cli, merge_cli, sizing_cli,
                   gate_cli, integrity_cli):
        module.register(subparsers)
    for command in all_parsers(parser):
        command.epilog = (command.epilog or "").rstrip("\n") + ("\n\n" if command.epilog else "") + table() + "\n"
        command.formatter_class = argparse.RawDescriptionHelpFormatter
    return parser


def all_parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """``parser`` and every sub-command's parser below it."""
    found = [parser]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):
                found += all_parsers(sub)
    return found


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns its exit code (peakdrill.exitcodes). argparse's own usage errors
    exit 2 through SystemExit, as do --help and --version (0)."""
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        logging.basicConfig(
            level=logging.DEBUG if args.verbose else logging.INFO,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )
        return int(args.handler(args) or 0)
    except PeakdrillError as exc:
        print(f"peakdrill: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return ExitCode.USAGE
    except Exception as exc:  # the boundary: whatever escapes is a bug, and must not read as a verdict
        path = crash.write_crash_report(exc, crash.argv_of(argv))
        print(crash.crash_line(exc, path), file=sys.stderr)
        return ExitCode.INTERNAL


if __name__ == "__main__":
    sys.exit(main())
