"""The reference shop, driven over HTTP while it runs as real processes (see conftest ``shop``)."""

from __future__ import annotations

import argparse
import json
import re
import sqlite3
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import psutil
import pytest
import requests

from peakdrill.errors import ShopError
from peakdrill.shop import cli as shop_cli
from peakdrill.shop import (Control, clear_control, load_state, redis_running, start_redis, start_shop, stop_redis,
                            stop_shop, write_control)
from peakdrill.shop import redis_server
from peakdrill.shop.control import RELOAD_S

TIMEOUT = 10


def key() -> str:
    return uuid.uuid4().hex


def db(shop) -> sqlite3.Connection:
    conn = sqlite3.connect(shop.database.path, timeout=5)
    conn.row_factory = sqlite3.Row
    return conn


def order(shop, k: str, product_id: int = 3, quantity: int = 1, customer: str = "c-test") -> requests.Response:
    return requests.post(f"{shop.url}/api/orders", headers={"Idempotency-Key": k}, timeout=TIMEOUT,
                         json={"customer_id": customer, "items": [{"product_id": product_id, "quantity": quantity}]})


def metric(text: str, name: str, **labels: str) -> float:
    """Sum of the samples of ``name`` whose labels include ``labels``."""
    total = 0.0
    for line in text.splitlines():
        match = re.match(r"^(\w+)(?:\{(.*)\})? ([0-9.e+-]+)$", line)
        if not match or match.group(1) != name:
            continue
        have = dict(re.findall(r'(\w+)="([^"]*)"', match.group(2) or ""))
        if all(have.get(k) == v for k, v in labels.items()):
            total += float(match.group(3))
    return total


def test_health(shop):
    response = requests.get(f"{shop.url}/healthz", timeout=TIMEOUT)
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "cache": "up", "db": "ok"}


def test_state_file_matches(shop):
    state = load_state(shop.shop_dir)
    assert state.url == shop.url and state.app.workers == 2
    data = json.loads(state.state_file.read_text())
    assert set(data) >= {"url", "host", "port", "shop_dir", "started_at", "database", "redis", "app"}
    assert set(data["redis"]) >= {"host", "port", "pid", "binary", "config"}
    assert psutil.Process(data["app"]["pid"]).children(), "gunicorn master should have workers"


def test_product_detail_miss_then_hit(shop):
    # Other tests share this shop and may have read product 11 already: start from a cold entry.
    redis_server.client(shop.redis.host, shop.redis.port).delete("product:11")
    first = requests.get(f"{shop.url}/api/products/11", timeout=TIMEOUT)
    second = requests.get(f"{shop.url}/api/products/11", timeout=TIMEOUT)
    assert (first.status_code, second.status_code) == (200, 200)
    assert (first.headers["X-Cache"], second.headers["X-Cache"]) == ("miss", "hit")
    body = second.json()
    assert body == first.json()
    assert body["id"] == 11 and body["rating"]["count"] == 30 and body["bestsellers_in_category"]
    missing = requests.get(f"{shop.url}/api/products/99999", timeout=TIMEOUT)
    assert missing.status_code == 404 and missing.json()["error"] == "product not found"


def test_product_list(shop):
    body = requests.get(f"{shop.url}/api/products?page=2", timeout=TIMEOUT).json()
    assert body["total"] == 200 and len(body["products"]) == 20 and body["products"][0]["id"] == 21


def test_order_idempotency(shop):
    k = key()
    with db(shop) as conn:
        stock_before = conn.execute("SELECT stock FROM inventory WHERE product_id = 5").fetchone()[0]
    first, second = order(shop, k, product_id=5, quantity=2), order(shop, k, product_id=5, quantity=2)
    assert first.status_code == 201 and first.json()["status"] == "created"
    assert second.status_code == 200 and second.json()["order_id"] == first.json()["order_id"]
    with db(shop) as conn:
        assert conn.execute("SELECT COUNT(*) FROM orders WHERE idempotency_key = ?", (k,)).fetchone()[0] == 1
        assert conn.execute("SELECT stock FROM inventory WHERE product_id = 5").fetchone()[0] == stock_before - 2
    other_body = order(shop, k, product_id=6)
    assert other_body.status_code == 422 and "different order" in other_body.json()["detail"]


