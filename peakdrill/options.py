"""Option helpers every sub-command shares; below the commands, so no command imports another.

Every option has one name on the command line and in the environment: ``--shop-dir`` is
``PEAKDRILL_SHOP_DIR``.
"""

from __future__ import annotations

import argparse
import os

from peakdrill.slo.model import RuleSet
from peakdrill.slo.parse import from_command_line

THRESHOLD_ENV = "PEAKDRILL_THRESHOLD"


def option(parser: argparse.ArgumentParser, flag: str, *, help: str, default=None, **kwargs) -> None:
    """Add ``--flag`` whose default comes from ``PEAKDRILL_FLAG`` when that is set."""
    env_name = "PEAKDRILL_" + flag.lstrip("-").replace("-", "_").upper()
    env_value = os.environ.get(env_name)
    if env_value is not None:
        default = env_value
    suffix = f" [env {env_name}" + (f", default {default}]" if default is not None else "]")
    parser.add_argument(flag, default=default, help=help + suffix, **kwargs)


def add_rule_options(parser: argparse.ArgumentParser, instead: str) -> None:
    option(parser, "--slo", metavar="FILE.yaml|PRESET",
           help=f"score by this rule file (docs/slo.md) or preset (reference-shop), {instead}")
    parser.add_argument("--threshold", action="append", metavar="'REQUESTS: METRIC BOUND'",
                        help="a rule in k6 style, e.g. 'GET /api/products/[id]: p99 < 50ms' (repeatable; added to "
                             f"--slo) [env {THRESHOLD_ENV}, several separated by ';']")


def rules_from_args(args: argparse.Namespace) -> RuleSet | None:
    """The --slo and --threshold rules; None when neither is given."""
    thresholds = list(args.threshold or [])
    if not thresholds and os.environ.get(THRESHOLD_ENV):
        thresholds = [t for t in os.environ[THRESHOLD_ENV].split(";") if t.strip()]
    return from_command_line(args.slo, thresholds)
