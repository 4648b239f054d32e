"""The ``integrity:`` section of a drill (or the file of ``peakdrill load --integrity FILE``).

Which system of record holds each kind of acknowledgement and how to ask it, validated completely
before anything runs::

    integrity:
      timeout: 60s                  # per reconciler; a reconciler past it makes the verdict INCONCLUSIVE
      settle: 3s                    # wait after the load before asking (asynchronous writes)
      kinds:
        order:   {type: reference-shop}
        payment: {type: http, url: "http://127.0.0.1:9101/admin/charges", items: charges,
                  ref_field: idempotency_key}
        booking: {type: sql, url: "postgresql://app@127.0.0.1:5432/shop",
                  query: "SELECT booking_ref FROM bookings WHERE booking_ref LIKE 'lt-%'"}
        ticket:  {type: command, command: [./list-tickets.sh]}

See docs/integrity.md.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal, Union

from pydantic import Field, field_validator

from peakdrill.errors import SpecError
from peakdrill.spec.loader import Duration, Spec, read_yaml, validate

DEFAULT_TEST_PREFIX = "lt-"  # the journeys' customer ids start with it
_SELECT = re.compile(r"^\s*(select|with)\b", re.IGNORECASE)


def single_select(query: str) -> str:
    """A query is one SELECT (or WITH ... SELECT) statement: peakdrill only reads."""
    text = query.strip().rstrip(";").strip()
    if not _SELECT.match(text):
        raise ValueError("the query must be a single SELECT statement (peakdrill only reads the system of record)")
    if ";" in text:
        raise ValueError("the query must be one statement; remove the ';' inside it")
    return text


class _Reconciler(Spec):
    # Only records whose id (or ref) starts with this count: the run's test traffic, never real data.
    # Empty: the reconciler's own query or endpoint selects the test traffic.
    id_prefix: str = ""


class ReferenceShopReconciler(Spec):
    """The embedded shop's ``GET /api/admin/reconciliation`` (orders, payments, chats, returns)."""

    type: Literal["reference-shop"]
    url: str | None = Field(default=None, pattern=r"^https?://")  # the shop's base URL; absent: the run's target
    # The journeys' customers: only their orders, payments, chats and returns are counted.
    customer_prefix: str = Field(default=DEFAULT_TEST_PREFIX, min_length=1)


class SqlReconciler(_Reconciler):
    """A user's query run read-only; the first column is the id, an optional second the ref."""

    type: Literal["sql"]
    url: str = Field(pattern=r"^(postgres(ql)?|mysql|sqlite)://")
    query: str

    _query = field_validator("query")(lambda v: single_select(v))


class HttpReconciler(_Reconciler):
    """A GET returning a JSON list (or an object with the list under ``items``) of ids or objects."""

    type: Literal["http"]
    url: str = Field(pattern=r"^https?://")
    items: str = ""  # dotted path to the list inside the answer; empty: the answer is the list
    id_field: str = ""  # in objects: the field holding the id ("" with ref_field: refs only)
    ref_field: str = ""
    headers: dict[str, str] = Field(default_factory=dict)


class CommandReconciler(_Reconciler):
    """A command (argv, no shell) that prints one id a line, or ``id<TAB>ref``."""

    type: Literal["command"]
    command: list[str] = Field(min_length=1)


Reconciler = Annotated[Union[ReferenceShopReconciler, SqlReconciler, HttpReconciler, CommandReconciler],
                       Field(discriminator="type")]


class Integrity(Spec):
    kinds: dict[Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,60}$")], Reconciler] = Field(min_length=1)
    timeout: Duration = Field(default=60.0, gt=0, le=3600)
    settle: Duration = Field(default=3.0, ge=0, le=600)
    sample: int = Field(default=5, ge=1, le=100)  # how many ids of each finding to name


def load_integrity(path: Path | str) -> Integrity:
    """``--integrity FILE``: the file holds the section's fields, or ``integrity:`` with them."""
    path = Path(path)
    if not path.is_file():
        raise SpecError(str(path), "", "no such integrity file", "give the path of a YAML file (see docs/integrity.md)")
    raw = read_yaml(path)
    if isinstance(raw, dict) and set(raw) == {"integrity"}:
        raw = raw["integrity"]
    return validate(Integrity, raw, path)
