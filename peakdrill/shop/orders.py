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

import time
from dataclasses import dataclass
from typing import Any

from peakdrill.errors import DependencyError
from peakdrill.shop import carts, db, metrics
from peakdrill.shop.gateway import Gateway
from peakdrill.shop.idempotency import replayed, request_hash
from peakdrill.shop.web import MAX_ITEMS, MAX_QUANTITY, ApiProblem, positive_int, text



@dataclass(frozen=True)
class Outcome:
    status: int  # 201 created, 200 replayed, 202 accepted (payment pending)
    body: dict[str, Any]


@dataclass(frozen=True)
class OrderRequest:
    customer_id: str
    items: tuple[tuple[int, int], ...]  # (product_id, quantity), merged and sorted; empty for a cart order
    cart_id: int | None = None


def validate_items(items: Any) -> tuple[tuple[int, int], ...]:
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_ITEMS:
        raise ApiProblem(422, "invalid items", f"items must be a list of 1..{MAX_ITEMS} objects, got {items!r}"[:300])
    merged: dict[int, int] = {}
    for n, item in enumerate(items):
        if not isinstance(item, dict):
            raise ApiProblem(422, "invalid items", f"items.{n} must be an object, got {item!r}"[:300])
        merged.setdefault(positive_int(item, "product_id"), 0)
        merged[item["product_id"]] += positive_int(item, "quantity", MAX_QUANTITY)
    return tuple(sorted(merged.items()))


def validate_order(body: dict[str, Any]) -> OrderRequest:
    customer = text(body, "customer_id", max_len=100)
    if "cart_id" in body and "items" not in body:
        return OrderRequest(customer, (), positive_int(body, "cart_id"))
    return OrderRequest(customer, validate_items(body.get("items")))


def place_order(conn: db.Connection, key: str, body: dict[str, Any]) -> Outcome:
    order = validate_order(body)
    digest = request_hash(order.customer_id, order.items, order.cart_id)
    start = time.perf_counter()
    db.begin_immediate(conn)
    try:
        existing = replayed(conn, "orders", key, digest)
        if existing is not None:
            conn.execute("ROLLBACK")
            return Outcome(200, order_view(conn, existing))
        items = order.items or carts.take_for_order(conn, order.cart_id, order.customer_id)
        total = 0
        priced = []
        for pid, qty in items:
            row = conn.execute("SELECT p.price_cents, i.stock FROM products p JOIN inventory i "
                               "ON i.product_id = p.id WHERE p.id = ?", (pid,)).fetchone()
            if row is None:
                raise ApiProblem(422, "unknown product", f"product_id {pid} does not exist")
            # The central stock is all the shop knows; it never sells past it (tolerance 0 units).
            if row["stock"] < qty:
                metrics.ORDERS.labels("out_of_stock").inc()
                raise ApiProblem(409, "out of stock", f"product_id {pid}: {qty} requested, {row['stock']} in stock")
            priced.append((pid, qty, row["price_cents"]))
            total += qty * row["price_cents"]
        now = time.time()
        order_id = conn.insert(
            "INSERT INTO orders (customer_id, status, total_cents, idempotency_key, request_hash, "
            "created_at, updated_at) VALUES (?, 'created', ?, ?, ?, ?, ?)",
            (order.customer_id, total, key, digest, now, now))
        for pid, qty, price in priced:
            conn.execute("UPDATE inventory SET stock = stock - ?, updated_at = ? WHERE product_id = ?", (qty, now, pid))
            conn.execute("INSERT INTO order_items VALUES (?, ?, ?, ?)", (order_id, pid, qty, price))
        if order.cart_id is not None:
            carts.mark_ordered(conn, order.cart_id, order_id, now)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    finally:
        metrics.DB_OP_DURATION.labels("place_order").observe(time.perf_counter() - start)
    metrics.ORDERS.labels("created").inc()
    return Outcome(201, {"order_id": order_id, "status": "created", "total": total / 100,
                         "customer_id": order.customer_id})


