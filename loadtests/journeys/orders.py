"""The order journey: browse, product pages (through the cache), stock, cart, order, pay, status, tracking."""

from __future__ import annotations

import random
import uuid

from locust import FastHttpUser, task

from journeys.api import ENDPOINTS, Api
from journeys.common import PROFILE, TEST_PREFIX, TEST_TRAFFIC_HEADERS, think_time, weight_of
from journeys.shopping import Shopper
from peakdrill.replay.mix import replayed_weights

# Some shoppers look at the stock line of a product page without buying (a separate inventory read).
STOCK_LOOK_SHARE = 0.3
# Most shoppers look, few buy: the ratio of product pages to orders of a sales peak. A replayed
# profile replaces these with weights that reproduce its traffic's shares (peakdrill/replay/mix.py).
DEFAULT_WEIGHTS = {"browse": 4, "view_product": 10, "buy": 2, "follow_order": 1}
DEFINING_OPERATION = {"browse": "list_products", "view_product": "product", "buy": "place_order",
                      "follow_order": "get_order"}
ALSO_SENDS = {"buy": ("product",)}  # a purchase starts on the product page


def _request_name(operation: str) -> str:
    endpoint = ENDPOINTS.endpoints[operation]
    return f"{endpoint.method} {endpoint.name}"


WEIGHTS = replayed_weights(
    DEFAULT_WEIGHTS, {task: _request_name(op) for task, op in DEFINING_OPERATION.items()},
    {task: tuple(_request_name(op) for op in ops) for task, ops in ALSO_SENDS.items()},
    PROFILE.replay.endpoint_mix if PROFILE is not None and PROFILE.replay is not None else {})


class OrderUser(FastHttpUser):
    weight = weight_of("order", 7)
    wait_time = think_time()
    default_headers = TEST_TRAFFIC_HEADERS

    def on_start(self) -> None:
        self.shopper = Shopper(Api(self), random.Random(), f"{TEST_PREFIX}{uuid.uuid4().hex[:12]}")

    @task(WEIGHTS["browse"])
    def browse(self) -> None:
        self.shopper.browse()

    @task(WEIGHTS["view_product"])
    def view_product(self) -> None:
        product_id = self.shopper.view_product()
        if product_id is not None and self.shopper.rng.random() < STOCK_LOOK_SHARE:
            self.shopper.in_stock(product_id)

    @task(WEIGHTS["buy"])
    def buy(self) -> None:
        self.shopper.buy()

    @task(WEIGHTS["follow_order"])
    def follow_order(self) -> None:
        order_id = self.shopper.last_order_id
        if order_id is None:
            return
        self.shopper.order_status(order_id)
        self.shopper.tracking(order_id)
