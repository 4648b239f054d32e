"""The order journey: browse, read product details (through the cache), order, pay, check status."""

from __future__ import annotations

import random
import uuid

from locust import FastHttpUser, task

from journeys.common import TEST_TRAFFIC_HEADERS, think_time, weight_of


class OrderUser(FastHttpUser):
    weight = weight_of("order", 7)
    wait_time = think_time()
    default_headers = TEST_TRAFFIC_HEADERS

    def on_start(self) -> None:
        self.rng = random.Random()
        self.customer_id = f"lt-{uuid.uuid4().hex[:12]}"
        self.product_ids: list[int] = []
        self.last_order_id: int | None = None
        self.browse()

    def _popular_product(self) -> int:
        # Shoppers crowd onto a few hot products at peak; a skewed pick gives the cache a realistic hit ratio.
        index = min(int(self.rng.paretovariate(1.2)) - 1, len(self.product_ids) - 1)
        return self.product_ids[index]

    @task(4)
    def browse(self) -> None:
        page = self.rng.randint(1, 5)
        with self.client.get(f"/api/products?page={page}", name="/api/products?page=[n]", catch_response=True) as resp:
            products = (resp.json() or {}).get("products") if resp.status_code == 200 else None
            if not products:
                resp.failure(f"expected a product list, got HTTP {resp.status_code}")
                return
            known = set(self.product_ids)
            self.product_ids.extend(p["id"] for p in products if p["id"] not in known)

    @task(10)
    def view_product(self) -> None:
        if not self.product_ids:
            return self.browse()
        product_id = self._popular_product()
        with self.client.get(f"/api/products/{product_id}", name="/api/products/[id]", catch_response=True) as resp:
            if resp.status_code != 200 or (resp.json() or {}).get("id") != product_id:
                resp.failure(f"product {product_id}: HTTP {resp.status_code}")

    @task(2)
    def order_and_pay(self) -> None:
        if not self.product_ids:
            return self.browse()
        body = {"customer_id": self.customer_id, "items": [{"product_id": self._popular_product(), "quantity": self.rng.randint(1, 2)}]}
        headers = {"Idempotency-Key": f"order-{uuid.uuid4()}"}
        with self.client.post("/api/orders", json=body, headers=headers, name="/api/orders", catch_response=True) as resp:
            if resp.status_code == 409:
                resp.success()  # sold out is a correct answer at peak, not an error
                return
            order = resp.json() if resp.status_code in (200, 201) else None
            if not order or "order_id" not in order:
                resp.failure(f"order not acknowledged: HTTP {resp.status_code}")
                return
        self.last_order_id = order["order_id"]
        pay_headers = {"Idempotency-Key": f"pay-{uuid.uuid4()}"}
        with self.client.post(f"/api/orders/{self.last_order_id}/pay", json={"method": "card"}, headers=pay_headers,
                              name="/api/orders/[id]/pay", catch_response=True) as resp:
            status = (resp.json() or {}).get("status") if resp.status_code in (200, 201, 202) else None
            if status not in ("paid", "payment_pending"):
                resp.failure(f"payment for order {self.last_order_id}: HTTP {resp.status_code}, status {status!r}")

    @task(1)
    def order_status(self) -> None:
        if self.last_order_id is None:
            return
        with self.client.get(f"/api/orders/{self.last_order_id}", name="/api/orders/[id]", catch_response=True) as resp:
            if resp.status_code != 200 or (resp.json() or {}).get("order_id") != self.last_order_id:
                resp.failure(f"order {self.last_order_id}: HTTP {resp.status_code}")
