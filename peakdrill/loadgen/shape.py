"""A Locust ``LoadTestShape`` driven by a peakdrill profile.

Locust runs it in the master: each tick returns the user count and spawn rate of the current
stage, and ``None`` after the last stage, which ends the run by itself. peakdrill hands it the
run's stages already scaled (``PEAKDRILL_STAGES``, see :mod:`peakdrill.run.schedule`); under plain
``locust`` it scales ``PEAKDRILL_PROFILE`` by ``PEAKDRILL_SCALE`` itself. Stage changes are written to the run
directory's timeline when ``PEAKDRILL_RUN_DIR`` is set. An open-model profile's arrival rate goes
to the load processes every tick (see :mod:`peakdrill.loadgen.openmodel`).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import gevent

from locust import LoadTestShape

# Every run peakdrill starts hands Locust this file: its recording hooks come along, so any
# locustfile runs unmodified whether or not it imports the plugin (imported by module name, the
# hooks are installed once either way).
import peakdrill.loadgen.plugin  # noqa: F401

from peakdrill.events import JsonlEventWriter, StageStarted
from peakdrill.loadgen.openmodel import distribute_rate
from peakdrill.run.schedule import STAGES_ENV, START_AT_ENV, stage_at, stages_from_json
from peakdrill.rundir import RunDir
from peakdrill.spec.loader import parse_utc_time
from peakdrill.spec.profile import Stage, load_profile


def profile_from_env():
    path = os.environ.get("PEAKDRILL_PROFILE")
    return load_profile(path) if path else None


class ProfileShape(LoadTestShape):
    def __init__(self) -> None:
        super().__init__()
        if STAGES_ENV in os.environ:
            self.stages: list[Stage] = stages_from_json(os.environ[STAGES_ENV])
        else:
            profile = profile_from_env()
            if profile is None:
                raise RuntimeError("ProfileShape needs PEAKDRILL_PROFILE=<profile.yaml>; use `peakdrill drill` or set it")
            self.stages = profile.scaled_stages(float(os.environ.get("PEAKDRILL_SCALE", "1")))
        self._current: str | None = None
        start_at = os.environ.get(START_AT_ENV)
        self._start_at_ts = parse_utc_time(start_at) if start_at else None
        run_dir = os.environ.get("PEAKDRILL_RUN_DIR")
        self._timeline = JsonlEventWriter(Path(run_dir), RunDir(Path(run_dir)).read_meta()["start_ts"]) if run_dir else None

    def tick(self):
        if self._start_at_ts is not None:
            # Several masters share this instant: hold the first stage (every expected worker has
            # joined by now) and count the stages from it. Only this greenlet waits.
            gevent.sleep(max(0.0, self._start_at_ts - time.time()))
            self._start_at_ts = None
            self.reset_time()
        stage = stage_at(self.stages, self.get_run_time())
        if stage is None:
            return None
        self._enter(stage)
        if stage.arrival_rate is not None:
            distribute_rate(self.runner, stage.arrival_rate)
        return stage.users, stage.spawn_rate

    def _enter(self, stage: Stage) -> None:
        if stage.name != self._current:
            self._current = stage.name
            if self._timeline:
                self._timeline(StageStarted(stage=stage.name, users=stage.users))
