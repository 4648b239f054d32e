"""A locustfile of idle shoppers (long think time, one cheap GET), for measuring connections.

The keep-alive test and benchmark run it twice: once through peakdrill's Locust hooks (which
install the keep-alive fix) and once as plain Locust, to show the difference on the wire.
"""

from __future__ import annotations

from pathlib import Path

TEMPLATE = """\
{hook}
from locust import FastHttpUser, between, task


class Idle(FastHttpUser):
    # A low rate per user, as in a peak with think time: what is measured is connections, not load.
    wait_time = between({think_min}, {think_max})

    @task
    def home(self):
        self.client.get("/")
"""
PEAKDRILL_HOOK = "import peakdrill.loadgen.plugin  # noqa: F401"


def write_idle_locustfile(directory: Path, with_hook: bool, think_s: tuple[float, float] = (5, 10)) -> Path:
    path = directory / ("hooked.py" if with_hook else "bare.py")
    path.write_text(TEMPLATE.format(hook=PEAKDRILL_HOOK if with_hook else "", think_min=think_s[0], think_max=think_s[1]))
    return path
