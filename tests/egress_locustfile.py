"""A locustfile that tries to escape the allowlist: an absolute URL on an unlisted host, and a path
the target answers with a redirect to another unlisted host, beside an allowed request.

``PEAKDRILL_TEST_CLIENT`` picks the client (``fast``: FastHttpUser, ``requests``: HttpUser);
``PEAKDRILL_TEST_AWAY_URL`` is the unlisted listener the absolute URL names.
"""

import os

from locust import FastHttpUser, HttpUser, constant, task

import peakdrill.loadgen.plugin  # noqa: F401  (the run-directory hooks and the egress guard)

BASE = FastHttpUser if os.environ.get("PEAKDRILL_TEST_CLIENT", "fast") == "fast" else HttpUser
AWAY_URL = os.environ["PEAKDRILL_TEST_AWAY_URL"]


class EscapingUser(BASE):
    wait_time = constant(0.2)

    @task
    def escape(self) -> None:
        self.client.get("/", name="allowed")
        self.client.get(f"{AWAY_URL}/absolute", name="absolute")
        self.client.get("/redirect", name="redirected")
