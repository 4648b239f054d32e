"""Idempotent creation: the same Idempotency-Key replays the first result, never a second row.

The caller runs this inside its ``BEGIN IMMEDIATE`` transaction, so two requests with one key
are serialised and the second finds the first's row; the table's UNIQUE key is the backstop.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from peakdrill.shop.web import ApiProblem
from peakdrill.shop import db

TABLES = ("orders", "returns")  # the tables with idempotency_key + request_hash columns


def request_hash(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def replayed(conn: db.Connection, table: str, key: str, digest: str) -> int | None:
    """The id of the row created earlier under ``key``, or None if there is none. The same key
    with a different request is refused: it would otherwise silently return the wrong thing."""
    if table not in TABLES:
        raise ValueError(f"table {table!r} has no idempotency key")
    row = conn.execute(f"SELECT id, request_hash FROM {table} WHERE idempotency_key = ?", (key,)).fetchone()
    if row is None:
        return None
    if row["request_hash"] != digest:
        raise ApiProblem(422, "idempotency key reused",
                           f"Idempotency-Key {key!r} was used for a different request ({table[:-1]} {row['id']}); "
                           "use a new key for a new request")
    return row["id"]
