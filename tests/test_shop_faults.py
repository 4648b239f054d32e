"""The shop under real faults: killed workers, a stopped cache, a locked database, failing
providers, a frozen sync worker, a saturated bot, overload. Every fault is rolled back in
``finally``, since the session's shop is shared with the other tests."""

from __future__ import annotations

import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import psutil
import pytest
import requests

from peakdrill.shop import (app_worker_pids, freeze_sync, hold_database_lock, load_state, redis_running,
                            set_bot_capacity, set_standin_fault, start_redis, start_shop, stop_redis, stop_shop,
                            sync_frozen, thaw_sync)
from peakdrill.shop.inventory import OVERSELL_TOLERANCE_UNITS
from shopkit import TIMEOUT, breaker_states, db, key, metric, open_chat, order, pay, poll


@pytest.fixture
def shop(shop_on_each_backend):
    """Every test here runs on SQLite (the default) and on PostgreSQL (`shop up --db postgres`)."""
    return shop_on_each_backend


def test_killed_worker_is_replaced_and_peers_keep_serving(shop):
    before = app_worker_pids(shop)
    outcomes: list[str] = []
    stop = threading.Event()

    def shopper(n: int) -> None:
        for i in range(150):  # bounded in count and, through `stop`, in time
            if stop.is_set():
                return
            try:  # a new connection each time: no kept-alive socket to the killed worker
                ok = requests.get(f"{shop.url}/api/products/{1 + (n * 7 + i) % 50}", timeout=TIMEOUT).status_code == 200
                outcomes.append("ok" if ok else "http-error")
            except requests.RequestException:
                outcomes.append("failed")
            time.sleep(0.02)

    with ThreadPoolExecutor(3) as pool:
        try:
            for n in range(3):
                pool.submit(shopper, n)
            time.sleep(1.0)
            os.kill(before[0], signal.SIGKILL)
            killed_at = len(outcomes)
            replaced = poll(lambda: app_worker_pids(shop), lambda pids: len(pids) == 2 and before[0] not in pids)
            time.sleep(1.0)
        finally:
            stop.set()  # also when the replacement never came: the shoppers stop now, not after 150 requests
    assert len(replaced) == 2 and before[0] not in replaced and before[1] in replaced
    assert outcomes.count("http-error") == 0
    assert outcomes.count("failed") <= 3, "only the requests in flight on the killed worker may fail"
    assert outcomes[killed_at:].count("ok") >= 20, "the peers (and the replacement) keep serving"


def test_cache_outage_falls_back_and_recovers(shop):
    state = load_state(shop.shop_dir)
    url = f"{shop.url}/api/products/42"
    try:
        stop_redis(state)
        assert not redis_running(state)
        reads = [requests.get(url, timeout=TIMEOUT) for _ in range(5)]
        assert all(r.status_code == 200 for r in reads)
        assert {r.headers["X-Cache"] for r in reads} == {"fallback"}
        health = requests.get(f"{shop.url}/healthz", timeout=TIMEOUT)
        assert health.status_code == 200 and health.json()["cache"] == "down"
        assert metric(shop, "shop_cache_op_duration_seconds_count", op="get", result="error") >= 1
        assert metric(shop, "shop_cache_fallbacks_total") >= 5
        assert 2 in breaker_states(shop, "cache").values()  # open in the worker(s) that met the dead cache
    finally:
        restarted = start_redis(state)
    assert redis_running(restarted) and restarted.redis.pid != state.redis.pid
    assert load_state(shop.shop_dir).redis.pid == restarted.redis.pid
    assert start_redis(restarted).redis.pid == restarted.redis.pid  # idempotent
    time.sleep(0.6)  # the app's breaker skips Redis for 0.5 s after an error
    sources = [requests.get(url, timeout=TIMEOUT).headers["X-Cache"] for _ in range(4)]
    assert sources[0] in ("miss", "fallback") and sources[-1] == "hit"


