"""A Locust file for the test targets: one GET loop at a fixed pace, with peakdrill's hooks.

With ``PEAKDRILL_TEST_RAW_DIR`` set, every load process also writes each request's raw response
time to ``raw-<pid>.txt`` there, so a test can build a single-histogram reference from the very
samples the run recorded.
"""

import itertools
import os
import time

import gevent
from locust import FastHttpUser, task

import peakdrill.loadgen.plugin  # noqa: F401  (registers the run-directory hooks and option)
from locust import events

PACING_S = float(os.environ.get("PEAKDRILL_TEST_PACING_S", "1.0"))
RAW_DIR = os.environ.get("PEAKDRILL_TEST_RAW_DIR")
GOLDEN = (5 ** 0.5 - 1) / 2
_started = itertools.count()


if RAW_DIR:
    @events.request.add_listener
    def _write_raw_sample(request_type, name, response_time, exception=None, **_):
        # Opened per call: workers are forked after import, and each must write its own file.
        with open(os.path.join(RAW_DIR, f"raw-{os.getpid()}.txt"), "a", encoding="utf-8") as out:
            out.write(f"{request_type} {name}\t{response_time!r}\t{int(exception is not None)}\n")


class PacedGetUser(FastHttpUser):
    """One request per PACING_S on a fixed schedule (Locust's constant_pacing would re-align the phases)."""

    def on_start(self) -> None:
        # Locust starts a whole batch of users at once; left in step, they would hit the target in
        # bursts that queue far below its capacity. Phases from a low-discrepancy sequence stay evenly
        # spread over the period however many users there are, so the target sees a smooth stream.
        self._due = time.time() + next(_started) * GOLDEN % 1 * PACING_S
        gevent.sleep(max(0.0, self._due - time.time()))

    def wait_time(self) -> float:
        self._due += PACING_S
        return max(0.0, self._due - time.time())

    @task
    def get_root(self) -> None:
        self.client.get("/", name="/")
