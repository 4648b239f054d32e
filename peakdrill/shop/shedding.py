"""Load shedding: a bounded number of requests per worker, the rest refused with 429 at once.

gunicorn's gthread worker accepts connections and queues their requests for its thread pool
without limit, so under overload requests wait ever longer and then time out. This worker class
counts the requests accepted but not finished (queued + running) in ``PENDING``; the app refuses
new work with 429 + Retry-After when the count passes its limit, which costs microseconds, so
the queue drains instead of growing.
"""

from __future__ import annotations

import threading

from gunicorn.workers.gthread import ThreadWorker


class _Counter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.value = 0

    def add(self, n: int) -> None:
        with self._lock:
            self.value += n


PENDING = _Counter()


class SheddingThreadWorker(ThreadWorker):
    def enqueue_req(self, conn) -> None:
        PENDING.add(1)
        super().enqueue_req(conn)

    def handle(self, conn):
        try:
            return super().handle(conn)
        finally:
            PENDING.add(-1)


def saturated(limit: int) -> bool:
    """True when this worker holds more than ``limit`` requests, the current one included."""
    return PENDING.value > limit
