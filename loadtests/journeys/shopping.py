"""One customer's shopping: browse, product pages, stock, cart, order, payment, status, tracking.

Both journeys use it: the shopper's own, and the customer-service user who needs an order of its
own to ask about. Every instance belongs to one simulated user (its products, its orders).
"""

from __future__ import annotations

import random
import uuid

from journeys.api import Api, body
from journeys.common import TEST_PREFIX
from peakdrill import ack, ack_failed

PAGES = 5  # the reference catalogue has 200 products, 20 a page


class Shopper:
    def __init__(self, api: Api, rng: random.Random, customer_id: str) -> None:
        self.api, self.rng, self.customer_id = api, rng, customer_id
        self.product_ids: list[int] = []
        self.last_order_id: int | None = None

    def browse(self) -> None:
        page = self.rng.randint(1, PAGES)
        with self.api.call("list_products", n=page) as resp:
            products = body(resp).get("products") if resp.status_code == 200 else None
            if not products:
                resp.failure(f"expected a product list, got HTTP {resp.status_code}")
                return
        known = set(self.product_ids)
        self.product_ids.extend(p["id"] for p in products if p["id"] not in known)

    def pick_product(self) -> int | None:
        """A product this shopper has seen; shoppers crowd onto a few hot ones at peak, which gives the
        cache a realistic hit ratio."""
        if not self.product_ids:
            self.browse()
        if not self.product_ids:
            return None
        index = min(int(self.rng.paretovariate(1.2)) - 1, len(self.product_ids) - 1)
        return self.product_ids[index]

    def view_product(self) -> int | None:
        product_id = self.pick_product()
        if product_id is None:
            return None
        with self.api.call("product", id=product_id) as resp:
            if resp.status_code != 200 or body(resp).get("id") != product_id:
                resp.failure(f"product {product_id}: HTTP {resp.status_code}")
                return None
        return product_id

    def in_stock(self, product_id: int) -> bool:
        """The stock a shopper sees before buying; a shop without an inventory endpoint is taken at its word."""
        if not self.api.has("inventory"):
            return True
        with self.api.call("inventory", id=product_id) as resp:
            stock = body(resp)
            if resp.status_code != 200 or stock.get("product_id") != product_id or not isinstance(stock.get("available"), int):
                resp.failure(f"inventory of product {product_id}: HTTP {resp.status_code}")
                return False
        return stock["available"] > 0

    def buy(self) -> int | None:
        """Order a product (through a cart where the shop has carts) and pay; the order id, or None."""
        product_id = self.view_product()
        if product_id is None or not self.in_stock(product_id):
            return None
        item = {"product_id": product_id, "quantity": self.rng.randint(1, 2)}
        if self.api.has("create_cart"):
            cart_id = self._fill_cart(item)
            if cart_id is None:
                return None
            order_body = {"customer_id": self.customer_id, "cart_id": cart_id}
        else:
            order_body = {"customer_id": self.customer_id, "items": [item]}
        order_key = f"{TEST_PREFIX}order-{uuid.uuid4()}"
        with self.api.call("place_order", json=order_body, headers={"Idempotency-Key": order_key}) as resp:
            if resp.status_code == 409:
                resp.success()  # sold out is a correct answer at peak, not an error
                return None
            order = body(resp) if resp.status_code in (200, 201) else {}
            if "order_id" not in order:
                resp.failure(f"order not acknowledged: HTTP {resp.status_code}")
                ack_failed("order", order_key)  # if the shop stored it anyway, the customer was misinformed
                return None
        order_id = order["order_id"]
        ack("order", order_id, ref=order_key)  # the data-integrity check looks for every one (docs/integrity.md)
        pay_key = f"{TEST_PREFIX}pay-{uuid.uuid4()}"
        with self.api.call("pay_order", id=order_id, json={"method": "card"}, headers={"Idempotency-Key": pay_key}) as resp:
            status = body(resp).get("status") if resp.status_code in (200, 201, 202) else None
            if status not in ("paid", "payment_pending"):
                resp.failure(f"payment for order {order_id}: HTTP {resp.status_code}, status {status!r}")
                ack_failed("payment", pay_key)
                return None
        if status == "paid":  # captured; a pending payment is neither acknowledged nor refused yet
            ack("payment", order_id, ref=pay_key)
        self.last_order_id = order_id
        return order_id

    def _fill_cart(self, item: dict) -> str | int | None:
        with self.api.call("create_cart", json={"customer_id": self.customer_id}) as resp:
            cart_id = body(resp).get("cart_id") if resp.status_code in (200, 201) else None
            if cart_id is None:
                resp.failure(f"cart not created: HTTP {resp.status_code}")
                return None
        with self.api.call("add_to_cart", id=cart_id, json=item) as resp:
            if resp.status_code not in (200, 201):
                resp.failure(f"adding product {item['product_id']} to cart {cart_id}: HTTP {resp.status_code}")
                return None
        with self.api.call("get_cart", id=cart_id) as resp:
            if resp.status_code != 200 or not body(resp):
                resp.failure(f"cart {cart_id}: HTTP {resp.status_code}")
                return None
        return cart_id

    def order_status(self, order_id: int) -> None:
        with self.api.call("get_order", id=order_id) as resp:
            if resp.status_code != 200 or body(resp).get("order_id") != order_id:
                resp.failure(f"order {order_id}: HTTP {resp.status_code}")

    def tracking(self, order_id: int) -> None:
        if not self.api.has("tracking"):
            return
        with self.api.call("tracking", id=order_id) as resp:
            found = body(resp)
            # "last_known" is the correct answer while the courier is down (the logistics-outage plan).
            if resp.status_code != 200 or found.get("order_id") != order_id or found.get("source") not in ("courier", "last_known"):
                resp.failure(f"tracking of order {order_id}: HTTP {resp.status_code}, source {found.get('source')!r}")
