"""Outbound HTTP calls to the providers (payment gateway, courier, chat bot): every call has a
timeout, a bounded number of retries and a circuit breaker, and is measured.

Retries repeat the identical request, so they are only safe for idempotent calls; the payment
call is, because it carries the charge's idempotency key to the gateway.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import urllib3

from peakdrill.errors import DependencyError
from peakdrill.shop import metrics
from peakdrill.shop.breaker import CircuitBreaker

RETRY_STATUSES = frozenset({500, 502, 503, 504})


@dataclass(frozen=True)
class Policy:
    timeout_s: float
    retries: int  # extra attempts after the first
    backoff_s: float = 0.05  # doubled per retry
    breaker_failures: int = 5
    breaker_reset_s: float = 5.0


class Dependency:
    def __init__(self, name: str, base_url: str, policy: Policy) -> None:
        self.name, self.base_url, self.policy = name, base_url.rstrip("/"), policy
        self.breaker = CircuitBreaker(name, policy.breaker_failures, policy.breaker_reset_s)
        self._pool = urllib3.PoolManager(
            maxsize=16, block=False, retries=False,
            timeout=urllib3.Timeout(connect=min(0.5, policy.timeout_s), read=policy.timeout_s))

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, dict[str, Any]]:
        """(status, JSON body) of the first answer that is not a 5xx; a 4xx is the caller's to
        interpret. Raises DependencyError when every attempt failed or the breaker is open."""
        if not self.breaker.allow():
            metrics.OUTBOUND.labels(self.name, "circuit_open").observe(0)
            raise DependencyError(f"{self.name}: circuit breaker open after repeated failures; not calling "
                                  f"{self.base_url} for up to {self.policy.breaker_reset_s:g}s")
        payload = json.dumps(body).encode() if body is not None else None
        problem = "no attempt"
        for attempt in range(self.policy.retries + 1):
            if attempt:
                time.sleep(self.policy.backoff_s * 2 ** (attempt - 1))
            start = time.perf_counter()
            try:
                response = self._pool.request(method, self.base_url + path, body=payload,
                                              headers={"Content-Type": "application/json"})
            except urllib3.exceptions.TimeoutError as exc:
                result, problem = "timeout", f"timed out after {self.policy.timeout_s:g}s ({exc})"
            except urllib3.exceptions.HTTPError as exc:
                result, problem = "unreachable", f"connection failed ({exc})"
            else:
                if response.status not in RETRY_STATUSES:
                    metrics.OUTBOUND.labels(self.name, "ok").observe(time.perf_counter() - start)
                    self.breaker.success()
                    return response.status, _json(response.data)
                result, problem = "error", f"answered HTTP {response.status}"
            metrics.OUTBOUND.labels(self.name, result).observe(time.perf_counter() - start)
        self.breaker.failure()
        raise DependencyError(f"{self.name} at {self.base_url}: {problem} "
                              f"(after {self.policy.retries + 1} attempt(s))")


def _json(data: bytes) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