def test_locked_database_times_out_cleanly_and_recovers(shop):
    holder = hold_database_lock(shop, 30)
    try:
        with ThreadPoolExecutor(4) as pool:
            during = list(pool.map(lambda _: order(shop, key(), product_id=20), range(8)))
        assert {r.status_code for r in during} == {503}
        assert all(r.headers["Retry-After"].isdigit() and r.json()["error"] == "database unavailable" for r in during)
        assert requests.get(f"{shop.url}/api/products/20", timeout=TIMEOUT).status_code == 200  # reads go on (WAL)
        opened = {pid for pid, state in breaker_states(shop, "database").items() if state == 2}
        assert opened, breaker_states(shop, "database")
        time.sleep(2.2)  # the breakers now let a probe through; one refused before writing is no verdict
        invalid = {"customer_id": "c-test", "items": []}
        refused = [requests.post(f"{shop.url}/api/orders", headers={"Idempotency-Key": key()}, json=invalid,
                                 timeout=TIMEOUT).status_code for _ in range(10)]
        assert set(refused) <= {422, 503}
        still = breaker_states(shop, "database")
        assert all(still[pid] == 2 for pid in opened), f"a refused POST closed a breaker: {still}"
    finally:
        holder.terminate()
        holder.wait(10)
    # Each worker's breaker lets a probe through 2 s after it opened; then every order goes through,
    # and the next tests find every worker's breaker closed.
    recovered = poll(lambda: [order(shop, key(), product_id=20).status_code for _ in range(4)],
                     lambda codes: codes == [201] * 4 and set(breaker_states(shop, "database").values()) == {0},
                     timeout=10, interval=0.5)
    assert recovered == [201] * 4, breaker_states(shop, "database")


@pytest.mark.parametrize("mode", ["error", "timeout", "unreachable"])
def test_failing_gateway_keeps_orders_pending_and_a_retry_charges_once(shop, mode):
    placed = order(shop, key())
    assert placed.status_code == 201, (placed.text, breaker_states(shop, "database"))
    order_id = placed.json()["order_id"]
    pay_key = key()
    try:
        set_standin_fault(shop, "payment", mode=mode)
        failed = pay(shop, order_id, pay_key)
        assert failed.status_code == 202 and failed.json()["status"] == "payment_pending", failed.text
        assert requests.get(f"{shop.url}/api/orders/{order_id}", timeout=TIMEOUT).json()["status"] == "payment_pending"
        assert pay(shop, order_id, key()).status_code == 409  # a new key while one is pending would risk a double charge
    finally:
        set_standin_fault(shop, "payment")
    retried = poll(lambda: pay(shop, order_id, pay_key), lambda r: r.status_code == 200, timeout=8, interval=0.5)
    assert retried.json() == {"order_id": order_id, "status": "paid", "payment_id": failed.json()["payment_id"]}
    assert pay(shop, order_id, pay_key).json() == retried.json()
    charges = requests.get(shop.standins["payment"].admin_url + "/admin/charges", timeout=TIMEOUT).json()["charges"]
    assert [c["idempotency_key"] for c in charges].count(pay_key) == 1, "the gateway charged once"
    recon = requests.get(f"{shop.url}/api/admin/reconciliation", timeout=TIMEOUT).json()
    assert [p["status"] for p in recon["payments"] if p["order_id"] == order_id] == ["succeeded"]
    assert recon["double_charged_orders"] == []


def test_frozen_sync_goes_stale_and_the_shop_never_sells_past_what_it_knows(shop):
    url = f"{shop.url}/api/inventory/150"
    inventory = lambda: requests.get(url, timeout=TIMEOUT).json()
    start = inventory()["available"]
    with db(shop) as conn:  # the stores report most of the stock sold in-store: 5 are left
        conn.execute("INSERT INTO store_movements (product_id, delta, at) VALUES (150, ?, ?)", (5 - start, time.time()))
    assert poll(inventory, lambda body: body["available"] == 5)["available"] == 5
    try:
        freeze_sync(shop)
        assert sync_frozen(shop)
        with db(shop) as conn:  # a restock the frozen sync cannot pass on
            conn.execute("INSERT INTO store_movements (product_id, delta, at) VALUES (150, 20, ?)", (time.time(),))
        stale = poll(inventory, lambda body: body["stale"])
        assert stale["stale"] and stale["available"] == 5
        placed = [order(shop, key(), product_id=150).status_code for _ in range(8)]
        assert placed.count(201) == 5 + OVERSELL_TOLERANCE_UNITS and set(placed) == {201, 409}
        assert inventory()["available"] == 0
    finally:
        thaw_sync(shop)
    assert not sync_frozen(shop)
    caught_up = poll(inventory, lambda body: not body["stale"] and body["available"] == 20)
    assert caught_up == caught_up | {"stale": False, "available": 20}


