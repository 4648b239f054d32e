"""The ``peakdrill`` command.

Each sub-command lives in its own module that exposes ``register(subparsers)``; this module
assembles them and is the one error boundary: a :class:`PeakdrillError` is exit 2 with a one-line
message, anything else is a bug in peakdrill, exit 70 with the traceback saved to a file
(:mod:`peakdrill.crash`). Every option has one name on the command line and in the environment:
``--shop-dir`` is ``PEAKDRILL_SHOP_DIR``; an option whose name means something else elsewhere is
named after its command (``shop up --host`` is ``PEAKDRILL_SHOP_HOST``; see :func:`option`).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from peakdrill import __version__, crash
from peakdrill.errors import PeakdrillError, SpecError, quote
from peakdrill.exitcodes import ExitCode, table

EXAMPLES = """\
examples (a typical session):
  peakdrill shop up                        start the embedded reference shop
  peakdrill drill drills/demo.yaml         run a drill: load + faults on one clock
  peakdrill report reports/<run-id>        score it: score.json, report.html/.md, junit.xml
  peakdrill shop down

Every option can also be set in the environment; its --help names the variable
(--some-option is PEAKDRILL_SOME_OPTION unless the help says otherwise).
"""


ENV_TRUE, ENV_FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off", "")


def env_name(flag: str, env: str | None = None) -> str:
    return env or "PEAKDRILL_" + flag.lstrip("-").replace("-", "_").upper()


def option(parser: argparse.ArgumentParser, *flags: str, help: str, default=None, env: str | None = None,
           **kwargs) -> argparse.Action:
    """Add an option whose default comes from its environment variable when that is set.

    The variable is ``PEAKDRILL_<LONG_FLAG>``, or ``env`` where that name would mean something else
    in another command. A flag (``action="store_true"``) reads 1/0, true/false, yes/no; a repeatable
    option (``action="append"``) reads a comma-separated list, to which the command line adds."""
    flag = flags[-1]
    name = env_name(flag, env)
    value = os.environ.get(name)
    action = kwargs.get("action")
    if value is not None:
        if action == "store_true":
            if value.strip().lower() not in ENV_TRUE + ENV_FALSE:
                raise SpecError(f"environment variable {name}", "", f"{quote(value)} is not a yes/no value",
                                "set it to 1 or 0 (or unset it)")
            default = value.strip().lower() in ENV_TRUE
        elif action == "append":
            default = [item.strip() for item in value.split(",") if item.strip()]
        else:
            default = value
            if callable(kwargs.get("type")):
                kwargs["type"] = _naming_env(kwargs["type"], name, value)
        kwargs.pop("required", None)  # the environment gave it
    shown = "" if default is None or action in ("store_true", "append") else f", default {default}"
    added = parser.add_argument(*flags, default=default, help=f"{help} [env {name}{shown}]", **kwargs)
    added.env = name  # read by the tests that keep every variable meaning one thing
    return added


def _naming_env(parse, name: str, env_value: str):
    """``parse``, whose message says so when the bad value came from the environment variable."""
    def parse_value(value: str):
        try:
            return parse(value)
        except argparse.ArgumentTypeError as exc:
            raise argparse.ArgumentTypeError(f"{exc} (from the environment: {name})" if value == env_value else str(exc)) from None
    parse_value.__name__ = getattr(parse, "__name__", "value")
    return parse_value


def build_parser() -> argparse.ArgumentParser:
    from peakdrill.chaos import cli as chaos_cli
    from peakdrill.drill import cli as drill_cli
    from peakdrill.gate import cli as gate_cli
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
                   gate_cli):
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