def order_view(conn: db.Connection, order_id: int) -> dict[str, Any]:
    row = conn.execute("SELECT * FROM orders WHERE id = ?", (order_id,)).fetchone()
    if row is None:
        raise ApiProblem(404, "order not found", f"no order with id {order_id}")
    items = conn.execute("SELECT product_id, quantity, unit_price_cents FROM order_items WHERE order_id = ? "
                         "ORDER BY product_id", (order_id,)).fetchall()
    payment = conn.execute("SELECT id, status FROM payments WHERE order_id = ? ORDER BY "
                           "(status = 'succeeded') DESC, id DESC LIMIT 1", (order_id,)).fetchone()
    return {"order_id": row["id"], "status": row["status"], "total": row["total_cents"] / 100,
            "customer_id": row["customer_id"], "created_at": row["created_at"],
            "items": [{"product_id": i["product_id"], "quantity": i["quantity"],
                       "unit_price": i["unit_price_cents"] / 100} for i in items],
            "payment": {"payment_id": payment["id"], "status": payment["status"]} if payment else None}


def pay_order(conn: db.Connection, gateway: Gateway, order_id: int, key: str) -> Outcome:
    db.begin_immediate(conn)
    try:
        payment = conn.execute("SELECT * FROM payments WHERE idempotency_key = ?", (key,)).fetchone()
        if payment is not None and payment["order_id"] != order_id:
            raise ApiProblem(422, "idempotency key reused",
                               f"Idempotency-Key {key!r} belongs to a payment of order {payment['order_id']}")
        order = conn.execute("SELECT id, status, total_cents FROM orders WHERE id = ?", (order_id,)).fetchone()
        if order is None:
            raise ApiProblem(404, "order not found", f"no order with id {order_id}")
        if payment is None:
            other = conn.execute("SELECT id, status FROM payments WHERE order_id = ? AND status IN "
                                 "('pending', 'succeeded')", (order_id,)).fetchone()
            if other is not None:
                raise ApiProblem(409, f"payment already {other['status']}",
                                   f"order {order_id} has payment {other['id']} ({other['status']}); retry "
                                   "with that payment's Idempotency-Key instead of a new one",
                                   payment_id=other["id"])
            now = time.time()
            payment_id = conn.insert(
                "INSERT INTO payments (order_id, idempotency_key, amount_cents, status, created_at, updated_at) "
                "VALUES (?, ?, ?, 'pending', ?, ?)", (order_id, key, order["total_cents"], now, now))
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
        result = gateway.charge(key, amount)
    except DependencyError as exc:
        # Unknown outcome, not a failure: the order is kept and a retry with the same key
        # reaches the gateway with the same key, which charges at most once.
        _set(conn, "UPDATE orders SET status = 'payment_pending', updated_at = ? WHERE id = ? AND status != 'paid'",
             (time.time(), order_id))
        metrics.ORDERS.labels("payment_pending").inc()
        return Outcome(202, {"order_id": order_id, "status": "payment_pending", "payment_id": payment_id,
                             "detail": f"{exc}; retry with the same Idempotency-Key"})
    now = time.time()
    if result.status != "succeeded":
        _set(conn, "UPDATE payments SET status = 'failed', gateway_ref = ?, updated_at = ? WHERE id = ?",
             (result.ref, now, payment_id))
        metrics.ORDERS.labels("payment_declined").inc()
        raise ApiProblem(402, "payment declined", f"the gateway declined charge {result.ref}; pay with a new key")
    with db.transaction(conn):
        conn.execute("UPDATE payments SET status = 'succeeded', gateway_ref = ?, updated_at = ? WHERE id = ?",
                     (result.ref, now, payment_id))
        conn.execute("UPDATE orders SET status = 'paid', updated_at = ? WHERE id = ?", (now, order_id))
    metrics.ORDERS.labels("paid").inc()
    return Outcome(200, {"order_id": order_id, "status": "paid", "payment_id": payment_id})


def _set(conn: db.Connection, sql: str, params: tuple) -> None:
    conn.execute(sql, params)  # autocommit: a single statement is its own transaction
