"""What the shop has stored, for the drill's data-integrity check (acknowledged vs stored).

The harness keeps the Idempotency-Key of every order and payment the shop acknowledged; this
lists what the system of record holds under those keys, so a lost order (acknowledged, not
stored) or a duplicate (two rows for one intent, or two succeeded payments for one order)
shows up.
"""

from __future__ import annotations

from typing import Any
from peakdrill.shop import db


def reconciliation(conn: db.Connection, since: float = 0.0) -> dict[str, Any]:
    orders = conn.execute("SELECT id, idempotency_key, status, total_cents, created_at FROM orders "
                          "WHERE created_at >= ? ORDER BY id", (since,)).fetchall()
    payments = conn.execute("SELECT id, order_id, idempotency_key, status, amount_cents FROM payments "
                            "WHERE created_at >= ? ORDER BY id", (since,)).fetchall()
    double_charged = conn.execute(
        "SELECT order_id, COUNT(*) AS n FROM payments WHERE status = 'succeeded' AND created_at >= ? "
        "GROUP BY order_id HAVING COUNT(*) > 1", (since,)).fetchall()
    return {
        "since": since,
        "orders": [{"order_id": r["id"], "idempotency_key": r["idempotency_key"], "status": r["status"],
                    "total": r["total_cents"] / 100} for r in orders],
        "payments": [{"payment_id": r["id"], "order_id": r["order_id"], "idempotency_key": r["idempotency_key"],
                      "status": r["status"], "amount": r["amount_cents"] / 100} for r in payments],
        "double_charged_orders": [r["order_id"] for r in double_charged],
    }
