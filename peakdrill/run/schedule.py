"""The stage schedule of a run: computed once by the runner, shipped to Locust already scaled.

The runner hands its plan's stages (a profile scaled, a capacity search's steps, a shard's share)
to the shape inside Locust as JSON in ``PEAKDRILL_STAGES``; the shape plays them as given. "Which
stage is at t" is :func:`stage_at`, for the shape and the live lines alike. Imported inside Locust:
keep it free of anything heavier than the profile model.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

from peakdrill.spec.profile import Stage

STAGES_ENV = "PEAKDRILL_STAGES"
# The common start of several masters (``--start-at``): the shape holds its first stage until then.
START_AT_ENV = "PEAKDRILL_START_AT"


def stage_at(stages: tuple[Stage, ...] | list[Stage], load_elapsed: float) -> Stage | None:
    """The stage playing ``load_elapsed`` seconds after the load started; None once all have played."""
    for stage in stages:
        if load_elapsed < stage.duration:
            return stage
        load_elapsed -= stage.duration
    return None


def utc_text(ts: float) -> str:
    """``ts`` as ISO 8601 UTC, to the microsecond (what ``--start-at`` reads)."""
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat()


def stages_json(stages: tuple[Stage, ...] | list[Stage]) -> str:
    return json.dumps([stage.model_dump(mode="json") for stage in stages])


def stages_from_json(text: str) -> list[Stage]:
    return [Stage.model_validate(stage) for stage in json.loads(text)]


def _share(total: float | int | None, index: int, count: int, whole: bool):
    if total is None:
        return None
    if whole:  # users: shards differ by at most one, and add up exactly
        return total // count + (1 if index < total % count else 0)
    return total / count


def shard_stages(stages: tuple[Stage, ...], index: int, count: int) -> tuple[Stage, ...]:
    """Shard ``index`` of ``count``'s part of every stage: 1/count of the users, spawn and arrival rates."""
    if count == 1:
        return stages
    # model_copy: a shard of a small stage may hold 0 users, which a profile file may not.
    return tuple(stage.model_copy(update={"users": _share(stage.users, index, count, True),
                                          "spawn_rate": _share(stage.spawn_rate, index, count, False),
                                          "arrival_rate": _share(stage.arrival_rate, index, count, False)})
                 for stage in stages)
