"""The inventory sync worker: ``python -m peakdrill.shop.sync_worker --lag-s 2`` (the database's
location from ``--db`` or ``PEAKDRILL_SHOP_APP_DB``: a URL may carry a password, not for argv).

A separate process, like the batch job that feeds a real shop's central inventory from its
stores' systems: every ``interval_s`` it applies the store movements that are at least ``lag_s``
old to the central stock, and records how far it got (``sync_status.synced_at``). Freezing it
(SIGSTOP) stops ``synced_at`` advancing, which is how the shop knows its inventory is stale.
"""

from __future__ import annotations

import argparse
import logging
import os
import time

from peakdrill.shop import db

log = logging.getLogger("peakdrill.shop.sync")


def sync_once(conn: db.Connection, lag_s: float, now: float | None = None) -> int:
    """Apply every pending movement older than ``lag_s``; return how many were applied."""
    now = time.time() if now is None else now
    horizon = now - lag_s
    with db.transaction(conn):
        pending = conn.execute("SELECT id, product_id, delta FROM store_movements "
                               "WHERE applied_at IS NULL AND at <= ? ORDER BY id", (horizon,)).fetchall()
        for row in pending:
            # Stock cannot go below zero: a store selling more than central knew is the oversell
            # that the staleness flag warns about, not something to record as negative stock.
            conn.execute("UPDATE inventory SET stock = CASE WHEN stock + ? > 0 THEN stock + ? ELSE 0 END, "
                         "updated_at = ? WHERE product_id = ?", (row["delta"], row["delta"], now, row["product_id"]))
            conn.execute("UPDATE store_movements SET applied_at = ? WHERE id = ?", (now, row["id"]))
        conn.execute("INSERT INTO sync_status (id, synced_at, lag_s) VALUES (1, ?, ?) "
                     "ON CONFLICT(id) DO UPDATE SET synced_at = excluded.synced_at, lag_s = excluded.lag_s",
                     (horizon, lag_s))
    return len(pending)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", default=os.environ.get("PEAKDRILL_SHOP_APP_DB"), required="PEAKDRILL_SHOP_APP_DB" not in os.environ)
    parser.add_argument("--lag-s", type=float, default=2.0)
    parser.add_argument("--interval-s", type=float, default=0.5)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    conn = db.connect(args.db, busy_timeout_ms=1000)
    log.info("syncing store movements into %s with lag %.1fs", db.shown(args.db), args.lag_s)
    while True:
        try:
            applied = sync_once(conn, args.lag_s)
            if applied:
                log.info("applied %d store movement(s)", applied)
        except db.OperationalFailure as exc:
            # A locked database (the database-slowdown drill) delays the sync; it catches up after.
            log.warning("sync pass skipped: %s", exc)
        time.sleep(args.interval_s)


if __name__ == "__main__":
    main()
