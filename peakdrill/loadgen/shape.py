"""A Locust ``LoadTestShape`` driven by a peakdrill profile.

Locust runs it in the master: each tick returns the user count and spawn rate of the current
stage, and ``None`` after the last stage, which ends the run by itself. The profile and scale come
from ``PEAKDRILL_PROFILE`` and ``PEAKDRILL_SCALE``; stage changes are written to the run
directory's timeline when ``PEAKDRILL_RUN_DIR`` is set. An open-model profile's arrival rate goes
to the load processes every tick (see :mod:`peakdrill.loadgen.openmodel`).
"""

from __future__ import annotations

import os
from pathlib import Path

from locust import LoadTestShape

# Every run peakdrill starts hands Locust this file: its recording hooks come along, so any
# locustfile runs unmodified whether or not it imports the plugin (imported by module name, the
# hooks are installed once either way).
import peakdrill.loadgen.plugin  # noqa: F401

from peakdrill.events import JsonlEventWriter, StageStarted
from peakdrill.loadgen.openmodel import distribute_rate
from peakdrill.rundir import RunDir
from peakdrill.spec.profile import Stage, load_profile


def profile_from_env():
    path = os.environ.get("PEAKDRILL_PROFILE")
    return load_profile(path) if path else None


class ProfileShape(LoadTestShape):
    def __init__(self) -> None:
        super().__init__()
        profile = profile_from_env()
        if profile is None:
            raise RuntimeError("ProfileShape needs PEAKDRILL_PROFILE=<profile.yaml>; use `peakdrill drill` or set it")
        self.stages: list[Stage] = profile.scaled_stages(float(os.environ.get("PEAKDRILL_SCALE", "1")))
        self._current: str | None = None
        run_dir = os.environ.get("PEAKDRILL_RUN_DIR")
        self._timeline = JsonlEventWriter(Path(run_dir), RunDir(Path(run_dir)).read_meta()["start_ts"]) if run_dir else None

    def tick(self):
        elapsed = self.get_run_time()
        for stage in self.stages:
            if elapsed < stage.duration:
                self._enter(stage)
                if stage.arrival_rate is not None:
                    distribute_rate(self.runner, stage.arrival_rate)
                return stage.users, stage.spawn_rate
            elapsed -= stage.duration
        return None

    def _enter(self, stage: Stage) -> None:
        if stage.name != self._current:
            self._current = stage.name
            if self._timeline:
                self._timeline(StageStarted(stage=stage.name, users=stage.users))
