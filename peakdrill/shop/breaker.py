"""A circuit breaker per dependency and worker, its state exported as a Prometheus gauge.

closed: calls go through; ``failures`` consecutive failures, each within ``window_s`` of the one
before, open it (an old failure is forgotten, so a breaker primed by an earlier fault does not trip
on one slow call much later). open: calls are refused at once for ``reset_s`` (no waiting on a dead
dependency, no pile-up). half-open: one probe call is let through; its success closes the breaker,
its failure opens it again, and a probe that never reached the dependency (a request refused by
validation, say) gives the turn to the next caller with ``release``.
"""

from __future__ import annotations

import threading
import time

from peakdrill.shop import metrics

STATES = {"closed": 0, "half_open": 1, "open": 2}


class CircuitBreaker:
    def __init__(self, name: str, failures: int = 5, reset_s: float = 5.0, window_s: float = 30.0) -> None:
        self.name, self.failures, self.reset_s, self.window_s = name, failures, reset_s, window_s
        self._lock = threading.Lock()
        self._count = 0
        self._last_failure_at = 0.0
        self._opened_at: float | None = None
        self._probing = False
        self._probe_thread: int | None = None  # only the thread that took the probe may release it
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
            self._probing, self._probe_thread = True, threading.get_ident()
            self._publish("half_open")
            return True

    def success(self) -> None:
        if self._opened_at is None and self._count == 0:  # already closed and clean
            return
        with self._lock:
            self._count, self._opened_at, self._probing = 0, None, False
            if self.state != "closed":
                self._publish("closed")

    def release(self) -> None:
        """End this thread's probe if it gave no verdict: the breaker stays open and the next
        caller probes. A no-op for a thread that holds no probe."""
        if not self._probing:
            return
        with self._lock:
            if self._probing and self._probe_thread == threading.get_ident():
                self._probing = False
                self._publish("open")

    def failure(self) -> None:
        with self._lock:
            now = time.monotonic()
            if now - self._last_failure_at > self.window_s:
                self._count = 0
            self._count += 1
            self._last_failure_at = now
            if self._probing or self._count >= self.failures:
                self._opened_at, self._probing = now, False
                if self.state != "open":
                    self._publish("open")
