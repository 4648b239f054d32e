"""The central inventory as the shop sees it: stock for online sale and how fresh it is.

Online orders decrement the central stock in their own transaction and never take it below
zero, so the shop never sells more than the stock it knows: the oversell tolerance is 0 units,
stale or not. What staleness adds is uncertainty about the stores: movements they made during
the sync lag (in-store sales, restocks) are not in the central figure yet.
"""

from __future__ import annotations

import time
from typing import Any

from peakdrill.shop.web import ApiProblem
from peakdrill.shop import db

# Stale once the sync has not completed a pass for this long (beyond its configured lag).
STALE_GRACE_S = 2.0
OVERSELL_TOLERANCE_UNITS = 0


def inventory_view(conn: db.Connection, product_id: int) -> dict[str, Any]:
    row = conn.execute("SELECT stock FROM inventory WHERE product_id = ?", (product_id,)).fetchone()
    if row is None:
        raise ApiProblem(404, "product not found", f"no product with id {product_id}")
    sync = conn.execute("SELECT synced_at, lag_s FROM sync_status WHERE id = 1").fetchone()
    synced_at = sync["synced_at"] if sync else None
    stale = sync is None or time.time() - synced_at > sync["lag_s"] + STALE_GRACE_S
    return {"product_id": product_id, "available": row["stock"], "synced_at": synced_at, "stale": stale,
            "oversell_tolerance": OVERSELL_TOLERANCE_UNITS}
