"""The business side of the three provider stand-ins: payment gateway, courier tracking, AI chat bot.

Each behaves like the real provider's API as far as the shop can tell: the gateway deduplicates
charges by idempotency key (as Stripe or Adyen do), the courier reports a parcel's progress, the
bot answers after an inference delay with bounded concurrency and a bounded queue.
``handle`` returns (HTTP status, JSON body); the server around it adds the injected faults.
"""

from __future__ import annotations

import hashlib
import random
import re
import threading
import time
from typing import Any

from peakdrill.shop.standin_model import Capacity

Answer = tuple[int, dict[str, Any]]
_NOT_FOUND: Answer = (404, {"error": "not found", "detail": "no such route on this provider"})


def _bad(detail: str) -> Answer:
    return 400, {"error": "bad request", "detail": detail}


class PaymentGateway:
    """``POST /charges {"idempotency_key", "amount_cents"}``: the same key always returns the
    same charge (200 with ``replayed``), so a client retry can never charge twice."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._charges: dict[str, dict[str, Any]] = {}
        self._requests: dict[str, int] = {}
        self._second_charges: list[dict[str, Any]] = []  # taken by the "double_charge" fault

    def handle(self, method: str, path: str, query: dict[str, str], body: Any) -> Answer:
        if (method, path) != ("POST", "/charges"):
            return _NOT_FOUND
        key = body.get("idempotency_key") if isinstance(body, dict) else None
        amount = body.get("amount_cents") if isinstance(body, dict) else None
        if not isinstance(key, str) or not key or not isinstance(amount, int) or amount <= 0:
            return _bad(f"need idempotency_key (string) and amount_cents (positive integer), got {body!r}"[:300])
        time.sleep(random.uniform(0.01, 0.04))  # the provider's own processing
        with self._lock:
            self._requests[key] = self._requests.get(key, 0) + 1
            charge = self._charges.get(key)
            if charge is not None:
                if charge["amount_cents"] != amount:
                    return 409, {"error": "idempotency key reused",
                                 "detail": f"key {key!r} charged {charge['amount_cents']}, not {amount}"}
                return 200, {**charge, "replayed": True}
            charge = {"charge_id": "ch_" + hashlib.sha256(key.encode()).hexdigest()[:24], "idempotency_key": key,
                      "amount_cents": amount, "status": "succeeded", "created_at": time.time()}
            self._charges[key] = charge
        return 201, {**charge, "replayed": False}

    def handle_twice(self, method: str, path: str, query: dict[str, str], body: Any) -> Answer:
        """The ``double_charge`` fault: a gateway whose idempotency is broken takes every new charge
        twice (the customer pays two times, the shop hears of one)."""
        status, answer = self.handle(method, path, query, body)
        if status == 201:
            with self._lock:
                self._second_charges.append({**self._charges[answer["idempotency_key"]],
                                             "charge_id": answer["charge_id"] + "_2", "created_at": time.time()})
        return status, answer

    def admin(self, method: str, path: str, body: Any) -> Answer:
        if (method, path) != ("GET", "/admin/charges"):
            return _NOT_FOUND
        with self._lock:
            charges = [{**c, "requests": self._requests[k]} for k, c in self._charges.items()]
            charges += [{**c, "requests": self._requests[c["idempotency_key"]]} for c in self._second_charges]
        return 200, {"count": len(charges), "charges": charges}


_PARCEL = re.compile(r"^/parcels/(\d+)$")
# (seconds since the order was placed, status): a parcel's usual progress, compressed.
_PROGRESS = ((0, "label_created"), (30, "picked_up"), (120, "in_transit"), (600, "out_for_delivery"),
             (1800, "delivered"))


class CourierTracking:
    """``GET /parcels/<order_id>?since=<epoch the order was placed>``: the parcel's status."""

    def handle(self, method: str, path: str, query: dict[str, str], body: Any) -> Answer:
        match = _PARCEL.match(path)
        if method != "GET" or match is None:
            return _NOT_FOUND
        try:
            since = float(query.get("since", ""))
        except ValueError:
            return _bad("since must be the order's creation time in epoch seconds")
        time.sleep(random.uniform(0.005, 0.02))
        now = time.time()
        status = [name for after, name in _PROGRESS if now - since >= after][-1] if now >= since else "label_created"
        return 200, {"order_id": int(match.group(1)), "status": status, "updated_at": now}

    def admin(self, method: str, path: str, body: Any) -> Answer:
        return _NOT_FOUND


_REPLIES = {
    "order_issue": "I can help with your order. Could you tell me the order number?",
    "logistics": "Let me look up the tracking status of your parcel.",
    "after_sales": "Sorry to hear that. I can start a return or a repair for you.",
    "payment_dispute": "I see. I will check the payment and the refund status.",
    "pre_sales": "Happy to help you choose. What will you use it for?",
}


class ChatBot:
    """``POST /replies {"intent"}``: an answer after 50-300 ms of "inference". At most ``slots``
    conversations at once, shop-wide; up to ``max_queue`` more wait up to ``queue_wait_s`` for a
    slot; anything beyond is refused at once with 429, which the shop turns into an escalation."""

    def __init__(self, slots: int, max_queue: int = 8, queue_wait_s: float = 0.5,
                 latency_s: tuple[float, float] = (0.05, 0.3)) -> None:
        self._capacity = Capacity(slots)
        self.max_queue, self.queue_wait_s, self.latency_s = max_queue, queue_wait_s, latency_s
        self._cond = threading.Condition()
        self._busy = 0
        self._queued = 0

    def _acquire(self) -> bool:
        with self._cond:
            if self._busy < self._capacity.slots:
                self._busy += 1
                return True
            if self._queued >= self.max_queue:
                return False
            self._queued += 1
            try:
                got = self._cond.wait_for(lambda: self._busy < self._capacity.slots, self.queue_wait_s)
                if got:
                    self._busy += 1
                return got
            finally:
                self._queued -= 1

    def _release(self) -> None:
        with self._cond:
            self._busy -= 1
            self._cond.notify()

    def handle(self, method: str, path: str, query: dict[str, str], body: Any) -> Answer:
        if (method, path) != ("POST", "/replies"):
            return _NOT_FOUND
        intent = body.get("intent") if isinstance(body, dict) else None
        if intent not in _REPLIES:
            return _bad(f"intent {intent!r} is not one of {', '.join(_REPLIES)}")
        if not self._acquire():
            return 429, {"error": "bot saturated", "detail": f"all {self._capacity.slots} slots busy and "
                         f"the queue is full; hand the conversation to a human"}
        try:
            time.sleep(random.uniform(*self.latency_s))  # stands in for model inference
            return 200, {"text": _REPLIES[intent]}
        finally:
            self._release()

    def admin(self, method: str, path: str, body: Any) -> Answer:
        if path == "/admin/capacity" and method == "PUT":
            capacity = Capacity.parse(body)
            with self._cond:
                self._capacity = capacity
                self._cond.notify_all()
        elif path == "/admin/stats" and method == "GET":
            with self._cond:
                return 200, {"slots": self._capacity.slots, "busy": self._busy, "queued": self._queued,
                             "max_queue": self.max_queue}
        elif (method, path) != ("GET", "/admin/capacity"):
            return _NOT_FOUND
        return 200, {"slots": self._capacity.slots}
