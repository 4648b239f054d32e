"""Helpers the shop tests share: HTTP calls against the running shop and metric parsing."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import requests

from peakdrill.shop import db as shopdb

TIMEOUT = 10


def key() -> str:
    return uuid.uuid4().hex


@contextmanager
def db(shop) -> Iterator[shopdb.Connection]:
    """A connection to the shop's database, whichever backend; each statement commits."""
    conn = shopdb.connect(shop.database.location)
    try:
        yield conn
    finally:
        conn.close()


def order(shop, k: str, product_id: int = 3, quantity: int = 1, customer: str = "c-test") -> requests.Response:
    return requests.post(f"{shop.url}/api/orders", headers={"Idempotency-Key": k}, timeout=TIMEOUT,
                         json={"customer_id": customer, "items": [{"product_id": product_id, "quantity": quantity}]})


def pay(shop, order_id: int, k: str) -> requests.Response:
    return requests.post(f"{shop.url}/api/orders/{order_id}/pay", headers={"Idempotency-Key": k}, timeout=TIMEOUT)


def open_chat(shop, intent: str = "logistics", customer: str = "c-chat") -> dict[str, Any]:
    response = requests.post(f"{shop.url}/api/cs/chats", timeout=TIMEOUT,
                             json={"channel": "chat", "intent": intent, "customer_id": customer})
    assert response.status_code == 201, response.text
    return response.json()


def samples(shop, name: str, **labels: str) -> list[tuple[dict[str, str], float]]:
    """The samples of ``name`` in the shop's /metrics whose labels include ``labels``."""
    text = requests.get(f"{shop.url}/metrics", timeout=TIMEOUT).text
    found = []
    for line in text.splitlines():
        match = re.match(r"^(\w+)(?:\{(.*)\})? ([0-9.e+-]+)$", line)
        if not match or match.group(1) != name:
            continue
        have = dict(re.findall(r'(\w+)="([^"]*)"', match.group(2) or ""))
        if all(have.get(k) == v for k, v in labels.items()):
            found.append((have, float(match.group(3))))
    return found


def metric(shop, name: str, **labels: str) -> float:
    """Sum of the samples of ``name`` whose labels include ``labels``."""
    return sum(value for _, value in samples(shop, name, **labels))


def breaker_states(shop, dependency: str) -> dict[str, float]:
    """Each live app worker's breaker state for ``dependency``, by pid: 0 closed, 1 half-open, 2 open."""
    return {have["pid"]: value for have, value in samples(shop, "shop_circuit_breaker_state", dependency=dependency)}


def poll(fetch: Callable[[], Any], done: Callable[[Any], bool], timeout: float = 10.0, interval: float = 0.2) -> Any:
    """Call ``fetch`` until ``done`` holds for its value or ``timeout`` passes; the last value."""
    deadline = time.monotonic() + timeout
    value = fetch()
    while not done(value) and time.monotonic() < deadline:
        time.sleep(interval)
        value = fetch()
    return value
