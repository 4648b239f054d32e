"""Types of command-line options (argparse ``type=``): a bad value is a usage error, exit 2.

Each refuses what no run means: text where a number belongs, NaN and infinities, zero or
negatives where only a positive count makes sense, and figures above the limits of
:mod:`peakdrill.spec.limits`. argparse prints the message as ``argument --x: <message>``.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

from peakdrill.errors import quote
from peakdrill.spec.loader import parse_duration, parse_utc_time


def _figure(value: float) -> str:
    return f"{int(value):,}" if value == int(value) else f"{value:g}"


def number(kind: type = float, low: float = 0.0, high: float = math.inf, *, above_low: bool = True,
           example: str = "1") -> Callable[[str], float | int]:
    """A finite ``kind`` (int or float) in ``(low, high]`` (``[low, high]`` when not ``above_low``)."""
    bound = f"above {_figure(low)}" if above_low else f"at least {_figure(low)}"
    if high != math.inf:
        bound += f" and at most {_figure(high)}"
    what = "a whole number" if kind is int else "a number"

    def parse(value: str) -> float | int:
        try:
            parsed = kind(value)
        except (TypeError, ValueError, OverflowError):
            raise argparse.ArgumentTypeError(f"{quote(value)} is not {what}; write {what} {bound}, e.g. {example}") from None
        if not math.isfinite(parsed):
            raise argparse.ArgumentTypeError(f"{quote(value)} is not a finite number; write {what} {bound}, e.g. {example}")
        if not (parsed > low if above_low else parsed >= low) or parsed > high:
            raise argparse.ArgumentTypeError(f"{quote(value)} is out of range; write {what} {bound}, e.g. {example}")
        return parsed

    parse.__name__ = kind.__name__  # argparse names the type in some messages
    return parse


def duration(low: float = 0.0, *, example: str = "30s") -> Callable[[str], float]:
    """Seconds from ``30s``, ``1m30s``, ``2h`` or a plain number, above ``low``."""

    def parse(value: str) -> float:
        try:
            seconds = parse_duration(value)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        if seconds <= low:
            raise argparse.ArgumentTypeError(f"{quote(value)} is too short; write a duration above {low:g}s, e.g. {example}")
        return seconds

    parse.__name__ = "duration"
    return parse


def shard(value: str) -> tuple[int, int]:
    """``K/N``: this master is shard K (from 0) of N masters."""
    parts = value.strip().split("/")
    try:
        index, count = (int(part) for part in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{quote(value)} is not K/N; write e.g. 0/4 for the first of 4 masters") from None
    if not 0 <= index < count or count > 10_000:
        raise argparse.ArgumentTypeError(f"{quote(value)} is out of range; K counts from 0 to N-1, e.g. 0/4 ... 3/4")
    return index, count


def utc_time(value: str) -> float:
    """A UTC instant (ISO 8601 with Z), as Unix time."""
    try:
        return parse_utc_time(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