def test_concurrent_retries_create_one_order(shop):
    k = key()
    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(lambda _: order(shop, k, product_id=8), range(8)))
    assert sorted(r.status_code for r in responses) == [200] * 7 + [201]
    assert len({r.json()["order_id"] for r in responses}) == 1
    with db(shop) as conn:
        assert conn.execute("SELECT COUNT(*) FROM orders WHERE idempotency_key = ?", (k,)).fetchone()[0] == 1


def test_payment_idempotency(shop):
    order_id = order(shop, key()).json()["order_id"]
    pay_key = key()
    pay = lambda k: requests.post(f"{shop.url}/api/orders/{order_id}/pay", headers={"Idempotency-Key": k},
                                  timeout=TIMEOUT)
    first, again = pay(pay_key), pay(pay_key)
    assert first.status_code == again.status_code == 200
    assert first.json()["status"] == "paid" and first.json()["payment_id"] == again.json()["payment_id"]
    assert pay(key()).status_code == 409  # a second, different charge for a paid order is refused
    with db(shop) as conn:
        rows = conn.execute("SELECT status FROM payments WHERE order_id = ?", (order_id,)).fetchall()
    assert [r["status"] for r in rows] == ["succeeded"]
    status = requests.get(f"{shop.url}/api/orders/{order_id}", timeout=TIMEOUT).json()
    assert status["status"] == "paid" and status["payment"]["payment_id"] == first.json()["payment_id"]


def test_gateway_failure_keeps_order_pending_and_retry_pays_once(shop):
    order_id = order(shop, key()).json()["order_id"]
    pay_key = key()
    pay = lambda k: requests.post(f"{shop.url}/api/orders/{order_id}/pay", headers={"Idempotency-Key": k},
                                  timeout=TIMEOUT)
    try:
        write_control(shop.shop_dir, Control(gateway_mode="error"))
        time.sleep(RELOAD_S + 0.2)
        failed = pay(pay_key)
        assert failed.status_code == 502 and failed.json()["status"] == "payment_pending"
        assert pay(key()).status_code == 409  # a new key while one is pending would risk a double charge
    finally:
        clear_control(shop.shop_dir)
    time.sleep(RELOAD_S + 0.2)
    retried = pay(pay_key)
    assert retried.status_code == 200 and retried.json()["payment_id"] == failed.json()["payment_id"]
    recon = requests.get(f"{shop.url}/api/admin/reconciliation", timeout=TIMEOUT).json()
    mine = [p for p in recon["payments"] if p["order_id"] == order_id]
    assert [p["status"] for p in mine] == ["succeeded"] and recon["double_charged_orders"] == []
    assert any(o["order_id"] == order_id and o["status"] == "paid" for o in recon["orders"])


