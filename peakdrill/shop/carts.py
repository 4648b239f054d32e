"""Shopping carts: create one, add items, order it (``POST /api/orders {"customer_id", "cart_id"}``).

A cart is ordered at most once: the order transaction reads its items and marks it ``ordered``
together, so a second order of the same cart (with another key) is refused with 409.
"""

from __future__ import annotations

import time
from typing import Any

from peakdrill.shop import db
from peakdrill.shop.web import MAX_ITEMS, MAX_QUANTITY, ApiProblem, positive_int, text



def create_cart(conn: db.Connection, body: dict[str, Any]) -> dict[str, Any]:
    customer = text(body, "customer_id", max_len=100)
    now = time.time()
    cart_id = conn.insert("INSERT INTO carts (customer_id, status, created_at, updated_at) VALUES (?, 'open', ?, ?)",
                           (customer, now, now))
    return {"cart_id": cart_id}


def _cart(conn: db.Connection, cart_id: int) -> db.Row:
    row = conn.execute("SELECT * FROM carts WHERE id = ?", (cart_id,)).fetchone()
    if row is None:
        raise ApiProblem(404, "cart not found", f"no cart with id {cart_id}")
    return row


def add_item(conn: db.Connection, cart_id: int, body: dict[str, Any]) -> dict[str, Any]:
    product_id = positive_int(body, "product_id")
    quantity = positive_int(body, "quantity", MAX_QUANTITY)
    db.begin_immediate(conn)
    try:
        if _cart(conn, cart_id)["status"] != "open":
            raise ApiProblem(409, "cart already ordered", f"cart {cart_id} was ordered; create a new cart")
        if conn.execute("SELECT 1 FROM products WHERE id = ?", (product_id,)).fetchone() is None:
            raise ApiProblem(422, "unknown product", f"product_id {product_id} does not exist")
        line = conn.execute("SELECT quantity FROM cart_items WHERE cart_id = ? AND product_id = ?",
                            (cart_id, product_id)).fetchone()
        new_quantity = quantity + (line["quantity"] if line else 0)
        if new_quantity > MAX_QUANTITY:
            raise ApiProblem(422, "invalid quantity", f"the cart would hold {new_quantity} of product_id "
                             f"{product_id}; at most {MAX_QUANTITY}")
        lines = conn.execute("SELECT COUNT(*) FROM cart_items WHERE cart_id = ?", (cart_id,)).fetchone()[0]
        if line is None and lines >= MAX_ITEMS:
            raise ApiProblem(422, "cart full", f"cart {cart_id} already has {MAX_ITEMS} products")
        conn.execute("INSERT INTO cart_items VALUES (?, ?, ?) ON CONFLICT(cart_id, product_id) "
                     "DO UPDATE SET quantity = excluded.quantity", (cart_id, product_id, new_quantity))
        conn.execute("UPDATE carts SET updated_at = ? WHERE id = ?", (time.time(), cart_id))
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return cart_view(conn, cart_id)


def cart_view(conn: db.Connection, cart_id: int) -> dict[str, Any]:
    cart = _cart(conn, cart_id)
    lines = conn.execute("SELECT c.product_id, c.quantity, p.price_cents FROM cart_items c JOIN products p "
                         "ON p.id = c.product_id WHERE c.cart_id = ? ORDER BY c.product_id", (cart_id,)).fetchall()
    return {"cart_id": cart["id"], "customer_id": cart["customer_id"], "status": cart["status"],
            "order_id": cart["order_id"],
            "items": [{"product_id": r["product_id"], "quantity": r["quantity"], "unit_price": r["price_cents"] / 100}
                      for r in lines],
            "total": sum(r["quantity"] * r["price_cents"] for r in lines) / 100}


def take_for_order(conn: db.Connection, cart_id: int, customer_id: str) -> tuple[tuple[int, int], ...]:
    """The cart's (product_id, quantity) lines, inside the caller's order transaction."""
    cart = _cart(conn, cart_id)
    if cart["customer_id"] != customer_id:
        raise ApiProblem(422, "cart of another customer", f"cart {cart_id} does not belong to {customer_id!r}")
    if cart["status"] != "open":
        raise ApiProblem(409, "cart already ordered", f"cart {cart_id} became order {cart['order_id']}; "
                         "create a new cart for a new order")
    lines = conn.execute("SELECT product_id, quantity FROM cart_items WHERE cart_id = ? ORDER BY product_id",
                         (cart_id,)).fetchall()
    if not lines:
        raise ApiProblem(422, "empty cart", f"cart {cart_id} has no items; add some with POST "
                         f"/api/carts/{cart_id}/items")
    return tuple((r["product_id"], r["quantity"]) for r in lines)


def mark_ordered(conn: db.Connection, cart_id: int, order_id: int, now: float) -> None:
    conn.execute("UPDATE carts SET status = 'ordered', order_id = ?, updated_at = ? WHERE id = ?",
                 (order_id, now, cart_id))
