"""The customer-service journey: open a chat, wait for the first reply, follow up, close with a score.

The time from opening a chat to its first reply (bot or human) is reported to Locust as the
pseudo-request ``CS first response``, so it is measured and merged like any endpoint.
"""

from __future__ import annotations

import random
import time
import uuid

import gevent
from locust import FastHttpUser, task

from journeys.common import TEST_TRAFFIC_HEADERS, think_time, weight_of, weighted_choice

# The contact mix of the peak model (DESIGN.md): shares of intents and channels.
INTENT_MIX = {"order_issue": 30, "logistics": 15, "after_sales": 5, "payment_dispute": 5, "pre_sales": 45}
CHANNEL_MIX = {"chat": 60, "phone": 25, "social": 10, "app": 4, "store": 1}
FIRST_REPLY_DEADLINE_S = 60.0
POLL_INTERVAL_S = 1.0


class CustomerServiceUser(FastHttpUser):
    weight = weight_of("customer_service", 3)
    wait_time = think_time()
    default_headers = TEST_TRAFFIC_HEADERS

    def on_start(self) -> None:
        self.rng = random.Random()
        self.customer_id = f"lt-{uuid.uuid4().hex[:12]}"

    @task
    def contact_service(self) -> None:
        opened_at = time.time()
        body = {"channel": weighted_choice(self.rng, CHANNEL_MIX), "intent": weighted_choice(self.rng, INTENT_MIX),
                "customer_id": self.customer_id}
        with self.client.post("/api/cs/chats", json=body, name="/api/cs/chats", catch_response=True) as resp:
            chat = resp.json() if resp.status_code in (200, 201) else None
            if not chat or "chat_id" not in chat:
                resp.failure(f"chat not opened: HTTP {resp.status_code}")
                return
        chat_id = chat["chat_id"]
        if chat.get("first_reply") is None and not self._wait_for_first_reply(chat_id, opened_at):
            return
        self._report_first_response(opened_at, None)
        with self.client.post(f"/api/cs/chats/{chat_id}/messages", json={"text": "Thanks, one more question."},
                              name="/api/cs/chats/[id]/messages", catch_response=True) as resp:
            if resp.status_code not in (200, 201):
                resp.failure(f"follow-up in chat {chat_id}: HTTP {resp.status_code}")
        with self.client.post(f"/api/cs/chats/{chat_id}/close", json={"satisfaction": self.rng.randint(3, 5)},
                              name="/api/cs/chats/[id]/close", catch_response=True) as resp:
            if resp.status_code != 200:
                resp.failure(f"closing chat {chat_id}: HTTP {resp.status_code}")

    def _wait_for_first_reply(self, chat_id: int, opened_at: float) -> bool:
        """Poll a queued chat until a human answers; report a miss if nobody does in time."""
        while time.time() - opened_at < FIRST_REPLY_DEADLINE_S:
            gevent.sleep(POLL_INTERVAL_S)
            with self.client.get(f"/api/cs/chats/{chat_id}", name="/api/cs/chats/[id]", catch_response=True) as resp:
                if resp.status_code != 200:
                    resp.failure(f"chat {chat_id}: HTTP {resp.status_code}")
                    continue
                if resp.json().get("first_response_ms") is not None:
                    return True
        self._report_first_response(opened_at, TimeoutError(f"no reply within {FIRST_REPLY_DEADLINE_S:.0f} s"))
        return False

    def _report_first_response(self, opened_at: float, error: Exception | None) -> None:
        self.environment.events.request.fire(
            request_type="CS", name="first response", response_time=(time.time() - opened_at) * 1000,
            response_length=0, exception=error, context={}, start_time=opened_at,
        )
