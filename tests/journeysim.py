"""Runs the order journey's real tasks (Shopper, Api, endpoint map) against an in-process fake of the
reference shop's answers and prints how many requests of each name they sent, as JSON.

    PYTHONPATH=loadtests PEAKDRILL_PROFILE=p.yaml python tests/journeysim.py RUNS

Counting requests this way is exact and fast; a real Locust run would add only sampling noise.
"""

from __future__ import annotations

import json
import random
import re
import sys
from collections import Counter
from contextlib import contextmanager
from types import SimpleNamespace

import journeys.api
from journeys.api import ENDPOINTS, Api
from journeys.orders import OrderUser
from journeys.shopping import Shopper

journeys.api.OPEN_MODEL = False  # no pacer: the tasks run back to back


def answer(operation: str, url: str) -> tuple[int, dict]:
    ids = [int(n) for n in re.findall(r"\d+", url)]
    answers = {
        "list_products": (200, {"products": [{"id": i} for i in range(1, 21)]}),
        "product": (200, {"id": ids[-1] if ids else 0}),
        "inventory": (200, {"product_id": ids[-1] if ids else 0, "available": 5}),
        "create_cart": (201, {"cart_id": 7}),
        "add_to_cart": (201, {"cart_id": 7}),
        "get_cart": (200, {"cart_id": 7}),
        "place_order": (201, {"order_id": 42}),
        "pay_order": (200, {"status": "paid"}),
        "get_order": (200, {"order_id": 42}),
        "tracking": (200, {"order_id": 42, "source": "courier"}),
    }
    return answers[operation]


class FakeClient:
    def __init__(self) -> None:
        self.sent: Counter = Counter()
        self.operations = {f"{e.method} {e.name}": op for op, e in ENDPOINTS.endpoints.items()}

    @contextmanager
    def request(self, method: str, url: str, name: str, **_):
        self.sent[f"{method} {name}"] += 1
        status, data = answer(self.operations[f"{method} {name}"], url)

        def failure(why: str) -> None:
            raise AssertionError(f"{method} {url}: {why}")

        yield SimpleNamespace(status_code=status, json=lambda: data, headers={}, request_meta={},
                              success=lambda: None, failure=failure)


def main(runs: int) -> None:
    client = FakeClient()
    user = SimpleNamespace(shopper=Shopper(Api(SimpleNamespace(client=client)), random.Random(2), "c-sim"))
    pick = random.Random(1)
    for _ in range(runs):
        pick.choice(OrderUser.tasks)(user)
    print(json.dumps(client.sent))


if __name__ == "__main__":
    main(int(sys.argv[1]))
