"""The open-model counterpart of target_locustfile.py: a pool of users that start one GET per
arrival slot of the profile's rate (peakdrill.loadgen.openmodel), whatever the target's latency."""

from locust import FastHttpUser, constant, task

import peakdrill.loadgen.plugin  # noqa: F401  (registers the run-directory hooks and option)
from peakdrill.loadgen.openmodel import PACER


class ArrivalGetUser(FastHttpUser):
    wait_time = constant(0)

    @task
    def get_root(self) -> None:
        PACER.acquire()
        self.client.get("/", name="/")
