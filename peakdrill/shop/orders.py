"""Placing orders and paying for them, idempotently.

Orders: one ``BEGIN IMMEDIATE`` transaction checks the key, the products and the stock, then
decrements the stock and writes the order, so two requests with the same key are serialised and
the second finds the first's order. The UNIQUE key column is the backstop.

Payments: the payment row (UNIQUE key, ``pending``) is committed before the gateway is called,
and the gateway call carries the same key, so a retry after a crash or a timeout finds the row
and repeats the call, which the gateway deduplicates. One succeeded payment per order is
enforced by a partial unique index.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from dataclasses import dataclass
from typing import Any

from peakdrill.shop import db, gateway, metrics
from peakdrill.shop.control import Control

MAX_ITEMS = 50
MAX_QUANTITY = 100


class OrderProblem(Exception):
    """A request the shop refuses; ``status`` is the HTTP status to answer with."""

    def __init__(self, http_status: int, error: str, detail: str, /, **extra: Any) -> None:
        super().__init__(detail)
        self.status, self.error, self.detail, self.extra = http_status, error, detail, extra


@dataclass(frozen=True)
class Outcome:
    status: int  # 201 created, 200 replayed
    body: dict[str, Any]


def validate_order(body: Any) -> tuple[str, list[tuple[int, int]]]:
    """Return (customer_id, [(product_id, quantity)]) or raise OrderProblem(400/422)."""
    if not isinstance(body, dict):
        raise OrderProblem(400, "invalid body", f"expected a JSON object, got {type(body).__name__}")
    customer = body.get("customer_id")
    if not isinstance(customer, str) or not customer.strip() or len(customer) > 100:
        raise OrderProblem(422, "invalid customer_id", f"customer_id must be a non-empty string, got {customer!r}")
    items = body.get("items")
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_ITEMS:
        raise OrderProblem(422, "invalid items", f"items must be a list of 1..{MAX_ITEMS} objects, got {items!r}"[:300])
    merged: dict[int, int] = {}
    for n, item in enumerate(items):
        pid = item.get("product_id") if isinstance(item, dict) else None
        qty = item.get("quantity") if isinstance(item, dict) else None
        if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
            raise OrderProblem(422, "invalid product_id", f"items.{n}.product_id must be a positive integer, got {pid!r}")
        if not isinstance(qty, int) or isinstance(qty, bool) or not 1 <= qty <= MAX_QUANTITY:
            raise OrderProblem(422, "invalid quantity", f"items.{n}.quantity must be an integer 1..{MAX_QUANTITY}, got {qty!r}")
        merged[pid] = merged.get(pid, 0) + qty
    return customer, sorted(merged.items())


def _hash(customer: str, items: list[tuple[int, int]]) -> str:
    return hashlib.sha256(json.dumps([customer, items]).encode()).hexdigest()


def place_order(conn: sqlite3.Connection, key: str, body: Any) -> Outcome:
    customer, items = validate_order(body)
    request_hash = _hash(customer, items)
    start = time.perf_counter()
    conn.execute("BEGIN IMMEDIATE")
    try:
        existing = conn.execute("SELECT id, request_hash FROM orders WHERE idempotency_key = ?", (key,)).fetchone()
        if existing is not None:
            conn.execute("ROLLBACK")
            if existing["request_hash"] != request_hash:
                raise OrderProblem(422, "idempotency key reused",
                                   f"Idempotency-Key {key!r} was used for a different order "
                                   f"(order {existing['id']}); use a new key for a new order")
            return Outcome(200, order_view(conn, existing["id"]))
        total = 0
        priced = []
        for pid, qty in items:
            row = conn.execute("SELECT p.price_cents, i.stock FROM products p JOIN inventory i "
                               "ON i.product_id = p.id WHERE p.id = ?", (pid,)).fetchone()
            if row is None:
                raise OrderProblem(422, "unknown product", f"product_id {pid} does not exist")
            if row["stock"] < qty:
                metrics.ORDERS.labels("out_of_stock").inc()
                raise OrderProblem(409, "out of stock",
                                   f"product_id {pid}: {qty} requested, {row['stock']} in stock")
            priced.append((pid, qty, row["price_cents"]))
            total += qty * row["price_cents"]
        now = time.time()
        order_id = conn.execute(
            "INSERT INTO orders (customer_id, status, total_cents, idempotency_key, request_hash, "
            "created_at, updated_at) VALUES (?, 'created', ?, ?, ?, ?, ?)",
            (customer, total, key, request_hash, now, now)).lastrowid
        for pid, qty, price in priced:
            conn.execute("UPDATE inventory SET stock = stock - ?, updated_at = ? WHERE product_id = ?", (qty, now, pid))
            conn.execute("INSERT INTO order_items VALUES (?, ?, ?, ?)", (order_id, pid, qty, price))
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    finally:
        metrics.DB_OP_DURATION.labels("place_order").observe(time.perf_counter() - start)
    metrics.ORDERS.labels("created").inc()
    return Outcome(201, {"order_id": order_id, "status": "created", "total": total / 100,
                         "customer_id": customer})


def order_view(conn: sqlite3.Connection, order_id: int) -> dict[str, Any]:
    row = conn.execute("SELECT * FROM orders WHERE id = ?", (order_id,)).fetchone()
    if row is None:
        raise OrderProblem(404, "order not found", f"no order with id {order_id}")
    items = conn.execute("SELECT product_id, quantity, unit_price_cents FROM order_items WHERE order_id = ? "
                         "ORDER BY product_id", (order_id,)).fetchall()
    payment = conn.execute("SELECT id, status FROM payments WHERE order_id = ? ORDER BY "
                           "(status = 'succeeded') DESC, id DESC LIMIT 1", (order_id,)).fetchone()
    return {"order_id": row["id"], "status": row["status"], "total": row["total_cents"] / 100,
            "customer_id": row["customer_id"], "created_at": row["created_at"],
            "items": [{"product_id": i["product_id"], "quantity": i["quantity"],
                       "unit_price": i["unit_price_cents"] / 100} for i in items],
            "payment": {"payment_id": payment["id"], "status": payment["status"]} if payment else None}


def pay_order(conn: sqlite3.Connection, order_id: int, key: str, control: Control | None = None) -> Outcome:
    conn.execute("BEGIN IMMEDIATE")
    try:
        payment = conn.execute("SELECT * FROM payments WHERE idempotency_key = ?", (key,)).fetchone()
        if payment is not None and payment["order_id"] != order_id:
            raise OrderProblem(422, "idempotency key reused",
                               f"Idempotency-Key {key!r} belongs to a payment of order {payment['order_id']}")
        order = conn.execute("SELECT id, status, total_cents FROM orders WHERE id = ?", (order_id,)).fetchone()
        if order is None:
            raise OrderProblem(404, "order not found", f"no order with id {order_id}")
        if payment is None:
            other = conn.execute("SELECT id, status FROM payments WHERE order_id = ? AND status IN "
                                 "('pending', 'succeeded')", (order_id,)).fetchone()
            if other is not None:
                raise OrderProblem(409, f"payment already {other['status']}",
                                   f"order {order_id} has payment {other['id']} ({other['status']}); retry "
                                   "with that payment's Idempotency-Key instead of a new one",
                                   payment_id=other["id"])
            now = time.time()
            payment_id = conn.execute(
                "INSERT INTO payments (order_id, idempotency_key, amount_cents, status, created_at, updated_at) "
                "VALUES (?, ?, ?, 'pending', ?, ?)", (order_id, key, order["total_cents"], now, now)).lastrowid
            amount = order["total_cents"]
        else:
            payment_id, amount = payment["id"], payment["amount_cents"]
            if payment["status"] == "succeeded":
                conn.execute("ROLLBACK")
                return Outcome(200, {"order_id": order_id, "status": "paid", "payment_id": payment_id})
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    # Outside the transaction: a slow gateway must not hold the database write lock.
    try:
        result = gateway.charge(key, amount, control)
    except gateway.GatewayError as exc:
        _set(conn, "UPDATE orders SET status = 'payment_pending', updated_at = ? WHERE id = ? AND status != 'paid'",
             (time.time(), order_id))
        metrics.ORDERS.labels("payment_pending").inc()
        raise OrderProblem(502, "payment gateway unavailable",
                           f"{exc}; the order is kept as payment_pending, retry with the same Idempotency-Key",
                           order_id=order_id, payment_id=payment_id, status="payment_pending") from None
    now = time.time()
    if result.status != "succeeded":
        _set(conn, "UPDATE payments SET status = 'failed', gateway_ref = ?, updated_at = ? WHERE id = ?",
             (result.ref, now, payment_id))
        metrics.ORDERS.labels("payment_declined").inc()
        raise OrderProblem(402, "payment declined", f"the gateway declined charge {result.ref}; pay with a new key")
    with db.transaction(conn):
        conn.execute("UPDATE payments SET status = 'succeeded', gateway_ref = ?, updated_at = ? WHERE id = ?",
                     (result.ref, now, payment_id))
        conn.execute("UPDATE orders SET status = 'paid', updated_at = ? WHERE id = ?", (now, order_id))
    metrics.ORDERS.labels("paid").inc()
    return Outcome(200, {"order_id": order_id, "status": "paid", "payment_id": payment_id})


def _set(conn: sqlite3.Connection, sql: str, params: tuple) -> None:
    conn.execute(sql, params)  # autocommit: a single statement is its own transaction
