"""What one Locust worker process sustains on one machine: the result of ``peakdrill calibrate``.

``peakdrill plan`` reads it (or :data:`CONSERVATIVE`, when there is no calibration of the machines
the load will run on). The two figures the sizing stands on are *requests per CPU-second* (how much
work one core of load generator does, whatever the think time) and *memory per user* (the slope of
the process's RSS against its user count, so the interpreter's own baseline is not spread over the
users).
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import Field, NonNegativeFloat, NonNegativeInt, PositiveFloat

from peakdrill.spec.loader import Spec, load_spec

FORMAT = 1
SATURATION_CPU_PERCENT = 90.0  # where Locust itself warns that its figures stop being trustworthy


class Sample(Spec):
    """One second of the calibration run, as the load process saw it."""

    t: float
    users: NonNegativeInt
    rps: NonNegativeFloat
    cpu_percent: NonNegativeFloat
    rss_bytes: NonNegativeInt


class Saturation(Spec):
    users: NonNegativeInt
    rps: NonNegativeFloat
    cpu_percent: NonNegativeFloat


class Calibration(Spec):
    format: int = FORMAT
    source: str = Field(description="'measured' or 'built-in conservative defaults'")
    machine: dict[str, str | int] = Field(default_factory=dict)
    target: str = ""
    think_time_s: tuple[NonNegativeFloat, NonNegativeFloat] = (1.0, 1.0)
    users_reached: NonNegativeInt = 0
    peak_rps: NonNegativeFloat = 0.0
    peak_cpu_percent: NonNegativeFloat = 0.0
    saturation: Saturation | None = None
    requests_per_cpu_second: PositiveFloat
    memory_per_user_bytes: PositiveFloat
    base_rss_bytes: NonNegativeInt
    fd_limit: tuple[int, int] | None = None
    samples: list[Sample] = Field(default_factory=list)

    @property
    def mean_think_time_s(self) -> float:
        return sum(self.think_time_s) / 2


# Stated, not measured: well below what this project measured for a FastHttpUser GET loop on one
# core (see docs/scaling.md), because real journeys do more work per request than a GET loop.
CONSERVATIVE = Calibration(
    source="built-in conservative defaults",
    requests_per_cpu_second=800.0,
    memory_per_user_bytes=64 * 1024,
    base_rss_bytes=150 * 1024 * 1024,
)


def load_calibration(path: Path | str) -> Calibration:
    return load_spec(Calibration, path)


def save_calibration(calibration: Calibration, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(calibration.model_dump(mode="json"), indent=2) + "\n", encoding="utf-8")
