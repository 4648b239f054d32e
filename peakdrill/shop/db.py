"""The SQLite system of record: connections, schema and deterministic seed data.

The seed is sized so a product page built from the database does real aggregation work
(rating statistics over reviews, bestsellers of a category and "customers also bought" over
last year's sales), which is what makes a cache miss materially slower than a hit.
"""

from __future__ import annotations

import random
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

N_PRODUCTS = 200
REVIEWS_PER_PRODUCT = 30
HISTORY_ORDERS = 40_000
INITIAL_STOCK = 100_000  # enough for light drills; inventory drills set their own
CATEGORIES = ["phones", "laptops", "tablets", "headphones", "cameras", "tvs", "smartwatches",
              "consoles", "speakers", "accessories"]
_ADJ = ["Pro", "Max", "Lite", "Air", "Ultra", "Mini", "Plus", "Neo", "Prime", "Edge"]
_WORDS = ["battery", "screen", "sound", "delivery", "price", "quality", "design", "setup", "camera",
          "speed", "packaging", "support", "weight", "charging", "display"]
_VERDICTS = {1: "Disappointed", 2: "Not great", 3: "It is fine", 4: "Good value", 5: "Excellent"}


def connect(path: str | Path, busy_timeout_ms: int = 5000) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit ``BEGIN IMMEDIATE``), WAL, with a
    busy timeout so concurrent writers from several workers wait rather than fail at once."""
    conn = sqlite3.connect(str(path), timeout=busy_timeout_ms / 1000, isolation_level=None,
                           check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")  # durable at WAL checkpoints; standard with WAL
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


class ThreadConnections:
    """One connection per thread: sqlite3 connections must not be shared by concurrent threads."""

    def __init__(self, path: str | Path, busy_timeout_ms: int = 5000) -> None:
        self.path = str(path)
        self.busy_timeout_ms = busy_timeout_ms
        self._local = threading.local()

    def get(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.path, self.busy_timeout_ms)
            self._local.conn = conn
        return conn


_granted = threading.local()  # write locks this thread was granted: evidence the database takes writes


def begin_immediate(conn: sqlite3.Connection) -> None:
    """Take the write lock up front (so two writers queue on busy_timeout instead of deadlocking
    on a lock upgrade), and count it for :func:`write_progress`."""
    conn.execute("BEGIN IMMEDIATE")
    _granted.count = getattr(_granted, "count", 0) + 1


def write_progress(conn: sqlite3.Connection) -> int:
    """Grows whenever this thread is granted the write lock or writes rows on ``conn``: what the
    database breaker reads to tell a database that takes writes (even a transaction that then
    found the order already placed and rolled back) from a request that never reached it."""
    return conn.total_changes + getattr(_granted, "count", 0)


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` ... COMMIT, or ROLLBACK on any error."""
    begin_immediate(conn)
    try:
        yield conn
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def init_db(path: str | Path) -> bool:
    """Create the schema and seed it if empty; return True if it seeded. Safe to call again."""
    conn = connect(path)
    try:
        conn.executescript(resources.files("peakdrill.shop").joinpath("schema.sql").read_text("utf-8"))
        if conn.execute("SELECT COUNT(*) FROM products").fetchone()[0]:
            return False
        conn.execute("BEGIN IMMEDIATE")
        _seed(conn)
        conn.execute("COMMIT")
        conn.execute("ANALYZE")
        return True
    finally:
        conn.close()


def _seed(conn: sqlite3.Connection) -> None:
    rng = random.Random(20261111)  # fixed: every shop starts from the same catalogue
    now = 1_795_000_000.0  # fixed epoch too, so seeded rows are identical run to run
    products = []
    for pid in range(1, N_PRODUCTS + 1):
        category = CATEGORIES[(pid - 1) % len(CATEGORIES)]
        name = f"{category[:-1].title()} {rng.choice(_ADJ)} {pid}"
        price = rng.randrange(999, 199_999)
        desc = (f"{name}: {', '.join(rng.sample(_WORDS, 4))}. "
                + " ".join(rng.choice(_WORDS) for _ in range(40)))
        products.append((pid, name, category, price, desc))
    conn.executemany("INSERT INTO products VALUES (?, ?, ?, ?, ?)", products)
    conn.executemany("INSERT INTO inventory VALUES (?, ?, ?)",
                     [(pid, INITIAL_STOCK, now) for pid in range(1, N_PRODUCTS + 1)])
    reviews = []
    for pid in range(1, N_PRODUCTS + 1):
        bias = rng.uniform(-1.5, 1.0)
        for _ in range(REVIEWS_PER_PRODUCT):
            rating = max(1, min(5, round(rng.gauss(4 + bias, 1))))
            body = " ".join(rng.choice(_WORDS) for _ in range(25))
            reviews.append((pid, rating, _VERDICTS[rating], body, now - rng.uniform(0, 3e7)))
    conn.executemany("INSERT INTO reviews (product_id, rating, title, body, created_at) "
                     "VALUES (?, ?, ?, ?, ?)", reviews)
    # Popularity is skewed (a few hits, a long tail), as real sales are.
    weights = [1.0 / (rank ** 0.8) for rank in range(1, N_PRODUCTS + 1)]
    order_of_popularity = list(range(1, N_PRODUCTS + 1))
    rng.shuffle(order_of_popularity)
    history = []
    for ref in range(1, HISTORY_ORDERS + 1):
        lines = set(rng.choices(order_of_popularity, weights, k=rng.randint(1, 4)))
        sold_at = now - rng.uniform(0, 3e7)
        history.extend((ref, pid, rng.randint(1, 3), sold_at) for pid in lines)
    conn.executemany("INSERT INTO sales_history VALUES (?, ?, ?, ?)", history)

