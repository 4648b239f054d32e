"""Catalogue reads from the database: the product list and the full product page.

The product page is what a real shop computes per product and caches: rating statistics over
all reviews, the latest reviews, the category's bestsellers and "customers also bought" from
last year's sales. This is real query work, which is why a cache miss costs several times a hit.
"""

from __future__ import annotations

import time
from typing import Any

from peakdrill.shop import db, metrics

PAGE_SIZE = 20


def _timed(op: str):
    class _Timer:
        def __enter__(self):
            self.start = time.perf_counter()

        def __exit__(self, *exc):
            metrics.DB_OP_DURATION.labels(op).observe(time.perf_counter() - self.start)
    return _Timer()


def list_products(conn: db.Connection, page: int) -> dict[str, Any]:
    with _timed("product_list"):
        total = conn.execute("SELECT COUNT(*) FROM products").fetchone()[0]
        rows = conn.execute(
            "SELECT p.id, p.name, p.category, p.price_cents, i.stock FROM products p "
            "JOIN inventory i ON i.product_id = p.id ORDER BY p.id LIMIT ? OFFSET ?",
            (PAGE_SIZE, (page - 1) * PAGE_SIZE)).fetchall()
    return {"page": page, "page_size": PAGE_SIZE, "total": total,
            "products": [{"id": r["id"], "name": r["name"], "category": r["category"],
                          "price": r["price_cents"] / 100, "in_stock": r["stock"] > 0} for r in rows]}


def product_page(conn: db.Connection, product_id: int) -> dict[str, Any] | None:
    """Build the product page from the database; None if there is no such product."""
    with _timed("product_detail"):
        row = conn.execute(
            "SELECT p.*, i.stock FROM products p JOIN inventory i ON i.product_id = p.id WHERE p.id = ?",
            (product_id,)).fetchone()
        if row is None:
            return None
        histogram = {str(r): 0 for r in range(1, 6)}
        count, total = 0, 0
        for r in conn.execute("SELECT rating, COUNT(*) AS n FROM reviews WHERE product_id = ? "
                              "GROUP BY rating", (product_id,)):
            histogram[str(r["rating"])] = r["n"]
            count += r["n"]
            total += r["rating"] * r["n"]
        latest = conn.execute(
            "SELECT rating, title, body, created_at FROM reviews WHERE product_id = ? "
            "ORDER BY created_at DESC LIMIT 5", (product_id,)).fetchall()
        bestsellers = conn.execute(
            "SELECT p.id, p.name, p.price_cents, SUM(s.quantity) AS sold, "
            "  (SELECT AVG(rating) FROM reviews r WHERE r.product_id = p.id) AS rating "
            "FROM products p JOIN sales_history s ON s.product_id = p.id "
            "WHERE p.category = ? AND p.id != ? GROUP BY p.id ORDER BY sold DESC, p.id LIMIT 6",
            (row["category"], product_id)).fetchall()
        also_bought = conn.execute(
            "SELECT s2.product_id AS id, p.name, p.price_cents, COUNT(*) AS together "
            "FROM sales_history s1 JOIN sales_history s2 "
            "  ON s2.order_ref = s1.order_ref AND s2.product_id != s1.product_id "
            "JOIN products p ON p.id = s2.product_id "
            "WHERE s1.product_id = ? GROUP BY s2.product_id, p.id ORDER BY together DESC, s2.product_id LIMIT 6",
            (product_id,)).fetchall()
        sold = conn.execute("SELECT COALESCE(SUM(quantity), 0) FROM sales_history WHERE product_id = ?",
                            (product_id,)).fetchone()[0]
    return {
        "id": row["id"], "name": row["name"], "category": row["category"],
        "price": row["price_cents"] / 100, "description": row["description"],
        "stock": row["stock"], "sold_last_year": sold,
        "rating": {"average": round(total / count, 2) if count else None, "count": count,
                   "histogram": histogram},
        "latest_reviews": [dict(r) for r in latest],
        "bestsellers_in_category": [
            {"id": r["id"], "name": r["name"], "price": r["price_cents"] / 100, "sold": r["sold"],
             "rating": round(r["rating"], 2) if r["rating"] is not None else None} for r in bestsellers],
        "customers_also_bought": [
            {"id": r["id"], "name": r["name"], "price": r["price_cents"] / 100, "together": r["together"]}
            for r in also_bought],
    }
