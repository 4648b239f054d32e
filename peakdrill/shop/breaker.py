"""A circuit breaker per dependency and worker, its state exported as a Prometheus gauge.

closed: calls go through; ``failures`` consecutive failures open it. open: calls are refused at
once for ``reset_s`` (no waiting on a dead dependency, no pile-up). half-open: one probe call is
let through; its success closes the breaker, its failure opens it again.
"""

from __future__ import annotations

import threading
import time

from peakdrill.shop import metrics

STATES = {"closed": 0, "half_open": 1, "open": 2}


class CircuitBreaker:
    def __init__(self, name: str, failures: int = 5, reset_s: float = 5.0) -> None:
        self.name, self.failures, self.reset_s = name, failures, reset_s
        self._lock = threading.Lock()
        self._count = 0
        self._opened_at: float | None = None
        self._probing = False
        self._publish("closed")

    def _publish(self, state: str) -> None:
        self.state = state
        metrics.BREAKER_STATE.labels(self.name).set(STATES[state])

    def allow(self) -> bool:
        """May a call go out now? In half-open only the first caller (the probe) may."""
        if self._opened_at is None:  # the common case on every call: no lock needed to read it
            return True
        with self._lock:
            if self._opened_at is None:
                return True
            if self._probing or time.monotonic() - self._opened_at < self.reset_s:
                return False
            self._probing = True
            self._publish("half_open")
            return True

    def success(self) -> None:
        if self._opened_at is None and self._count == 0:  # already closed and clean
            return
        with self._lock:
            self._count, self._opened_at, self._probing = 0, None, False
            if self.state != "closed":
                self._publish("closed")

    def failure(self) -> None:
        with self._lock:
            self._count += 1
            if self._probing or self._count >= self.failures:
                self._opened_at, self._probing = time.monotonic(), False
                if self.state != "open":
                    self._publish("open")
