"""The order journey: browse, product pages (through the cache), stock, cart, order, pay, status, tracking."""

from __future__ import annotations

import random
import uuid

from locust import FastHttpUser, task

from journeys.api import Api
from journeys.common import TEST_TRAFFIC_HEADERS, think_time, weight_of
from journeys.shopping import Shopper

# Some shoppers look at the stock line of a product page without buying (a separate inventory read).
STOCK_LOOK_SHARE = 0.3


class OrderUser(FastHttpUser):
    weight = weight_of("order", 7)
    wait_time = think_time()
    default_headers = TEST_TRAFFIC_HEADERS

    def on_start(self) -> None:
        self.shopper = Shopper(Api(self), random.Random(), f"lt-{uuid.uuid4().hex[:12]}")

    # Most shoppers look, few buy: the ratio of product pages to orders of a sales peak.
    @task(4)
    def browse(self) -> None:
        self.shopper.browse()

    @task(10)
    def view_product(self) -> None:
        product_id = self.shopper.view_product()
        if product_id is not None and self.shopper.rng.random() < STOCK_LOOK_SHARE:
            self.shopper.in_stock(product_id)

    @task(2)
    def buy(self) -> None:
        self.shopper.buy()

    @task(1)
    def follow_order(self) -> None:
        order_id = self.shopper.last_order_id
        if order_id is None:
            return
        self.shopper.order_status(order_id)
        self.shopper.tracking(order_id)
