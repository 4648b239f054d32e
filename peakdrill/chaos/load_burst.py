"""Flash crowd: a bounded burst of real requests far above the forecast, from this process.

Bounded three ways (users, seconds, total requests) and stopped by Ctrl-C like any activity:
nothing outlives the call, so it needs no ledger entry or dead-man. It reports what the shop did
with the excess: shed with 429 + Retry-After (the plan), or timeouts and 5xx (the failure).
"""

from __future__ import annotations

import threading
import time
import uuid

from peakdrill.chaos import args, client
from peakdrill.chaos.target import target
from peakdrill.errors import EgressRefusedError

__all__ = ["spike_load", "validate_spike_load", "stop_spike_load"]

REQUEST_TIMEOUT_S = 5.0
MAX_USERS = 200
MAX_REQUESTS = 20_000

# The clients of the burst in progress, so a rollback can stop them after a Ctrl-C.
_stop = threading.Event()
_clients: list[threading.Thread] = []


class _Tally:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.by_status: dict[str, int] = {}
        self.shed_without_retry_after = 0
        self.orders_admitted = 0
        self.orders_ok = 0
        self.sent = 0

    def take(self, budget: int) -> bool:
        with self.lock:
            if self.sent >= budget:
                return False
            self.sent += 1
            return True

    def record(self, reply: client.Reply, is_order: bool) -> None:
        status = str(reply.status) if reply.status else ("timeout" if reply.timed_out else "no answer")
        with self.lock:
            self.by_status[status] = self.by_status.get(status, 0) + 1
            if reply.status == 429:
                self.shed_without_retry_after += "Retry-After" not in reply.headers
            elif is_order:
                self.orders_admitted += 1
                self.orders_ok += reply.status in (200, 201)


def validate_spike_load(shop_dir: str = ".peakdrill/shop", users: int = 30, duration: float = 5,
                        max_requests: int = 3000, order_every: int = 5, url: str = "") -> None:
    args.whole("users", users, 1, MAX_USERS, 30)
    args.duration(duration)
    args.whole("max_requests", max_requests, 1, MAX_REQUESTS, 3000)
    args.whole("order_every", order_every, 1, 1000, 5)


def spike_load(shop_dir: str = ".peakdrill/shop", users: int = 30, duration: float = 5,
               max_requests: int = 3000, order_every: int = 5, url: str = "", configuration: dict | None = None) -> dict:
    """``users`` clients without think time for ``duration`` s (at most ``max_requests`` requests);
    every ``order_every``-th request of a client places an order, the others read products.
    ``url`` aims it at a shop other than the embedded one (allowed hosts only)."""
    validate_spike_load(shop_dir, users, duration, max_requests, order_every, url)
    shop, tally, refused = target(shop_dir, url, configuration), _Tally(), []
    _stop.clear()
    deadline = time.monotonic() + float(duration)

    def shopper(number: int) -> None:
        try:
            shop_until_done(number)
        except EgressRefusedError as exc:  # a redirect off the allowlist: the whole burst stops, and fails
            refused.append(exc)
            _stop.set()

    def shop_until_done(number: int) -> None:
        sent = 0
        while not _stop.is_set() and time.monotonic() < deadline and tally.take(int(max_requests)):
            sent += 1
            if sent % int(order_every) == 0:
                reply = shop.call("POST", "/api/orders", {"customer_id": f"crowd-{number}",
                                  "items": [{"product_id": sent % 200 + 1, "quantity": 1}]},
                                  {"Idempotency-Key": f"crowd-{uuid.uuid4()}"}, timeout=REQUEST_TIMEOUT_S)
                tally.record(reply, is_order=True)
            else:
                tally.record(shop.call("GET", f"/api/products/{(number * 7 + sent) % 200 + 1}",
                                       timeout=REQUEST_TIMEOUT_S), is_order=False)

    _clients[:] = [threading.Thread(target=shopper, args=(n,), daemon=True, name=f"crowd-{n}") for n in range(int(users))]
    started = time.monotonic()
    try:
        for thread in _clients:
            thread.start()
        for thread in _clients:
            thread.join()
    finally:
        _stop.set()  # Ctrl-C lands in this thread: tell the clients to stop at their next request
    if refused:
        raise refused[0]
    by_status = tally.by_status
    return {"requests": tally.sent, "seconds": round(time.monotonic() - started, 2), "by_status": by_status,
            "shed": by_status.get("429", 0), "shed_without_retry_after": tally.shed_without_retry_after,
            "timeouts": by_status.get("timeout", 0) + by_status.get("no answer", 0),
            "server_errors": sum(v for k, v in by_status.items() if k.startswith("5")),
            "orders_admitted": tally.orders_admitted, "orders_ok": tally.orders_ok}


def stop_spike_load() -> dict:
    """Stop the burst's clients (after a Ctrl-C) and wait for their last request to end."""
    _stop.set()
    for thread in _clients:
        thread.join(REQUEST_TIMEOUT_S + 1)
    still = sum(thread.is_alive() for thread in _clients)
    _clients.clear()
    return {"clients_still_running": still}
