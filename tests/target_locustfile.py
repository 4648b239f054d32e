"""A Locust file for the test targets: one GET loop at a fixed pace, with peakdrill's hooks.

With ``PEAKDRILL_TEST_RAW_DIR`` set, every load process also writes each request's raw response
time and start time to ``raw-<pid>.txt`` there, so a test can build a single-histogram reference
from the very samples the run recorded.

With ``PEAKDRILL_TEST_DELAY_WORKER=<index>`` and ``PEAKDRILL_TEST_DELAY_S``, that worker holds back
each batch of its measurements for that long before it ships them with a report (everything still
held ships at the stop), so they reach the master late, as from a stalled or badly connected worker.
"""

import itertools
import os
import time

import gevent
from locust import FastHttpUser, task

import peakdrill.loadgen.plugin  # noqa: F401  (registers the run-directory hooks and option)
from locust import events
from peakdrill.loadgen.plugin import Collector

PACING_S = float(os.environ.get("PEAKDRILL_TEST_PACING_S", "1.0"))
RAW_DIR = os.environ.get("PEAKDRILL_TEST_RAW_DIR")
DELAYED_WORKER = os.environ.get("PEAKDRILL_TEST_DELAY_WORKER")
DELAY_S = float(os.environ.get("PEAKDRILL_TEST_DELAY_S", "0"))
GOLDEN = (5 ** 0.5 - 1) / 2
_started = itertools.count()


if RAW_DIR:
    @events.request.add_listener
    def _write_raw_sample(request_type, name, response_time, exception=None, start_time=None, **_):
        # Opened per call: workers are forked after import, and each must write its own file.
        with open(os.path.join(RAW_DIR, f"raw-{os.getpid()}.txt"), "a", encoding="utf-8") as out:
            out.write(f"{request_type} {name}\t{response_time!r}\t{int(exception is not None)}\t{start_time!r}\n")


if DELAYED_WORKER is not None:
    _drain = Collector.drain
    _held: list[tuple[float, list[dict]]] = []

    def _drain_late(self, everything: bool = False):
        histograms, health = _drain(self, everything)
        if not self.source.startswith(f"worker-{DELAYED_WORKER}-"):
            return histograms, health
        _held.append((time.time() + DELAY_S, histograms))
        due = [batch for release, batch in _held if everything or release <= time.time()]
        _held[:] = [(release, batch) for release, batch in _held if not (everything or release <= time.time())]
        return [record for batch in due for record in batch], health

    Collector.drain = _drain_late


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
