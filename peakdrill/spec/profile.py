"""Load profiles: peak traffic in real units, run at a scale.

A profile says how many concurrent users each stage holds, how they split between the order and
customer-service journeys, what customers contact service about and through which channel, and
the orders the peak is forecast to bring. ``model: open`` adds an arrival rate (requests per
second) to every stage: the users become a pool that serves that rate instead of the load itself.
``--scale`` shrinks users, spawn rates and arrival rates; latency targets never scale.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from peakdrill.errors import SpecError, quote
from peakdrill.spec.limits import MAX_RATE, MAX_USERS
from peakdrill.spec.loader import Duration, Spec, load_spec, validate

USER_CLASSES = ("order", "customer_service")
# The contact mix of the peak model (DESIGN.md).
INTENTS = {"order_issue": 30, "logistics": 15, "after_sales": 5, "payment_dispute": 5, "pre_sales": 45}
CHANNELS = {"chat": 60, "phone": 25, "social": 10, "app": 4, "store": 1}
Share = Annotated[float, Field(ge=0, le=1e9)]  # a weight; bounded so that a sum of them stays finite
MAX_ORDERS_PER_DAY = 1e12
MAX_STAGES = 100_000  # a day of 1 s replay buckets is 86,400
MAX_GROWTH = 1_000.0


def _shares(value: dict[str, float], known: dict[str, float], what: str) -> dict[str, float]:
    unknown = sorted(set(value) - set(known))
    if unknown:
        raise ValueError(f"unknown {what} {quote(unknown[0], 40)}; the {what}s are {', '.join(known)}")
    if not any(value.values()):
        raise ValueError(f"at least one {what} needs a share above 0")
    return value


class Stage(Spec):
    name: str = Field(min_length=1)
    duration: Duration = Field(gt=0)
    users: int = Field(gt=0, le=MAX_USERS)
    spawn_rate: float | None = Field(default=None, gt=0, le=MAX_RATE)
    measured: bool = True
    # Requests per second to start, whatever the users' pace (open model only).
    arrival_rate: float | None = Field(default=None, ge=0, le=MAX_RATE)


class ThinkTime(Spec):
    min: Duration = 1.0
    max: Duration = 3.0

    @model_validator(mode="after")
    def _ordered(self) -> ThinkTime:
        if self.max < self.min:
            raise ValueError(f"think_time.max ({self.max}) is below think_time.min ({self.min})")
        return self

    @property
    def mean(self) -> float:
        return (self.min + self.max) / 2  # Locust's between() draws uniformly


class CsMix(Spec):
    """Shares (any positive numbers; they are weights) of contact intents and channels."""

    intents: dict[str, Share] = Field(default_factory=lambda: dict(INTENTS))
    channels: dict[str, Share] = Field(default_factory=lambda: dict(CHANNELS))

    @field_validator("intents")
    @classmethod
    def _intents(cls, value: dict[str, float]) -> dict[str, float]:
        return _shares(value, INTENTS, "intent")

    @field_validator("channels")
    @classmethod
    def _channels(cls, value: dict[str, float]) -> dict[str, float]:
        return _shares(value, CHANNELS, "channel")


SECONDS_PER_DAY = 86_400


class Forecast(Spec):
    """The peak the profile stands for, in orders per day (DESIGN.md: 150k forecast, 100k today)."""

    peak_orders_per_day: float = Field(gt=0, le=MAX_ORDERS_PER_DAY)
    capacity_orders_per_day: float | None = Field(default=None, gt=0, le=MAX_ORDERS_PER_DAY)
    growth: float = Field(default=1.0, gt=0, le=MAX_GROWTH)
    headroom_target: float = Field(default=0.30, ge=0, le=10)
    # Orders do not arrive evenly over a sales day: the busiest minute runs at this multiple of
    # the day's average rate. Capacity is judged against that minute, not against the average.
    peak_factor: float = Field(default=1.0, ge=1)

    @property
    def required_orders_per_day(self) -> float:
        """What the system must hold to meet the headroom target on top of the forecast peak."""
        return self.peak_orders_per_day * (1 + self.headroom_target)

    @property
    def peak_orders_per_s(self) -> float:
        """The forecast's busiest-minute order rate, per second."""
        return self.peak_orders_per_day / SECONDS_PER_DAY * self.peak_factor


