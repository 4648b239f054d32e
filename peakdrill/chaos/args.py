"""Argument checks shared by the provider's ``validate_*`` functions.

Each raises :class:`ChaosError` quoting the argument, the bad value and the fix; the guard control
(:mod:`peakdrill.chaos.guard`) prefixes the activity's name, so the message names both.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from peakdrill.errors import ChaosError, quote

# Longer faults are refused: a drill step, not an outage. Raise it deliberately if you need to.
MAX_FAULT_DURATION_S = 3600.0


def number(name: str, value: Any, low: float, high: float, example: float) -> float:
    try:
        parsed = float(value)
    except (TypeError, ValueError) as exc:
        raise ChaosError(f"argument {name}={quote(value)} is not a number (fix: e.g. {name}: {example:g})") from exc
    if isinstance(value, bool) or not low <= parsed <= high:
        raise ChaosError(f"argument {name}={quote(value)} is outside {low:g}..{high:g} (fix: e.g. {name}: {example:g})")
    return parsed


def whole(name: str, value: Any, low: int, high: int, example: int) -> int:
    parsed = number(name, value, low, high, example)
    if parsed != int(parsed):
        raise ChaosError(f"argument {name}={quote(value)} is not a whole number (fix: e.g. {name}: {example})")
    return int(parsed)


def duration(value: Any, name: str = "duration") -> float:
    """A fault length in seconds: > 0 and at most :data:`MAX_FAULT_DURATION_S`."""
    parsed = number(name, value, 0.0, MAX_FAULT_DURATION_S, 10)
    if parsed <= 0:
        raise ChaosError(f"argument {name}={quote(value)} must be more than 0 seconds (fix: e.g. {name}: 10)")
    return parsed


def choice(name: str, value: Any, allowed: Iterable[Any]) -> str:
    allowed = tuple(allowed)
    if value not in allowed:
        raise ChaosError(f"argument {name}={quote(value)} is not one of {', '.join(map(str, allowed))} "
                         f"(fix: e.g. {name}: {allowed[0]})")
    return str(value)


def remover_by(value: Any) -> str:
    """Who removes a fault, as recorded in the FaultRemoved event."""
    return choice("by", value, ("method", "rollback", "dead-man", "recover"))
