"""The shop on a PostgreSQL server it did not start (`shop up --db postgresql://...`): its tables
and orders land in that server, `--fresh` drops only the shop's tables, database-slowdown holds
real table locks there, and `shop down` leaves the server running. A wrong --db is refused."""

from __future__ import annotations

import subprocess

import pytest

from generic_targets import postgres_cluster
from loadkit import peakdrill
from peakdrill.errors import ShopError
from peakdrill.shop import hold_database_lock, start_shop, stop_shop
from shopkit import key, order

pytestmark = pytest.mark.slow


def psql(url: str, sql: str) -> str:
    done = subprocess.run(["psql", url, "-tAc", sql], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_the_shop_on_a_postgresql_server_by_url(tmp_path):
    with postgres_cluster() as server:
        psql(server.url, "CREATE TABLE not_the_shops (x int); INSERT INTO not_the_shops VALUES (7)")
        shop_dir = tmp_path / "shop"
        try:
            shop = start_shop(shop_dir, port=0, workers=1, database=server.url)
            placed = order(shop, key(), product_id=4, quantity=2)
            assert placed.status_code == 201, placed.text
            order_id = placed.json()["order_id"]
            assert psql(server.url, f"SELECT quantity FROM order_items WHERE order_id = {order_id}") == "2"
            holder = hold_database_lock(shop, 30)
            try:  # real table locks, seen by the server itself
                locked = psql(server.url, "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                                          "WHERE l.mode = 'ExclusiveLock' AND l.granted AND c.relname = 'orders'")
                assert locked == "1"
                assert order(shop, key()).status_code == 503
            finally:
                holder.terminate()
                holder.wait(10)
            assert psql(server.url, "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                                    "WHERE l.mode = 'ExclusiveLock' AND c.relname = 'orders'") == "0"
        finally:
            stop_shop(shop_dir)
        assert psql(server.url, "SELECT 1") == "1"  # a server by URL is not the shop's to stop
        try:
            start_shop(shop_dir, port=0, workers=1, database=server.url, fresh=True)
            assert psql(server.url, "SELECT count(*) FROM orders") == "0"  # the shop's tables started over
            assert psql(server.url, "SELECT x FROM not_the_shops") == "7"  # and nothing else was touched
        finally:
            stop_shop(shop_dir)


def test_a_wrong_db_choice_is_refused_before_anything_starts(tmp_path):
    result = peakdrill("shop", "up", "--shop-dir", str(tmp_path / "shop"), "--port", "0", "--db", "mysql://u:secret@h/db")
    assert result.returncode == 2 and "--db" in result.stderr and "postgresql://" in result.stderr
    assert "secret" not in result.stderr
    with pytest.raises(ShopError, match="loopback"):
        start_shop(tmp_path / "shop2", port=0, database="postgresql://shop@198.51.100.7/shop")
