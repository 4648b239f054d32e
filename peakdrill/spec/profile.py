"""Load profiles: peak traffic in real units, run at a scale.

A profile says how many concurrent users each stage holds and how they split between the order
and customer-service journeys. ``--scale`` shrinks user counts and spawn rates; latency targets
never scale.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, PositiveFloat, PositiveInt, model_validator

from peakdrill.spec.loader import Duration, Spec, load_spec

USER_CLASSES = ("order", "customer_service")


class Stage(Spec):
    name: str = Field(min_length=1)
    duration: Duration = Field(gt=0)
    users: PositiveInt
    spawn_rate: PositiveFloat | None = None
    measured: bool = True


class ThinkTime(Spec):
    min: Duration = 1.0
    max: Duration = 3.0

    @model_validator(mode="after")
    def _ordered(self) -> ThinkTime:
        if self.max < self.min:
            raise ValueError(f"think_time.max ({self.max}) is below think_time.min ({self.min})")
        return self


class Profile(Spec):
    name: str = Field(min_length=1)
    description: str = ""
    user_mix: dict[str, PositiveInt] = Field(default_factory=lambda: {"order": 7, "customer_service": 3})
    think_time: ThinkTime = ThinkTime()
    stages: list[Stage] = Field(min_length=1)

    @model_validator(mode="after")
    def _known_classes(self) -> Profile:
        unknown = sorted(set(self.user_mix) - set(USER_CLASSES))
        if unknown:
            raise ValueError(f"user_mix has unknown journey {unknown[0]!r}; the journeys are {', '.join(USER_CLASSES)}")
        return self

    @property
    def duration(self) -> float:
        return sum(stage.duration for stage in self.stages)

    def scaled_stages(self, scale: float) -> list[Stage]:
        """Stages with users and spawn rates multiplied by ``scale`` (never below one user)."""
        scaled = []
        for stage in self.stages:
            users = max(1, round(stage.users * scale))
            spawn = max(1.0, (stage.spawn_rate or stage.users) * scale)
            scaled.append(stage.model_copy(update={"users": users, "spawn_rate": spawn}))
        return scaled


def load_profile(path: Path | str) -> Profile:
    return load_spec(Profile, path)
