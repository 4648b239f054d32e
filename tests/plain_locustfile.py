"""A locustfile written without peakdrill in mind: plain Locust, no peakdrill import.

It drives tests/knob_server.py: a steady stream of item views and a few cart views. The first
request is named ``GET /item`` on purpose: peakdrill must not report it as ``GET GET /item``.
"""

from locust import HttpUser, constant_pacing, task


class Shopper(HttpUser):
    wait_time = constant_pacing(1.0)

    @task(3)
    def item(self) -> None:
        self.client.get("/item", name="GET /item")

    @task(1)
    def cart(self) -> None:
        self.client.get("/cart")
