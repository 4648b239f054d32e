"""The settings a provider stand-in's admin API accepts: its fault and (the bot's) capacity.

Shared by the stand-in process (which answers 400 with the message) and the Python API (which
refuses bad values before sending anything), so both sides validate alike.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from peakdrill.errors import ShopError

MODES = ("ok", "error", "timeout", "unreachable", "double_charge")
MAX_LATENCY_MS = 600_000
MAX_SLOTS = 1000


def _number(name: str, value: Any, low: float, high: float, whole: bool) -> float:
    kinds = (int,) if whole else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or not low <= value <= high:
        kind = "a whole number" if whole else "a number"
        raise ShopError(f"{name} {value!r} is not {kind} in {low:g}..{high:g} (fix: e.g. {name}={low:g})")
    return value


@dataclass(frozen=True)
class Fault:
    """``error``: answer 5xx (with probability ``error_ratio`` when it is strictly between 0 and 1,
    else always); ``timeout``: hold every request far longer than any client waits;
    ``unreachable``: reset every connection to the business port; ``double_charge`` (the payment
    gateway; others answer normally): take every new charge twice. ``latency_ms`` is added to
    every business answer in any mode."""

    mode: str = "ok"
    latency_ms: int = 0
    error_ratio: float = 0.0

    def patched(self, changes: Any) -> "Fault":
        """A new Fault with ``changes`` (any subset of the fields) applied, validated."""
        if not isinstance(changes, dict):
            raise ShopError(f"a fault must be a JSON object, got {changes!r} (fix: e.g. {{\"mode\": \"error\"}})")
        unknown = sorted(set(changes) - set(self.__dataclass_fields__))
        if unknown:
            raise ShopError(f"unknown fault field(s) {unknown} (fix: use mode, latency_ms, error_ratio)")
        new = replace(self, **changes)
        if new.mode not in MODES:
            raise ShopError(f"mode {new.mode!r} is not one of {', '.join(MODES)} (fix: e.g. mode=\"error\")")
        _number("latency_ms", new.latency_ms, 0, MAX_LATENCY_MS, whole=True)
        return replace(new, error_ratio=float(_number("error_ratio", new.error_ratio, 0, 1, whole=False)))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Capacity:
    """The bot's concurrent conversations, shop-wide; 0 = the bot is down."""

    slots: int = 4

    @classmethod
    def parse(cls, body: Any) -> "Capacity":
        if not isinstance(body, dict) or set(body) != {"slots"}:
            raise ShopError(f"capacity must be {{\"slots\": N}}, got {body!r} (fix: e.g. {{\"slots\": 0}})")
        return cls(slots=int(_number("slots", body["slots"], 0, MAX_SLOTS, whole=True)))
