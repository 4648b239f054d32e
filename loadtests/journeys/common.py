"""What every journey shares: think time, weights and mixes from the active profile, and the test-traffic tag."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence

from locust import between

from peakdrill.loadgen.shape import profile_from_env
from peakdrill.spec.profile import CsMix

# Lets the target tell load-test traffic apart from real customers (and exclude it from analytics).
TEST_TRAFFIC_HEADERS = {"X-Peakdrill-Test": "1"}
# And in its database: every customer id and idempotency key the journeys send starts with it, so a
# data-integrity reconciler counts only the test's records (docs/integrity.md).
TEST_PREFIX = "lt-"

PROFILE = profile_from_env()
# Without a profile (plain `locust -f`), the peak model's contact mix.
CS_MIX = PROFILE.cs_mix if PROFILE else CsMix()
OPEN_MODEL = PROFILE is not None and PROFILE.model == "open"


def think_time():
    if PROFILE is None:
        return between(1.0, 3.0)
    return between(PROFILE.think_time.min, PROFILE.think_time.max)


def weight_of(journey: str, default: int) -> int:
    return PROFILE.user_mix.get(journey, 0) if PROFILE else default


def weighted_choice(rng: random.Random, mix: Mapping[str, int | float]) -> str:
    names: Sequence[str] = list(mix)
    return rng.choices(names, weights=[mix[name] for name in names])[0]
