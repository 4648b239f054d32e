"""A user's own locustfile that records its business acknowledgements with peakdrill's public call.

It books on tests/knob_server.py: every booking the service acknowledges is recorded with
``ack("booking", id, ref=...)``; a failed booking with ``ack_failed``. Runs unmodified under plain
``locust`` too (the calls then do nothing).
"""

import uuid

from locust import HttpUser, constant_pacing, task

from peakdrill import ack, ack_failed


class Booker(HttpUser):
    wait_time = constant_pacing(0.5)

    @task(3)
    def item(self) -> None:
        self.client.get("/item", name="GET /item")

    @task(1)
    def book(self) -> None:
        ref = f"lt-{uuid.uuid4().hex}"
        with self.client.post("/bookings", json={"ref": ref}, name="POST /bookings", catch_response=True) as resp:
            if resp.status_code == 201:
                ack("booking", resp.json()["id"], ref=ref)
            else:
                resp.failure(f"HTTP {resp.status_code}")
                ack_failed("booking", ref)
