"""What the shop has stored, for the drill's data-integrity check (acknowledged vs stored).

Every row carries its ``customer_id``, so a reconciler counts only the load test's customers (the
journeys' ids start with ``lt-``). The harness keeps the Idempotency-Key of every order and payment the shop acknowledged; this
lists what the system of record holds under those keys, so a lost order (acknowledged, not
stored) or a duplicate (two rows for one intent, or two succeeded payments for one order)
shows up.
"""

from __future__ import annotations

from typing import Any
from peakdrill.shop import db


def reconciliation(conn: db.Connection, since: float = 0.0) -> dict[str, Any]:
    orders = conn.execute("SELECT id, customer_id, idempotency_key, status, total_cents, created_at FROM orders "
                          "WHERE created_at >= ? ORDER BY id", (since,)).fetchall()
    payments = conn.execute("SELECT p.id, p.order_id, o.customer_id, p.idempotency_key, p.status, p.amount_cents "
                            "FROM payments p JOIN orders o ON o.id = p.order_id "
                            "WHERE p.created_at >= ? ORDER BY p.id", (since,)).fetchall()
    chats = conn.execute("SELECT id, customer_id, status FROM chats WHERE created_at >= ? ORDER BY id", (since,)).fetchall()
    returns = conn.execute("SELECT id, order_id, customer_id, idempotency_key, status FROM returns "
                           "WHERE created_at >= ? ORDER BY id", (since,)).fetchall()
    double_charged = conn.execute(
        "SELECT order_id, COUNT(*) AS n FROM payments WHERE status = 'succeeded' AND created_at >= ? "
        "GROUP BY order_id HAVING COUNT(*) > 1", (since,)).fetchall()
    return {
        "since": since,
        "orders": [{"order_id": r["id"], "customer_id": r["customer_id"], "idempotency_key": r["idempotency_key"], "status": r["status"],
                    "total": r["total_cents"] / 100} for r in orders],
        "payments": [{"payment_id": r["id"], "order_id": r["order_id"], "customer_id": r["customer_id"],
                      "idempotency_key": r["idempotency_key"],
                      "status": r["status"], "amount": r["amount_cents"] / 100} for r in payments],
        "double_charged_orders": [r["order_id"] for r in double_charged],
        "chats": [{"chat_id": r["id"], "customer_id": r["customer_id"], "status": r["status"]} for r in chats],
        "returns": [{"return_id": r["id"], "order_id": r["order_id"], "customer_id": r["customer_id"],
                     "idempotency_key": r["idempotency_key"], "status": r["status"]} for r in returns],
    }
