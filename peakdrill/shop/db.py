"""The shop's system of record: connections, schema and deterministic seed data.

A database is named by its *location*: a file path (SQLite, the default) or a
``postgresql://`` URL (PostgreSQL, ``shop up --db``). :func:`connect` is the one place that
picks the backend (:mod:`peakdrill.shop.db_sqlite`, :mod:`peakdrill.shop.db_postgres`); every
other module speaks :class:`~peakdrill.shop.dbapi.Connection` and its three errors.

The seed is sized so a product page built from the database does real aggregation work
(rating statistics over reviews, bestsellers of a category and "customers also bought" over
last year's sales), which is what makes a cache miss materially slower than a hit.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

from peakdrill.shop import db_postgres
from peakdrill.shop.db_postgres import PostgresConnection
from peakdrill.shop.db_sqlite import SqliteConnection
from peakdrill.shop.dbapi import Connection, DatabaseError, DatabaseUnavailable, OperationalFailure, Row, shown

__all__ = ["Connection", "Row", "DatabaseError", "DatabaseUnavailable", "OperationalFailure", "connect", "is_postgres",
           "shown", "ThreadConnections", "begin_immediate", "write_progress", "transaction", "init_db", "reset"]

POSTGRES_SCHEMES = ("postgresql://", "postgres://")

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


def is_postgres(location: str | Path) -> bool:
    return str(location).startswith(POSTGRES_SCHEMES)


def connect(location: str | Path, busy_timeout_ms: int = 5000) -> Connection:
    """An autocommit connection (transactions are explicit: :func:`transaction`) whose writers
    wait up to ``busy_timeout_ms`` for the write lock, then raise :class:`DatabaseUnavailable`."""
    if is_postgres(location):
        return PostgresConnection(str(location), busy_timeout_ms)
    return SqliteConnection(str(location), busy_timeout_ms)


class ThreadConnections:
    """One connection per thread: a connection must not be shared by concurrent threads."""

    def __init__(self, location: str | Path, busy_timeout_ms: int = 5000) -> None:
        self.location = str(location)
        self.busy_timeout_ms = busy_timeout_ms
        self._local = threading.local()

    def get(self) -> Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.location, self.busy_timeout_ms)
            self._local.conn = conn
        return conn


_granted = threading.local()  # write locks this thread was granted: evidence the database takes writes


def begin_immediate(conn: Connection) -> None:
    """Take the write lock up front (so two writers queue on the busy timeout instead of
    deadlocking on a lock upgrade), and count it for :func:`write_progress`."""
    conn.begin_write()
    _granted.count = getattr(_granted, "count", 0) + 1


def write_progress(conn: Connection) -> int:
    """Grows whenever this thread is granted the write lock or writes rows on ``conn``: what the
    database breaker reads to tell a database that takes writes (even a transaction that then
    found the order already placed and rolled back) from a request that never reached it."""
    return conn.changes + getattr(_granted, "count", 0)


@contextmanager
def transaction(conn: Connection) -> Iterator[Connection]:
    """A write transaction (:func:`begin_immediate`) ... COMMIT, or ROLLBACK on any error."""
    begin_immediate(conn)
    try:
        yield conn
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _schema(location: str | Path) -> str:
    if is_postgres(location):
        return db_postgres.schema()
    return resources.files("peakdrill.shop").joinpath("schema.sql").read_text("utf-8")


def init_db(location: str | Path) -> bool:
    """Create the schema and seed it if empty; return True if it seeded. Safe to call again."""
    conn = connect(location)
    try:
        conn.script(_schema(location))
        if conn.execute("SELECT COUNT(*) FROM products").fetchone()[0]:
            return False
        with transaction(conn):
            _seed(conn)
        conn.execute("ANALYZE")
        return True
    finally:
        conn.close()


def reset(location: str | Path) -> None:
    """Delete the shop's data (``shop up --fresh``): the SQLite files, or the shop's tables in
    PostgreSQL (only those: a database named by URL may hold others)."""
    if is_postgres(location):
        conn = connect(location)
        try:
            conn.script(f"DROP TABLE IF EXISTS {', '.join(db_postgres.shop_tables())} CASCADE")
        finally:
            conn.close()
        return
    for suffix in ("", "-wal", "-shm"):
        Path(f"{location}{suffix}").unlink(missing_ok=True)


def _seed(conn: Connection) -> None:
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

