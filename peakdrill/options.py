"""Option helpers every sub-command shares; below the commands, so no command imports another.

Every option has one name on the command line and in the environment: ``--shop-dir`` is
``PEAKDRILL_SHOP_DIR``; an option whose name means something else elsewhere is named after its
command (``shop up --host`` is ``PEAKDRILL_SHOP_HOST``).
"""

from __future__ import annotations

import argparse
import os

from peakdrill.errors import SpecError, quote
from peakdrill.slo.model import RuleSet
from peakdrill.slo.parse import from_command_line

THRESHOLD_ENV = "PEAKDRILL_THRESHOLD"

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


def add_rule_options(parser: argparse.ArgumentParser, instead: str) -> None:
    option(parser, "--slo", metavar="FILE.yaml|PRESET",
           help=f"score by this rule file (docs/slo.md) or preset (reference-shop), {instead}")
    parser.add_argument("--threshold", action="append", metavar="'REQUESTS: METRIC BOUND'",
                        help="a rule in k6 style, e.g. 'GET /api/products/[id]: p99 < 50ms' (repeatable; added to "
                             f"--slo) [env {THRESHOLD_ENV}, several separated by ';']").env = THRESHOLD_ENV


def rules_from_args(args: argparse.Namespace) -> RuleSet | None:
    """The --slo and --threshold rules; None when neither is given."""
    thresholds = list(args.threshold or [])
    if not thresholds and os.environ.get(THRESHOLD_ENV):
        thresholds = [t for t in os.environ[THRESHOLD_ENV].split(";") if t.strip()]
    return from_command_line(args.slo, thresholds)
