"""Steer the journeys by a replayed endpoint mix: the task weights that give each task's defining
request the share, relative to the other tasks', that it had in last peak's traffic.

Each order-journey task sends exactly one request of its kind (a product page sends one product
read), so weighting a task by its request's share reproduces that request's share among the
tasks. A request the traffic never had gets weight 0: its task does not run.
"""

from __future__ import annotations

from collections.abc import Mapping

WEIGHT_RESOLUTION = 1000  # Locust weights are whole numbers: shares are kept to 0.1% of the total


def replayed_weights(defaults: Mapping[str, int], defining: Mapping[str, str | None],
                     mix: Mapping[str, float]) -> dict[str, int]:
    """``defining``: task -> the request name it sends once ("GET /api/products/[id]"), or None when
    the target has no such request. ``defaults`` is kept when the mix names none of them (a
    profile written by hand, or traffic from a shop with other paths)."""
    shares = {task: mix.get(name, 0.0) if name else 0.0 for task, name in defining.items()}
    total = sum(shares.values())
    if total <= 0:
        return dict(defaults)
    weights = {task: round(WEIGHT_RESOLUTION * share / total) for task, share in shares.items()}
    # A share under 0.05% rounds to 0 weight; keep such a task alive at the smallest weight.
    return {task: max(weight, 1) if shares[task] > 0 else 0 for task, weight in weights.items()}
