"""The open model: requests start at the profile's arrival rate, not at the users' own pace.

Locust is a closed model (each user waits for its answer, thinks, then sends the next request),
so a slow target quietly lowers the load it is measured under. With ``model: open`` every request
of the journeys first takes the next arrival slot of its process's :data:`PACER`; the users are only
the pool that serves those arrivals. If no user is free when a slot comes due, the slot is kept
for at most :data:`MAX_BACKLOG_S` and then counted as missed: the achieved rate falls below the
intended one, and ``generator.jsonl`` shows it every second, so the report can refuse to trust
the run.

The rate reaches the pacers from the profile shape in the master: directly in a local run, as a
Locust message split evenly over the workers in a distributed one.
"""

from __future__ import annotations

import time

import gevent
import gevent.lock
from locust import events
from locust.env import Environment
from locust.runners import LocalRunner, MasterRunner, WorkerRunner

RATE_MESSAGE = "peakdrill_arrival_rate"
MAX_BACKLOG_S = 1.0
IDLE_POLL_S = 0.2


class ArrivalPacer:
    """Hands out request start times at the intended rate to all users of one load process.

    One per process on purpose: an arrival process is shared by the users it feeds.
    """

    def __init__(self) -> None:
        self.rate: float | None = None  # requests/s for this process; None until the shape says
        self._next_slot = 0.0
        self._started = 0
        self._sampled_at = time.time()
        # One claim outstanding at a time: idle users claiming slots ahead would keep the old rate's
        # spacing after a change (lagging a step up for pool / rate seconds, or bursting if reset).
        self._claim = gevent.lock.Semaphore()

    def set_rate(self, rate: float) -> None:
        if rate != self.rate:
            self.rate = rate
            self._next_slot = time.time()

    def acquire(self) -> None:
        """Wait for this request's arrival slot."""
        with self._claim:
            while not self.rate:  # not told yet, or a stage with no arrivals
                gevent.sleep(IDLE_POLL_S)
            now = time.time()
            slot = max(self._next_slot, now - MAX_BACKLOG_S)
            self._next_slot = slot + 1.0 / self.rate
            if slot > now:
                gevent.sleep(slot - now)
        self._started += 1

    def sample(self) -> dict:
        """Intended and achieved requests/s since the last sample ({} when the open model is off)."""
        now = time.time()
        elapsed, started = now - self._sampled_at, self._started
        self._sampled_at, self._started = now, 0
        if self.rate is None or elapsed <= 0:
            return {}
        return {"intended_rps": round(self.rate, 3), "achieved_rps": round(started / elapsed, 3)}


PACER = ArrivalPacer()


def distribute_rate(runner, rate: float) -> None:
    """Called by the profile shape (in the master) every tick: give each load process its share."""
    if isinstance(runner, MasterRunner):
        workers = max(1, runner.worker_count)
        runner.send_message(RATE_MESSAGE, rate / workers)
    elif isinstance(runner, LocalRunner):
        PACER.set_rate(rate)


@events.init.add_listener
def _listen_for_rate(environment: Environment, **_) -> None:
    if isinstance(environment.runner, WorkerRunner):
        environment.runner.register_message(RATE_MESSAGE, lambda msg, **__: PACER.set_rate(float(msg.data)))
