"""Order tracking through the courier's API, degrading to the last status it reported.

Every answer the courier gives is kept per order; when the courier errors, times out, refuses
connections or its breaker is open, the shop answers 200 with that last known status
(``source: last_known``) instead of an error, so a courier outage is no error storm.
"""

from __future__ import annotations

from typing import Any

from peakdrill.errors import DependencyError
from peakdrill.shop.outbound import Dependency, Policy
from peakdrill.shop.web import ApiProblem
from peakdrill.shop import db

POLICY = Policy(timeout_s=0.5, retries=1, backoff_s=0.05, breaker_failures=5, breaker_reset_s=5.0)


def track(conn: db.Connection, courier: Dependency, order_id: int) -> dict[str, Any]:
    order = conn.execute("SELECT created_at FROM orders WHERE id = ?", (order_id,)).fetchone()
    if order is None:
        raise ApiProblem(404, "order not found", f"no order with id {order_id}")
    try:
        status, body = courier.call("GET", f"/parcels/{order_id}?since={order['created_at']}")
    except DependencyError:
        status, body = 0, {}
    if status == 200 and isinstance(body.get("status"), str):
        known = conn.execute("SELECT status FROM tracking WHERE order_id = ?", (order_id,)).fetchone()
        if known is None or known["status"] != body["status"]:
            # Written only on a change: a tracking read under load should not take the write lock.
            conn.execute("INSERT INTO tracking VALUES (?, ?, ?) ON CONFLICT(order_id) DO UPDATE SET "
                         "status = excluded.status, updated_at = excluded.updated_at",
                         (order_id, body["status"], body.get("updated_at", 0.0)))
        return {"order_id": order_id, "status": body["status"], "source": "courier",
                "updated_at": body.get("updated_at")}
    last = conn.execute("SELECT status, updated_at FROM tracking WHERE order_id = ?", (order_id,)).fetchone()
    if last is None:
        return {"order_id": order_id, "status": "unknown", "source": "last_known", "updated_at": None}
    return {"order_id": order_id, "status": last["status"], "source": "last_known", "updated_at": last["updated_at"]}
