"""The largest figures peakdrill acts on: above them a value is a typo or an attack, not a plan.

Each is far above any real use (the project's own target is 1M users) and far below what would
make peakdrill hang, exhaust memory or overflow a timer. Every spec field and command-line option
holding one of these quantities is checked against its limit before anything runs.
"""

from __future__ import annotations

MAX_DURATION_S = 30 * 86_400  # a month: any stage, step, think time or drill
MAX_USERS = 100_000_000  # concurrent users of one run (100x the 1M target)
MAX_RATE = 10_000_000.0  # requests (or users spawned) per second
MAX_SCALE = 1_000.0  # --scale multiplies a profile's users and rates
MAX_LOCAL_WORKERS = 256  # Locust worker processes started on this machine
MAX_REMOTE_WORKERS = 100_000  # workers a master waits for
