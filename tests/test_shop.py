"""The reference shop, driven over HTTP while it runs as real processes (see conftest ``shop``)."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import psutil
import pytest
import requests

from peakdrill.cli import main
from peakdrill.errors import ShopError
from peakdrill.shop import (get_bot_capacity, get_standin_fault, load_state, set_standin_fault, start_shop,
                            stop_shop)
from peakdrill.shop import procs, redis_server, supervisor
from peakdrill.shop.breaker import CircuitBreaker
from shopkit import TIMEOUT, db, key, open_chat, order, pay, poll


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
    assert set(data["standins"]) == {"payment", "courier", "bot"}
    pids = {data["sync"]["pid"], data["redis"]["pid"], data["app"]["pid"]}
    for name, standin in data["standins"].items():
        assert set(standin) == {"pid", "create_time", "port", "url", "admin_url"}
        assert standin["url"] == f"http://127.0.0.1:{standin['port']}" and standin["admin_url"] != standin["url"]
        assert get_standin_fault(state, name) == {"mode": "ok", "latency_ms": 0, "error_ratio": 0.0}
        pids.add(standin["pid"])
    assert len(pids) == 6 and all(psutil.pid_exists(pid) for pid in pids), "each stand-in is its own process"
    assert data["sync"]["lag_s"] == 2.0 and get_bot_capacity(state) == {"slots": 2}


def test_standin_admin_api_validates_and_is_idempotent(shop):
    admin = shop.standins["courier"].admin_url + "/admin/fault"
    for bad in ({"mode": "flaky"}, {"latency_ms": -1}, {"latency_ms": 1.5}, {"error_ratio": 1.5}, {"colour": "red"}, [1]):
        response = requests.put(admin, json=bad, timeout=TIMEOUT)
        assert response.status_code == 400 and response.json()["error"] == "invalid setting", (bad, response.text)
    assert requests.put(shop.standins["bot"].admin_url + "/admin/capacity", json={"slots": -1},
                        timeout=TIMEOUT).status_code == 400
    try:
        assert requests.put(admin, json={"latency_ms": 5}, timeout=TIMEOUT).json() == {
            "mode": "ok", "latency_ms": 5, "error_ratio": 0.0}  # a subset keeps the other fields
        assert set_standin_fault(shop, "courier", latency_ms=5) == set_standin_fault(shop, "courier", latency_ms=5)
    finally:
        assert set_standin_fault(shop, "courier") == {"mode": "ok", "latency_ms": 0, "error_ratio": 0.0}
    with pytest.raises(ShopError, match="'warehouse'"):
        set_standin_fault(shop, "warehouse", mode="error")
    with pytest.raises(ShopError, match="'sometimes'"):
        set_standin_fault(shop, "payment", mode="sometimes")


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
    assert other_body.status_code == 422 and "different request (order" in other_body.json()["detail"]


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
    first, again = pay(shop, order_id, pay_key), pay(shop, order_id, pay_key)
    assert first.status_code == again.status_code == 200
    assert first.json()["status"] == "paid" and first.json()["payment_id"] == again.json()["payment_id"]
    assert pay(shop, order_id, key()).status_code == 409  # a second, different charge for a paid order is refused
    with db(shop) as conn:
        rows = conn.execute("SELECT status FROM payments WHERE order_id = ?", (order_id,)).fetchall()
    assert [r["status"] for r in rows] == ["succeeded"]
    status = requests.get(f"{shop.url}/api/orders/{order_id}", timeout=TIMEOUT).json()
    assert status["status"] == "paid" and status["payment"]["payment_id"] == first.json()["payment_id"]


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
    ("POST", "/api/cs/chats", {}, "{not json", 400),
    ("POST", "/api/cs/chats", {}, {"channel": "chat", "intent": "pre_sales", "customer_id": ""}, 422),
    ("POST", "/api/cs/chats/999999/messages", {}, {"text": "hi"}, 404),
    ("POST", "/api/cs/chats/1/messages", {}, "{not json", 400),
    ("POST", "/api/cs/chats/999999/escalate", {}, None, 404),
    ("POST", "/api/cs/chats/999999/close", {}, {"satisfaction": 3}, 404),
    ("POST", "/api/cs/chats/1/close", {}, {"satisfaction": -1}, 422),
    ("GET", "/api/inventory/999999", {}, None, 404),
    ("GET", "/api/inventory/-1", {}, None, 404),
    ("POST", "/api/carts", {}, "{not json", 400),
    ("POST", "/api/carts", {}, {"customer_id": 7}, 422),
    ("POST", "/api/carts/999999/items", {}, {"product_id": 1, "quantity": 1}, 404),
    ("POST", "/api/carts/{cart}/items", {}, {"product_id": 999999, "quantity": 1}, 422),
    ("POST", "/api/carts/{cart}/items", {}, {"product_id": 1, "quantity": -1}, 422),
    ("POST", "/api/carts/{cart}/items", {}, "{not json", 400),
    ("GET", "/api/carts/999999", {}, None, 404),
    ("POST", "/api/orders", {"Idempotency-Key": "bad-11"}, {"customer_id": "c", "cart_id": 999999}, 404),
    ("POST", "/api/orders", {"Idempotency-Key": "bad-12"}, {"customer_id": "c", "cart_id": -3}, 422),
    ("GET", "/api/orders/999999/tracking", {}, None, 404),
    ("POST", "/api/returns", {}, {"order_id": 1, "reason": "broken", "customer_id": "c"}, 400),
    ("POST", "/api/returns", {"Idempotency-Key": "bad-r1"}, "{not json", 400),
    ("POST", "/api/returns", {"Idempotency-Key": "bad-r2"}, {"order_id": 999999, "reason": "broken", "customer_id": "c"}, 404),
    ("POST", "/api/returns", {"Idempotency-Key": "bad-r3"}, {"order_id": -1, "reason": "broken", "customer_id": "c"}, 422),
    ("POST", "/api/returns", {"Idempotency-Key": "bad-r4"}, {"order_id": 1, "reason": "", "customer_id": "c"}, 422),
    ("GET", "/api/admin/reconciliation?since=yesterday", {}, None, 400),
])
def test_bad_requests_are_4xx_json(shop, method, path, headers, body, expected):
    data = body if isinstance(body, str) else (json.dumps(body) if body is not None else None)
    if "{cart}" in path:  # an open cart, so the request fails on the bad field, not on the cart
        cart = requests.post(f"{shop.url}/api/carts", json={"customer_id": "c-bad"}, timeout=TIMEOUT).json()
        path = path.format(cart=cart["cart_id"])
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


def test_circuit_breaker_opens_probes_once_and_closes():
    breaker = CircuitBreaker("test", failures=2, reset_s=0.2)
    breaker.failure()
    assert breaker.allow() and breaker.state == "closed"
    breaker.failure()
    assert breaker.state == "open" and not breaker.allow()
    time.sleep(0.25)
    assert breaker.allow() and breaker.state == "half_open"
    assert not breaker.allow(), "only one probe while half-open"
    breaker.failure()
    assert breaker.state == "open" and not breaker.allow()
    time.sleep(0.25)
    assert breaker.allow()
    breaker.success()
    assert breaker.state == "closed" and breaker.allow() and breaker.allow()


def test_circuit_breaker_forgets_old_failures_and_a_probe_without_verdict_passes_the_turn():
    breaker = CircuitBreaker("test", failures=2, reset_s=0.2, window_s=0.3)
    breaker.failure()
    time.sleep(0.35)
    breaker.failure()
    assert breaker.state == "closed", "two failures further apart than window_s are not consecutive"
    breaker.failure()
    assert breaker.state == "open"
    time.sleep(0.25)
    assert breaker.allow() and not breaker.allow()
    releaser = threading.Thread(target=breaker.release)
    releaser.start()
    releaser.join()
    assert not breaker.allow(), "only the thread holding the probe may release it"
    breaker.release()
    assert breaker.state == "open" and breaker.allow(), "the next caller probes at once"
    breaker.success()
    assert breaker.state == "closed"



def test_cart_becomes_one_order(shop):
    cart = requests.post(f"{shop.url}/api/carts", json={"customer_id": "c-cart"}, timeout=TIMEOUT)
    assert cart.status_code == 201
    cart_url = f"{shop.url}/api/carts/{cart.json()['cart_id']}"
    for product_id, quantity in ((12, 1), (13, 2), (12, 2)):
        added = requests.post(f"{cart_url}/items", json={"product_id": product_id, "quantity": quantity}, timeout=TIMEOUT)
        assert added.status_code == 200, added.text
    view = requests.get(cart_url, timeout=TIMEOUT).json()
    assert [(i["product_id"], i["quantity"]) for i in view["items"]] == [(12, 3), (13, 2)] and view["status"] == "open"
    body = {"customer_id": "c-cart", "cart_id": view["cart_id"]}
    k = key()
    placed = requests.post(f"{shop.url}/api/orders", json=body, headers={"Idempotency-Key": k}, timeout=TIMEOUT)
    replay = requests.post(f"{shop.url}/api/orders", json=body, headers={"Idempotency-Key": k}, timeout=TIMEOUT)
    assert (placed.status_code, replay.status_code) == (201, 200)
    assert placed.json()["total"] == view["total"] and replay.json()["order_id"] == placed.json()["order_id"]
    items = requests.get(f"{shop.url}/api/orders/{placed.json()['order_id']}", timeout=TIMEOUT).json()["items"]
    assert [(i["product_id"], i["quantity"]) for i in items] == [(12, 3), (13, 2)]
    again = requests.post(f"{shop.url}/api/orders", json=body, headers={"Idempotency-Key": key()}, timeout=TIMEOUT)
    assert again.status_code == 409 and "create a new cart" in again.json()["detail"]
    other = requests.post(f"{shop.url}/api/orders", json={**body, "customer_id": "c-thief"},
                          headers={"Idempotency-Key": key()}, timeout=TIMEOUT)
    assert other.status_code == 422
    assert requests.post(f"{cart_url}/items", json={"product_id": 1, "quantity": 1}, timeout=TIMEOUT).status_code == 409


def test_return_request_is_idempotent(shop):
    order_id = order(shop, key(), product_id=14, customer="c-ret").json()["order_id"]
    body = {"order_id": order_id, "reason": "arrived broken", "customer_id": "c-ret"}
    k = key()
    first = requests.post(f"{shop.url}/api/returns", json=body, headers={"Idempotency-Key": k}, timeout=TIMEOUT)
    again = requests.post(f"{shop.url}/api/returns", json=body, headers={"Idempotency-Key": k}, timeout=TIMEOUT)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json() == again.json() and first.json()["status"] == "requested"
    changed = requests.post(f"{shop.url}/api/returns", json={**body, "reason": "changed my mind"},
                            headers={"Idempotency-Key": k}, timeout=TIMEOUT)
    assert changed.status_code == 422
    stranger = requests.post(f"{shop.url}/api/returns", json={**body, "customer_id": "c-other"},
                             headers={"Idempotency-Key": key()}, timeout=TIMEOUT)
    assert stranger.status_code == 422
    with db(shop) as conn:
        assert conn.execute("SELECT COUNT(*) FROM returns WHERE order_id = ?", (order_id,)).fetchone()[0] == 1


def test_inventory_is_fed_by_the_sync_worker(shop):
    before = requests.get(f"{shop.url}/api/inventory/160", timeout=TIMEOUT).json()
    assert before["stale"] is False and before["available"] > 0
    with db(shop) as conn:  # the stores report an in-store sale of 7 units
        conn.execute("INSERT INTO store_movements (product_id, delta, at) VALUES (160, -7, ?)", (time.time(),))
    after = poll(lambda: requests.get(f"{shop.url}/api/inventory/160", timeout=TIMEOUT).json(),
                 lambda body: body["available"] == before["available"] - 7)
    assert after["available"] == before["available"] - 7 and after["synced_at"] > before["synced_at"]


def test_tracking_through_the_courier(shop):
    order_id = order(shop, key(), product_id=15).json()["order_id"]
    tracked = requests.get(f"{shop.url}/api/orders/{order_id}/tracking", timeout=TIMEOUT)
    assert tracked.status_code == 200
    assert tracked.json() | {"updated_at": 0} == {"order_id": order_id, "status": "label_created", "source": "courier",
                                                   "updated_at": 0}


def test_customer_escalates_a_bot_chat(shop):
    chat = open_chat(shop, intent="payment_dispute", customer="c-esc")
    assert chat["status"] == "bot"
    escalated = requests.post(f"{shop.url}/api/cs/chats/{chat['chat_id']}/escalate", timeout=TIMEOUT)
    assert escalated.status_code == 200 and escalated.json() == {"chat_id": chat["chat_id"], "status": "queued"}
    view = poll(lambda: requests.get(f"{shop.url}/api/cs/chats/{chat['chat_id']}", timeout=TIMEOUT).json(),
                lambda body: body["messages"][-1]["from"] == "human")
    assert view["status"] == "human" and view["messages"][-1]["from"] == "human"
    assert view["first_response_ms"] == chat["first_response_ms"]  # the bot's reply stays the first response


def _shop_cli(*argv: str) -> int:
    return main(list(argv))  # the real entry point, exit code and all


def test_cli_up_status_down_leaves_no_process(tmp_path, capsys):
    shop_dir = str(tmp_path / "cli-shop")
    try:
        assert _shop_cli("shop", "up", "--shop-dir", shop_dir, "--port", "0", "--workers", "1") == 0
        state = load_state(shop_dir)
        assert state.url in capsys.readouterr().out
        pids = [state.app.pid, state.redis.pid, state.sync.pid, *(s.pid for s in state.standins.values()),
                *(c.pid for c in psutil.Process(state.app.pid).children())]
        assert len(set(pids)) == 7
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


def test_a_redis_restart_racing_shop_down_is_refused_and_nothing_outlives_the_shop(tmp_path, monkeypatch):
    shop_dir = str(tmp_path / "raced-shop")
    state = start_shop(shop_dir, port=0, workers=1)
    outcome: dict = {}

    def rollback() -> None:  # a cache-outage rollback or dead-man timer, in its own thread of control
        try:
            outcome["restarted"] = supervisor.start_redis(state).redis
        except ShopError as exc:
            outcome["refused"] = str(exc)

    racer = threading.Thread(target=rollback)
    stop_standins = supervisor.stop_standins

    def stop_standins_while_the_rollback_runs(*args, **kwargs):
        stop_standins(*args, **kwargs)
        supervisor.stop_redis(state)  # the cache outage the rollback undoes
        racer.start()
        racer.join(1.0)  # it restarts Redis now if nothing keeps it waiting until the stop is done

    monkeypatch.setattr(supervisor, "stop_standins", stop_standins_while_the_rollback_runs)
    try:
        assert stop_shop(shop_dir)
    finally:
        monkeypatch.undo()
        racer.join(30)
        stop_shop(shop_dir)
        leaked = outcome.get("restarted")
        if leaked is not None and procs.alive(leaked.pid, leaked.create_time):
            procs.terminate(leaked.pid, leaked.create_time)  # so a failing run leaves nothing behind
    assert "no shop state" in outcome.get("refused", ""), outcome
    assert not (tmp_path / "raced-shop" / "state.json").exists()


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
