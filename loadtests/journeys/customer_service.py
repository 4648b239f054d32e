"""The customer-service journey: open a chat by channel and intent, wait for the first reply, follow up,
act on the intent (escalate, file a return, check tracking), close with a satisfaction score.

The time from opening a chat to its first reply (bot or human) is reported to Locust as the
pseudo-request ``CS first response``, so it is measured and merged like any endpoint.
"""

from __future__ import annotations

import random
import time
import uuid

import gevent
from locust import FastHttpUser, task

from journeys.api import Api, body
from journeys.common import CS_MIX, TEST_PREFIX, TEST_TRAFFIC_HEADERS, think_time, weight_of, weighted_choice
from journeys.shopping import Shopper
from peakdrill import ack, ack_failed

FIRST_REPLY_DEADLINE_S = 60.0
POLL_INTERVAL_S = 1.0
RETURN_REASONS = ("damaged", "wrong size", "not as described", "changed my mind")


class CustomerServiceUser(FastHttpUser):
    weight = weight_of("customer_service", 3)
    wait_time = think_time()
    default_headers = TEST_TRAFFIC_HEADERS

    def on_start(self) -> None:
        self.rng = random.Random()
        self.customer_id = f"{TEST_PREFIX}{uuid.uuid4().hex[:12]}"
        self.api = Api(self)
        # Customers who contact service about an order have one: this user places its own when it needs one.
        self.shopper = Shopper(self.api, self.rng, self.customer_id)

    @task
    def contact_service(self) -> None:
        opened_at = time.time()
        intent = weighted_choice(self.rng, CS_MIX.intents)
        opening = {"channel": weighted_choice(self.rng, CS_MIX.channels), "intent": intent, "customer_id": self.customer_id}
        with self.api.call("open_chat", json=opening) as resp:
            chat = body(resp) if resp.status_code in (200, 201) else {}
            if "chat_id" not in chat:
                resp.failure(f"chat not opened: HTTP {resp.status_code}")
                return
        chat_id = chat["chat_id"]
        ack("chat", chat_id)
        if chat.get("first_reply") is None and not self._wait_for_first_reply(chat_id, opened_at):
            return
        self._report_first_response(opened_at, None)
        with self.api.call("chat_message", id=chat_id, json={"text": "Thanks, one more question."}) as resp:
            if resp.status_code not in (200, 201):
                resp.failure(f"follow-up in chat {chat_id}: HTTP {resp.status_code}")
        self._act_on(intent, chat_id)
        with self.api.call("close_chat", id=chat_id, json={"satisfaction": self.rng.randint(1, 5)}) as resp:
            if resp.status_code != 200:
                resp.failure(f"closing chat {chat_id}: HTTP {resp.status_code}")

    def _act_on(self, intent: str, chat_id: int) -> None:
        if intent in ("order_issue", "payment_dispute"):
            self._escalate(chat_id)
        elif intent == "logistics":
            order_id = self.shopper.last_order_id or self.shopper.buy()
            if order_id is not None:
                self.shopper.tracking(order_id)
        elif intent == "after_sales":
            self._file_return()
        else:  # pre-sales: the customer looks at what they asked about
            self.shopper.view_product()

    def _escalate(self, chat_id: int) -> None:
        if not self.api.has("escalate_chat"):
            return
        with self.api.call("escalate_chat", id=chat_id) as resp:
            if resp.status_code not in (200, 201, 202) or body(resp).get("status") != "queued":
                resp.failure(f"escalating chat {chat_id}: HTTP {resp.status_code}")

    def _file_return(self) -> None:
        if not self.api.has("file_return"):
            return
        order_id = self.shopper.last_order_id or self.shopper.buy()
        if order_id is None:
            return
        self.shopper.last_order_id = None  # one return per order; the next after-sales contact buys again
        request = {"order_id": order_id, "reason": self.rng.choice(RETURN_REASONS), "customer_id": self.customer_id}
        key = f"{TEST_PREFIX}return-{uuid.uuid4()}"
        with self.api.call("file_return", json=request, headers={"Idempotency-Key": key}) as resp:
            filed = body(resp)
            if resp.status_code not in (200, 201) or filed.get("status") != "requested":
                resp.failure(f"return of order {order_id}: HTTP {resp.status_code}")
                ack_failed("return", key)
                return
        ack("return", filed.get("return_id", key), ref=key)

    def _wait_for_first_reply(self, chat_id: int, opened_at: float) -> bool:
        """Poll a queued chat until a human answers; report a miss if nobody does in time."""
        while time.time() - opened_at < FIRST_REPLY_DEADLINE_S:
            gevent.sleep(POLL_INTERVAL_S)
            with self.api.call("get_chat", id=chat_id) as resp:
                if resp.status_code != 200:
                    resp.failure(f"chat {chat_id}: HTTP {resp.status_code}")
                    continue
                if body(resp).get("first_response_ms") is not None:
                    return True
        self._report_first_response(opened_at, TimeoutError(f"no reply within {FIRST_REPLY_DEADLINE_S:.0f} s"))
        return False

    def _report_first_response(self, opened_at: float, error: Exception | None) -> None:
        self.environment.events.request.fire(
            request_type="CS", name="first response", response_time=(time.time() - opened_at) * 1000,
            response_length=0, exception=error, context={}, start_time=opened_at,
        )
