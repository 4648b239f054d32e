"""Probes on the order path: place and pay real orders, track them, and check them against the
shop's system of record (the reconciliation endpoint), so "no order lost, no double charge" is
read from what the shop stored, not assumed from what it answered."""

from __future__ import annotations

import time
import uuid

from peakdrill.chaos import args, client
from peakdrill.chaos.target import target

__all__ = ["place_orders", "validate_place_orders", "pay_orders", "validate_pay_orders",
           "settle_pending_payments", "validate_settle_pending_payments", "tracking_sources",
           "validate_tracking_sources", "inventory_view", "validate_inventory_view"]

PRODUCTS = 200
ORDER_TIMEOUT_S = 15.0  # longer than the shop's 5 s database busy timeout: see the 503, not our timeout


def _count(seen: dict, key) -> None:
    seen[str(key)] = seen.get(str(key), 0) + 1


def _place(shop: client.Target, index: int) -> tuple[str, client.Reply, float]:
    key = f"chaos-{uuid.uuid4()}"
    started = time.perf_counter()
    reply = shop.call("POST", "/api/orders", {"customer_id": "chaos-probe",
                                                     "items": [{"product_id": index % PRODUCTS + 1, "quantity": 1}]},
                      {"Idempotency-Key": key}, timeout=ORDER_TIMEOUT_S)
    return key, reply, (time.perf_counter() - started) * 1000


def _records(shop: client.Target, since: float) -> dict:
    reply = shop.call("GET", f"/api/admin/reconciliation?since={since - 1:.3f}", timeout=ORDER_TIMEOUT_S)
    return reply.body if reply.status == 200 and isinstance(reply.body, dict) else {}


def validate_place_orders(shop_dir: str = ".peakdrill/shop", orders: int = 3) -> None:
    args.whole("orders", orders, 1, 100, 3)


def place_orders(shop_dir: str = ".peakdrill/shop", orders: int = 3, configuration: dict | None = None) -> dict:
    """Place ``orders`` orders now; report their answers and any the shop acknowledged but did not store."""
    validate_place_orders(shop_dir, orders)
    shop, started, statuses, acknowledged, retry_after, slowest = target(shop_dir, configuration=configuration), time.time(), {}, [], 0, 0.0
    for index in range(int(orders)):
        key, reply, elapsed_ms = _place(shop, index)
        _count(statuses, reply.status or ("timeout" if reply.timed_out else "no answer"))
        retry_after += "Retry-After" in reply.headers
        slowest = max(slowest, elapsed_ms)
        if reply.status == 201:
            acknowledged.append(key)
    stored = {order["idempotency_key"] for order in _records(shop, started).get("orders", [])}
    lost = [key for key in acknowledged if key not in stored]
    return {"statuses": statuses, "acknowledged": len(acknowledged), "lost": lost, "lost_count": len(lost),
            "with_retry_after": retry_after, "slowest_ms": round(slowest, 1)}


def validate_pay_orders(shop_dir: str = ".peakdrill/shop", orders: int = 2, retries: int = 1) -> None:
    args.whole("orders", orders, 1, 50, 2)
    args.whole("retries", retries, 0, 5, 1)


def pay_orders(shop_dir: str = ".peakdrill/shop", orders: int = 2, retries: int = 1, configuration: dict | None = None) -> dict:
    """Place and pay ``orders`` orders, retrying each payment ``retries`` times with the same key."""
    validate_pay_orders(shop_dir, orders, retries)
    shop, started, outcomes = target(shop_dir, configuration=configuration), time.time(), {}
    for index in range(int(orders)):
        _, reply, _ = _place(shop, index)
        if reply.status != 201:
            _count(outcomes, f"order {reply.status}")
            continue
        key = f"chaos-pay-{uuid.uuid4()}"
        for _ in range(int(retries) + 1):
            paid = shop.call("POST", f"/api/orders/{reply.body['order_id']}/pay", {}, {"Idempotency-Key": key},
                             timeout=ORDER_TIMEOUT_S)
            _count(outcomes, (paid.body or {}).get("status", paid.status) if isinstance(paid.body, dict) else paid.status)
    records = _records(shop, started)
    return {"outcomes": outcomes, "paid": outcomes.get("paid", 0), "pending": outcomes.get("payment_pending", 0),
            "double_charged": records.get("double_charged_orders", []),
            "double_charged_count": len(records.get("double_charged_orders", []))}


def validate_settle_pending_payments(shop_dir: str = ".peakdrill/shop", since_s: float = 600) -> None:
    args.duration(since_s, "since_s")


def settle_pending_payments(shop_dir: str = ".peakdrill/shop", since_s: float = 600, configuration: dict | None = None) -> dict:
    """Retry every payment left pending in the last ``since_s`` s with its own key (as a client would)."""
    validate_settle_pending_payments(shop_dir, since_s)
    shop = target(shop_dir, configuration=configuration)
    since = time.time() - float(since_s)
    pending = [p for p in _records(shop, since).get("payments", []) if p.get("status") == "pending"]
    outcomes: dict = {}
    for payment in pending:
        reply = shop.call("POST", f"/api/orders/{payment['order_id']}/pay", {},
                          {"Idempotency-Key": payment["idempotency_key"]}, timeout=ORDER_TIMEOUT_S)
        _count(outcomes, (reply.body or {}).get("status", reply.status) if isinstance(reply.body, dict) else reply.status)
    records = _records(shop, since)
    return {"retried": len(pending), "outcomes": outcomes,
            "still_pending": sum(p.get("status") == "pending" for p in records.get("payments", [])),
            "double_charged_count": len(records.get("double_charged_orders", []))}


def validate_tracking_sources(shop_dir: str = ".peakdrill/shop", orders: int = 2) -> None:
    args.whole("orders", orders, 1, 50, 2)


def tracking_sources(shop_dir: str = ".peakdrill/shop", orders: int = 2, configuration: dict | None = None) -> dict:
    """Place ``orders`` orders and ask for their tracking: HTTP statuses and where the status came from."""
    validate_tracking_sources(shop_dir, orders)
    shop, statuses, sources = target(shop_dir, configuration=configuration), {}, {}
    for index in range(int(orders)):
        _, placed, _ = _place(shop, index)
        if placed.status != 201:
            _count(statuses, f"order {placed.status}")
            continue
        reply = shop.call("GET", f"/api/orders/{placed.body['order_id']}/tracking")
        _count(statuses, reply.status)
        _count(sources, (reply.body or {}).get("source", "-") if isinstance(reply.body, dict) else "-")
    return {"statuses": statuses, "sources": sources, "from_courier": sources.get("courier", 0),
            "from_last_known": sources.get("last_known", 0),
            "errors": sum(v for k, v in statuses.items() if not k.startswith("2"))}


def validate_inventory_view(shop_dir: str = ".peakdrill/shop", product_id: int = 1) -> None:
    args.whole("product_id", product_id, 1, PRODUCTS, 1)


def inventory_view(shop_dir: str = ".peakdrill/shop", product_id: int = 1, configuration: dict | None = None) -> dict:
    """The shop's view of one product's central stock: available units and whether it is stale."""
    validate_inventory_view(shop_dir, product_id)
    reply = target(shop_dir, configuration=configuration).call("GET", f"/api/inventory/{int(product_id)}")
    return {"status": reply.status, **(reply.body if isinstance(reply.body, dict) else {})}