@pytest.mark.parametrize("method, path, headers, body, expected", [
    ("POST", "/api/orders", {}, {"customer_id": "c", "items": [{"product_id": 1, "quantity": 1}]}, 400),
    ("POST", "/api/orders", {"Idempotency-Key": "bad-json"}, "{not json", 400),
    ("POST", "/api/orders", {"Idempotency-Key": "bad-1"}, {"customer_id": "c", "items": [{"product_id": 999999, "quantity": 1}]}, 422),
    ("POST", "/api/orders", {"Idempotency-Key": "bad-2"}, {"customer_id": "c", "items": [{"product_id": 1, "quantity": 0}]}, 422),
    ("POST", "/api/orders", {"Idempotency-Key": "bad-3"}, {"customer_id": "c", "items": [{"product_id": 1, "quantity": -2}]}, 422),
    ("POST", "/api/orders", {"Idempotency-Key": "bad-4"}, {"customer_id": "c", "items": [{"product_id": "1", "quantity": 1}]}, 422),
    ("POST", "/api/orders", {"Idempotency-Key": "bad-5"}, {"customer_id": "c", "items": []}, 422),
    ("POST", "/api/orders", {"Idempotency-Key": "bad-6"}, [1, 2], 400),
    ("POST", "/api/orders", {"Idempotency-Key": "bad-7"}, {"customer_id": "c", "items": [{"product_id": 1, "quantity": 10**9}]}, 422),
    ("POST", "/api/orders", {"Idempotency-Key": "bad-9"}, {"customer_id": "c", "items": [1]}, 422),
    ("POST", "/api/orders", {"Idempotency-Key": "bad-10"}, {"customer_id": "c" * 2_000_000, "items": []}, 413),
    ("POST", "/api/orders/999999/pay", {"Idempotency-Key": "bad-8"}, None, 404),
    ("POST", "/api/orders/1/pay", {}, None, 400),
    ("GET", "/api/orders/999999", {}, None, 404),
    ("GET", "/api/products?page=abc", {}, None, 400),
    ("GET", "/api/products/abc", {}, None, 404),
    ("GET", "/nope", {}, None, 404),
    ("DELETE", "/api/orders", {}, None, 405),
    ("POST", "/api/cs/chats", {}, {"channel": "fax", "intent": "pre_sales", "customer_id": "c"}, 422),
    ("POST", "/api/cs/chats", {}, {"channel": "chat", "intent": "gossip", "customer_id": "c"}, 422),
    ("GET", "/api/cs/chats/999999", {}, None, 404),
])
def test_bad_requests_are_4xx_json(shop, method, path, headers, body, expected):
    data = body if isinstance(body, str) else (json.dumps(body) if body is not None else None)
    response = requests.request(method, shop.url + path, headers={"Content-Type": "application/json", **headers},
                                data=data, timeout=TIMEOUT)
    assert response.status_code == expected, response.text
    assert set(response.json()) >= {"error", "detail"}


def test_chat_gets_bot_reply(shop):
    opened = requests.post(f"{shop.url}/api/cs/chats", timeout=TIMEOUT,
                           json={"channel": "chat", "intent": "order_issue", "customer_id": "c-chat"})
    assert opened.status_code == 201
    body = opened.json()
    assert body["status"] == "bot" and body["first_reply"]["from"] == "bot"
    chat_url = f"{shop.url}/api/cs/chats/{body['chat_id']}"
    reply = requests.post(f"{chat_url}/messages", json={"text": "where is my parcel?"}, timeout=TIMEOUT).json()
    assert reply["status"] in ("bot", "queued")
    closed = requests.post(f"{chat_url}/close", json={"satisfaction": 5}, timeout=TIMEOUT).json()
    assert closed["status"] == "closed" and closed["satisfaction"] == 5
    assert 40 <= closed["first_response_ms"] <= 2000
    assert requests.post(f"{chat_url}/messages", json={"text": "hi"}, timeout=TIMEOUT).status_code == 409


def test_busy_bot_escalates_to_human_queue(shop):
    def open_chat(n):
        return requests.post(f"{shop.url}/api/cs/chats", timeout=TIMEOUT,
                             json={"channel": "phone", "intent": "logistics", "customer_id": f"c-{n}"}).json()
    with ThreadPoolExecutor(12) as pool:  # 2 workers x 2 bot slots: most of 12 at once must queue
        chats = list(pool.map(open_chat, range(12)))
    queued = [c for c in chats if c["status"] == "queued"]
    assert queued and all(c["first_reply"] is None for c in queued)
    deadline = time.monotonic() + 15
    view = {}
    while time.monotonic() < deadline:
        view = requests.get(f"{shop.url}/api/cs/chats/{queued[0]['chat_id']}", timeout=TIMEOUT).json()
        if view["first_response_ms"] is not None:
            break
        time.sleep(0.2)
    assert view["status"] == "human" and view["messages"][-1]["from"] == "human"
    assert view["first_response_ms"] >= 200


