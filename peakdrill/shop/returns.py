"""After-sales: return requests, idempotent by ``Idempotency-Key`` like orders."""

from __future__ import annotations

import time
from typing import Any

from peakdrill.shop import db
from peakdrill.shop.idempotency import replayed, request_hash
from peakdrill.shop.web import ApiProblem, positive_int, text


def _view(conn: db.Connection, return_id: int) -> dict[str, Any]:
    row = conn.execute("SELECT id, order_id, status FROM returns WHERE id = ?", (return_id,)).fetchone()
    return {"return_id": row["id"], "order_id": row["order_id"], "status": row["status"]}


def request_return(conn: db.Connection, key: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """(201, the new return) or (200, the one created earlier under ``key``)."""
    order_id = positive_int(body, "order_id")
    customer = text(body, "customer_id", max_len=100)
    reason = text(body, "reason", max_len=500)
    digest = request_hash(order_id, customer, reason)
    with db.transaction(conn):
        existing = replayed(conn, "returns", key, digest)
        if existing is not None:
            return 200, _view(conn, existing)
        order = conn.execute("SELECT customer_id FROM orders WHERE id = ?", (order_id,)).fetchone()
        if order is None:
            raise ApiProblem(404, "order not found", f"no order with id {order_id}")
        if order["customer_id"] != customer:
            raise ApiProblem(422, "order of another customer", f"order {order_id} does not belong to {customer!r}")
        return_id = conn.insert(
            "INSERT INTO returns (order_id, customer_id, reason, status, idempotency_key, request_hash, created_at) "
            "VALUES (?, ?, ?, 'requested', ?, ?, ?)", (order_id, customer, reason, key, digest, time.time()))
    return 201, _view(conn, return_id)
