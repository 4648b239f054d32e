"""Endpoint maps: how the journeys' logical operations reach one particular shop.

The journeys never write a URL: they call operations (``product``, ``pay_order``...) and a target
configuration maps each to a method and a path template, so the same journeys drive a shop whose
paths differ. ``{id}`` stands for the resource's id and ``{n}`` for a page number; the Locust
request name is the template with ``[id]``/``[n]`` in their place, which keeps the statistics
readable and the report's endpoint names stable.
"""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path

from pydantic import Field, field_validator

from peakdrill.errors import quote
from peakdrill.spec.loader import Spec, load_spec

# The journeys read the target's endpoint map from here (plain `locust` too).
ENDPOINTS_ENV = "PEAKDRILL_ENDPOINTS"

# Operation -> the placeholders its path must contain.
OPERATIONS: dict[str, frozenset[str]] = {
    "list_products": frozenset({"n"}),
    "product": frozenset({"id"}),
    "inventory": frozenset({"id"}),
    "create_cart": frozenset(),
    "add_to_cart": frozenset({"id"}),
    "get_cart": frozenset({"id"}),
    "place_order": frozenset(),
    "get_order": frozenset({"id"}),
    "pay_order": frozenset({"id"}),
    "tracking": frozenset({"id"}),
    "open_chat": frozenset(),
    "get_chat": frozenset({"id"}),
    "chat_message": frozenset({"id"}),
    "escalate_chat": frozenset({"id"}),
    "close_chat": frozenset({"id"}),
    "file_return": frozenset(),
}
# Without these the two journeys cannot run at all; the others are skipped when a shop lacks them
# (ordering without a cart, a chat without escalation...).
REQUIRED = ("list_products", "product", "place_order", "pay_order", "get_order",
            "open_chat", "get_chat", "chat_message", "close_chat")
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


class Endpoint(Spec):
    method: str
    path: str

    # Both run on every request of every simulated user: the name is worked out once.
    @cached_property
    def name(self) -> str:
        """The Locust request name: ids folded, so one endpoint is one line of statistics."""
        return _PLACEHOLDER.sub(lambda m: f"[{m.group(1)}]", self.path)

    def url(self, **values: object) -> str:
        return self.path.format(**values)  # placeholders are validated to be exactly {id} / {n}


def _parse_endpoint(text: object) -> Endpoint:
    method, _, path = str(text).strip().partition(" ")
    path = path.strip()
    if method.upper() not in METHODS or not path.startswith("/"):
        raise ValueError(f"{quote(text)} is not 'METHOD /path'; write e.g. 'GET /api/products/{{id}}'")
    return Endpoint(method=method.upper(), path=path)


class EndpointMap(Spec):
    name: str = Field(min_length=1)
    description: str = ""
    endpoints: dict[str, Endpoint]

    @field_validator("endpoints", mode="before")
    @classmethod
    def _parse(cls, value: object) -> object:
        if not isinstance(value, dict):
            return value
        unknown = sorted(set(value) - set(OPERATIONS))
        if unknown:
            raise ValueError(f"unknown operation {quote(unknown[0], 40)}; the operations are {', '.join(OPERATIONS)}")
        missing = [op for op in REQUIRED if op not in value]
        if missing:
            raise ValueError(f"operation {missing[0]!r} is missing; the journeys need {', '.join(REQUIRED)}")
        parsed = {}
        for operation, text in value.items():
            endpoint = _parse_endpoint(text)
            found = set(_PLACEHOLDER.findall(endpoint.path))
            if found != OPERATIONS[operation]:
                wanted = ", ".join(f"{{{p}}}" for p in sorted(OPERATIONS[operation])) or "no placeholder"
                raise ValueError(f"{operation}: path {quote(endpoint.path)} must contain {wanted}")
            try:
                endpoint.url(**{placeholder: 1 for placeholder in found})
            except (ValueError, IndexError, KeyError) as exc:
                raise ValueError(f"{operation}: path {quote(endpoint.path)} has a stray brace ({exc})") from exc
            parsed[operation] = endpoint
        return parsed

    def has(self, operation: str) -> bool:
        return operation in self.endpoints


def request_names(path: Path | str | None) -> list[str] | None:
    """The request names a map's operations give (None without a map)."""
    if path is None:
        return None
    return [f"{e.method} {e.name}" for e in load_endpoint_map(path).endpoints.values()]


def load_endpoint_map(path: Path | str) -> EndpointMap:
    return load_spec(EndpointMap, path)


def endpoints_env(path: Path | str | None) -> tuple[tuple[str, str], ...]:
    """Locust's environment for a target's map. Always set (empty: the reference shop's paths),
    so a map left in the caller's environment cannot send the load down paths other than those
    the report scores."""
    return ((ENDPOINTS_ENV, str(path) if path else ""),)