def test_bot_without_capacity_queues_every_chat(shop):
    try:
        write_control(shop.shop_dir, Control(bot_slots=0))
        time.sleep(RELOAD_S + 0.2)
        body = requests.post(f"{shop.url}/api/cs/chats", timeout=TIMEOUT,
                             json={"channel": "app", "intent": "after_sales", "customer_id": "c-x"}).json()
        assert body["status"] == "queued" and body["first_reply"] is None
    finally:
        clear_control(shop.shop_dir)
    time.sleep(RELOAD_S + 0.2)


def test_cache_outage_falls_back_and_recovers(shop):
    state = load_state(shop.shop_dir)
    url = f"{shop.url}/api/products/42"
    try:
        stop_redis(state)
        assert not redis_running(state)
        assert not psutil.pid_exists(state.redis.pid) or psutil.Process(state.redis.pid).status() == "zombie"
        reads = [requests.get(url, timeout=TIMEOUT) for _ in range(5)]
        assert all(r.status_code == 200 for r in reads)
        assert {r.headers["X-Cache"] for r in reads} == {"fallback"}
        health = requests.get(f"{shop.url}/healthz", timeout=TIMEOUT)
        assert health.status_code == 200 and health.json()["cache"] == "down"
        text = requests.get(f"{shop.url}/metrics", timeout=TIMEOUT).text
        assert metric(text, "shop_cache_op_duration_seconds_count", op="get", result="error") >= 1
        assert metric(text, "shop_cache_fallbacks_total") >= 5
        assert metric(text, "shop_http_request_duration_seconds_count", route="/api/products/<id>",
                      method="GET", status="200") >= 5
    finally:
        restarted = start_redis(state)
    assert redis_running(restarted) and restarted.redis.pid != state.redis.pid
    assert load_state(shop.shop_dir).redis.pid == restarted.redis.pid
    assert restarted.redis.port == state.redis.port
    assert start_redis(restarted).redis.pid == restarted.redis.pid  # idempotent
    time.sleep(0.6)  # the app's breaker skips Redis for 0.5 s after an error
    sources = [requests.get(url, timeout=TIMEOUT).headers["X-Cache"] for _ in range(4)]
    assert sources[0] in ("miss", "fallback") and sources[-1] == "hit"


def _shop_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    shop_cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    return args.handler(args)


def test_cli_up_status_down_leaves_no_process(tmp_path, capsys):
    shop_dir = str(tmp_path / "cli-shop")
    try:
        assert _shop_cli("shop", "up", "--shop-dir", shop_dir, "--port", "0", "--workers", "1") == 0
        state = load_state(shop_dir)
        assert state.url in capsys.readouterr().out
        pids = [state.app.pid, state.redis.pid] + [c.pid for c in psutil.Process(state.app.pid).children()]
        assert len(pids) == 3
        assert _shop_cli("shop", "status", "--shop-dir", shop_dir) == 0
        with pytest.raises(ShopError, match="already running"):
            start_shop(shop_dir, port=0)
    finally:
        assert _shop_cli("shop", "down", "--shop-dir", shop_dir) == 0
    for pid in pids:
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE, pid
    assert not (tmp_path / "cli-shop" / "state.json").exists()
    assert _shop_cli("shop", "down", "--shop-dir", shop_dir) == 0  # idempotent
    assert _shop_cli("shop", "status", "--shop-dir", shop_dir) == 1


def test_up_twice_is_refused(shop):
    with pytest.raises(ShopError, match="peakdrill shop down"):
        start_shop(shop.shop_dir, port=0)
    assert load_state(shop.shop_dir).app.pid == shop.app.pid  # the running shop is untouched


def test_non_loopback_host_is_refused(tmp_path):
    with pytest.raises(ShopError, match="'0.0.0.0'"):
        start_shop(tmp_path, host="0.0.0.0", port=0)
    assert not (tmp_path / "state.json").exists()


def test_missing_state_file_says_what_to_do(tmp_path):
    with pytest.raises(ShopError, match="peakdrill shop up"):
        load_state(tmp_path)
    assert stop_shop(tmp_path) is False
