"""The Locust ``LoadTestShape`` of a capacity search: the profile's journeys, stepped-up user counts.

It is the profile shape (same timeline events, same journeys, think time and mix) with the
profile's stages replaced by the search's steps, which ``peakdrill capacity`` hands over, already
scaled, in ``PEAKDRILL_CAPACITY_STAGES`` (a JSON list of stages).
"""

from __future__ import annotations

import json
import os

# Imported as a module: a shape class in this module's namespace would be a second shape to Locust.
import peakdrill.loadgen.shape as profile_shape
from peakdrill.load import STAGES_ENV
from peakdrill.spec.profile import Stage


class CapacityShape(profile_shape.ProfileShape):
    def __init__(self) -> None:
        super().__init__()
        if STAGES_ENV not in os.environ:
            raise RuntimeError(f"CapacityShape needs {STAGES_ENV}; use `peakdrill capacity`")
        self.stages = [Stage.model_validate(stage) for stage in json.loads(os.environ[STAGES_ENV])]
