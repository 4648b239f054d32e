"""The load of ``peakdrill calibrate`` and of the harness benchmark: one GET, a think time, our hooks.

It goes through the same hooks as the real journeys (keep-alive fix, per-second histograms,
generator health), so what it measures is what a peakdrill worker costs. The path and think time
come from ``PEAKDRILL_CALIBRATE_PATH`` and ``PEAKDRILL_CALIBRATE_THINK`` (``min,max`` seconds).
"""

import os

from locust import FastHttpUser, between, task

import peakdrill.loadgen.plugin  # noqa: F401  (keep-alive fix, histograms, generator health)

PATH = os.environ.get("PEAKDRILL_CALIBRATE_PATH", "/")
THINK_MIN, THINK_MAX = (float(part) for part in os.environ.get("PEAKDRILL_CALIBRATE_THINK", "1,1").split(","))


class CalibrationUser(FastHttpUser):
    wait_time = between(THINK_MIN, THINK_MAX)
    # The same test-traffic tag as the journeys (loadtests/journeys/common.py): a real target must
    # be able to leave calibration traffic out of its analytics. Set once on the client, not per call.
    default_headers = {"X-Peakdrill-Test": "1"}

    @task
    def get(self):
        self.client.get(PATH)
