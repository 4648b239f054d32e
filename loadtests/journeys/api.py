"""The target as the journeys see it: logical operations, reached through the target's endpoint map.

The map comes from ``PEAKDRILL_ENDPOINTS`` (a target configuration such as
``loadtests/targets/reference-shop.yaml``), else the reference shop's. A ``429`` answer is load
shedding done right: it is reported under the endpoint's name plus :data:`SHED_SUFFIX` (so the
report sees shed requests apart from admitted ones, and neither as a failure), the user honours
``Retry-After`` and its journey step ends there.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import gevent
from locust import FastHttpUser
from locust.contrib.fasthttp import ResponseContextManager
from locust.exception import RescheduleTask

from journeys.common import OPEN_MODEL
from peakdrill.loadgen.openmodel import PACER
from peakdrill.spec.endpoints import ENDPOINTS_ENV, load_endpoint_map

DEFAULT_MAP = Path(__file__).resolve().parents[1] / "targets" / "reference-shop.yaml"
ENDPOINTS = load_endpoint_map(os.environ.get(ENDPOINTS_ENV) or DEFAULT_MAP)
SHED_SUFFIX = "(shed 429)"
# A server may ask for minutes; a load test honours it only up to here, so a run still ends on time.
MAX_RETRY_AFTER_S = 10.0


def body(resp: ResponseContextManager) -> dict:
    """The JSON object of an answer, or {} when there is none (an HTML error page, an empty body)."""
    try:
        data = resp.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _retry_after(resp: ResponseContextManager) -> float:
    try:
        return min(max(float(resp.headers.get("Retry-After", 1)), 0.0), MAX_RETRY_AFTER_S)
    except ValueError:  # an HTTP date: not worth parsing for a bounded pause
        return 1.0


class Api:
    def __init__(self, user: FastHttpUser) -> None:
        self.client = user.client

    def has(self, operation: str) -> bool:
        return ENDPOINTS.has(operation)

    @contextmanager
    def call(self, operation: str, *, json: dict | None = None, headers: dict | None = None,
             **placeholders: object) -> Iterator[ResponseContextManager]:
        endpoint = ENDPOINTS.endpoints[operation]
        if OPEN_MODEL:
            PACER.acquire()
        with self.client.request(endpoint.method, endpoint.url(**placeholders), name=endpoint.name, json=json,
                                 headers=headers, catch_response=True) as resp:
            if resp.status_code != 429:
                yield resp
                return
            resp.request_meta["name"] = f"{endpoint.name} {SHED_SUFFIX}"
            resp.success()
        gevent.sleep(_retry_after(resp))
        raise RescheduleTask()