class Replay(Spec):
    """Where a replayed profile came from (written by ``peakdrill profile from-log|from-csv``)."""

    source: str
    unit: Literal["requests", "orders"] = "requests"
    growth: float = Field(default=1.0, gt=0, le=MAX_GROWTH)
    bucket: Duration = Field(default=60.0, gt=0)
    counted: int = Field(ge=0, le=2**63 - 1)
    # Share of each endpoint ("GET /api/products/[id]") in the replayed requests.
    endpoint_mix: dict[str, Annotated[float, Field(ge=0, le=1)]] = Field(default_factory=dict)

    @field_validator("endpoint_mix")
    @classmethod
    def _sums_to_one(cls, value: dict[str, float]) -> dict[str, float]:
        if value and abs(sum(value.values()) - 1) > 0.01:
            raise ValueError(f"endpoint shares add up to {sum(value.values()):.3f}, not 1")
        return value


class Profile(Spec):
    name: str = Field(min_length=1)
    description: str = ""
    model: Literal["closed", "open"] = "closed"
    peak_concurrent_users: int | None = Field(default=None, gt=0, le=MAX_USERS)
    user_mix: dict[str, Annotated[int, Field(gt=0, le=1_000_000)]] = Field(default_factory=lambda: {"order": 7, "customer_service": 3})
    think_time: ThinkTime = ThinkTime()
    cs_mix: CsMix = CsMix()
    forecast: Forecast | None = None
    replay: Replay | None = None
    stages: list[Stage] = Field(min_length=1, max_length=MAX_STAGES)

    @model_validator(mode="after")
    def _known_classes(self) -> Profile:
        unknown = sorted(set(self.user_mix) - set(USER_CLASSES))
        if unknown:
            raise ValueError(f"user_mix has unknown journey {quote(unknown[0], 40)}; the journeys are {', '.join(USER_CLASSES)}")
        return self

    @property
    def duration(self) -> float:
        return sum(stage.duration for stage in self.stages)

    @property
    def peak_users(self) -> int:
        return max(stage.users for stage in self.stages)

    def scaled_stages(self, scale: float, path: str = "the profile") -> list[Stage]:
        """Stages with users, spawn and arrival rates multiplied by ``scale`` (never below one user)."""
        if self.peak_users * scale > MAX_USERS:
            raise SpecError(path, "stages", f"{self.peak_users:,} users at scale {scale:g} is above the {MAX_USERS:,} "
                            "users one run may have", "lower --scale (or load.scale)")
        scaled = []
        for stage in self.stages:
            users = max(1, round(stage.users * scale))
            spawn = max(1.0, (stage.spawn_rate or stage.users) * scale)
            rate = None if stage.arrival_rate is None else stage.arrival_rate * scale
            scaled.append(stage.model_copy(update={"users": users, "spawn_rate": spawn, "arrival_rate": rate}))
        return scaled


def check_consistency(profile: Profile, path: str) -> None:
    """Rules that span fields, reported at the exact field that breaks them."""
    for index, stage in enumerate(profile.stages):
        if profile.model == "open" and stage.arrival_rate is None:
            raise SpecError(path, f"stages.{index}.arrival_rate", "an open-model profile needs an arrival rate in every stage",
                            "add arrival_rate: <requests per second>, or set model: closed")
        if profile.model == "closed" and stage.arrival_rate is not None:
            raise SpecError(path, f"stages.{index}.arrival_rate", "arrival_rate only applies to model: open",
                            "set model: open, or remove it")
        if profile.peak_concurrent_users and stage.users > profile.peak_concurrent_users:
            raise SpecError(path, f"stages.{index}.users", f"{stage.users} users is above peak_concurrent_users "
                            f"({profile.peak_concurrent_users})", "lower it, or raise peak_concurrent_users")


def load_profile(path: Path | str) -> Profile:
    profile = load_spec(Profile, path)
    check_consistency(profile, str(path))
    return profile


def profile_from_dict(data: dict, path: Path | str) -> Profile:
    """Validate a profile built in memory (by replay) with the same rules as one read from disk."""
    profile = validate(Profile, data, Path(path))
    check_consistency(profile, str(path))
    return profile