def test_saturated_bot_escalates_and_the_first_response_is_recorded(shop):
    try:
        set_bot_capacity(shop, 0)
        down = open_chat(shop, intent="after_sales", customer="c-down")
        assert down["status"] == "queued" and down["first_reply"] is None
        set_bot_capacity(shop, 1)
        with ThreadPoolExecutor(16) as pool:  # 1 slot + 8 queued at the bot: most of 16 at once escalate
            chats = list(pool.map(lambda n: open_chat(shop, customer=f"c-{n}"), range(16)))
    finally:
        set_bot_capacity(shop, 2)
    queued = [c for c in chats if c["status"] == "queued"]
    assert queued and any(c["status"] == "bot" for c in chats), [c["status"] for c in chats]
    # Mostly "saturated" (429); on a stalled machine a bot call may time out first ("unavailable").
    escalated = sum(metric(shop, "shop_cs_escalations_total", reason=r) for r in ("bot_saturated", "bot_unavailable"))
    assert escalated >= len(queued) + 1
    for chat in (down, queued[0]):
        view = poll(lambda: requests.get(f"{shop.url}/api/cs/chats/{chat['chat_id']}", timeout=TIMEOUT).json(),
                    lambda body: body["first_response_ms"] is not None, timeout=15)
        assert view["status"] == "human" and view["messages"][-1]["from"] == "human"
        assert view["first_response_ms"] >= 200


def test_courier_down_tracking_answers_the_last_known_status(shop):
    order_id = order(shop, key(), product_id=16).json()["order_id"]
    track = lambda: requests.get(f"{shop.url}/api/orders/{order_id}/tracking", timeout=TIMEOUT)
    live = track().json()
    assert live["source"] == "courier"
    try:
        for mode in ("unreachable", "error"):
            set_standin_fault(shop, "courier", mode=mode)
            answers = [track() for _ in range(12)]
            assert {r.status_code for r in answers} == {200}, "no error storm"
            assert {(r.json()["status"], r.json()["source"]) for r in answers} == {(live["status"], "last_known")}
        assert 2 in breaker_states(shop, "courier").values()
    finally:
        set_standin_fault(shop, "courier")
    # The breaker probes again after 5 s and closes on the first success.
    assert poll(lambda: track().json()["source"], lambda source: source == "courier", timeout=12, interval=0.5) == "courier"


def test_overload_is_shed_with_429_and_retry_after(tmp_path):
    small = start_shop(tmp_path / "small", port=0, workers=1, extra_env={"PEAKDRILL_SHOP_APP_MAX_IN_FLIGHT": "3"})
    try:
        with ThreadPoolExecutor(24) as pool:
            answers = list(pool.map(lambda n: requests.get(f"{small.url}/api/products/{1 + n % 150}", timeout=TIMEOUT),
                                    range(96)))
        statuses = {r.status_code for r in answers}
        assert statuses <= {200, 429} and 429 in statuses and 200 in statuses
        shed = [r for r in answers if r.status_code == 429]
        assert all(r.headers["Retry-After"] == "1" and r.json()["error"] == "overloaded" for r in shed)
        assert metric(small, "shop_shed_requests_total", route="/api/products/<id>") == len(shed)
        assert requests.get(f"{small.url}/healthz", timeout=TIMEOUT).status_code == 200
    finally:
        stop_shop(small.shop_dir)
    assert not any(psutil.pid_exists(s.pid) and psutil.Process(s.pid).status() != psutil.STATUS_ZOMBIE
                   for s in small.standins.values())
