"""Data integrity after a load run with faults: what the load generator was acknowledged is what
the shop stored, once. A small bounded load loop records every acknowledged order and payment
while a worker is killed and the gateway fails half its calls."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from peakdrill.shop import app_worker_pids, set_standin_fault
from shopkit import TIMEOUT, key, metric, order, pay, poll

CUSTOMERS = 4
ORDERS_EACH = 12
RETRYABLE = {429, 503}


@pytest.fixture
def shop(shop_on_each_backend):
    """Every test here runs on SQLite (the default) and on PostgreSQL (`shop up --db postgres`)."""
    return shop_on_each_backend


def _with_retries(call, attempts: int = 5) -> requests.Response | None:
    """What a careful client does: retry the same request (same key) on 429/503/connection loss."""
    for _ in range(attempts):
        try:
            response = call()
        except requests.ConnectionError:
            response = None
        if response is not None and response.status_code not in RETRYABLE:
            return response
        time.sleep(0.2)
    return None


def test_acknowledged_orders_and_payments_are_stored_once(shop):
    since = time.time()
    lock = threading.Lock()
    acked_orders: dict[str, int] = {}  # order key -> order id the shop acknowledged
    acked_payments: dict[str, int] = {}  # payment key -> order id, acknowledged paid or pending

    def customer(n: int) -> None:
        for _ in range(ORDERS_EACH):
            order_key, pay_key = key(), key()
            placed = _with_retries(lambda: order(shop, order_key, product_id=30 + n, customer=f"c-rec-{n}"))
            if placed is None or placed.status_code not in (200, 201):
                continue
            order_id = placed.json()["order_id"]
            with lock:
                assert acked_orders.setdefault(order_key, order_id) == order_id
            paid = _with_retries(lambda: pay(shop, order_id, pay_key))
            if paid is not None and paid.status_code in (200, 202):
                with lock:
                    acked_payments[pay_key] = order_id

    try:
        with ThreadPoolExecutor(CUSTOMERS) as pool:
            done = [pool.submit(customer, n) for n in range(CUSTOMERS)]
            time.sleep(0.8)
            set_standin_fault(shop, "payment", mode="error", error_ratio=0.5)
            os.kill(app_worker_pids(shop)[0], signal.SIGKILL)
            time.sleep(1.5)
            set_standin_fault(shop, "payment")
            for future in done:
                future.result(timeout=120)
    finally:
        set_standin_fault(shop, "payment")
    assert len(acked_orders) >= CUSTOMERS * ORDERS_EACH // 2, "the load loop must mostly get through"
    assert metric(shop, "shop_outbound_duration_seconds_count", dependency="payment", result="error") > 0, \
        "the gateway fault must have hit some payments"

    # Payments left pending by the gateway fault are retried with their own key, as a client would.
    recon = requests.get(f"{shop.url}/api/admin/reconciliation?since={since}", timeout=TIMEOUT).json()
    for payment in recon["payments"]:
        if payment["idempotency_key"] in acked_payments and payment["status"] == "pending":
            retried = poll(lambda: pay(shop, payment["order_id"], payment["idempotency_key"]),
                           lambda r: r.status_code == 200, timeout=10, interval=0.5)
            assert retried.json()["status"] == "paid"
    recon = requests.get(f"{shop.url}/api/admin/reconciliation?since={since}", timeout=TIMEOUT).json()

    stored_orders = {o["idempotency_key"]: o for o in recon["orders"]}
    assert len(stored_orders) == len(recon["orders"]), "an idempotency key produced two orders"
    for order_key, order_id in acked_orders.items():
        assert stored_orders[order_key]["order_id"] == order_id, f"acknowledged order {order_id} is not stored"
    stored_payments = {p["idempotency_key"]: p for p in recon["payments"]}
    assert len(stored_payments) == len(recon["payments"])
    for pay_key, order_id in acked_payments.items():
        assert stored_payments[pay_key]["order_id"] == order_id and stored_payments[pay_key]["status"] == "succeeded"
    assert recon["double_charged_orders"] == []
    succeeded = Counter(p["order_id"] for p in recon["payments"] if p["status"] == "succeeded")
    assert max(succeeded.values()) == 1

    charges = requests.get(shop.standins["payment"].admin_url + "/admin/charges", timeout=TIMEOUT).json()["charges"]
    charged = Counter(c["idempotency_key"] for c in charges if c["idempotency_key"] in acked_payments)
    assert set(charged) == set(acked_payments) and set(charged.values()) == {1}, "one gateway charge per payment"
