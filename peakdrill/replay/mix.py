"""Steer the order journey by a replayed endpoint mix: task weights under which the requests the
tasks send come in the shares they had in last peak's traffic.

Each task has one request that defines it (a product page: the product read), and may also send
other tasks' defining requests (buying starts with a product page). A task's weight is its
request's share less what the other tasks already send of it, so that, summed over all tasks,
each defining request gets the share it had. A request the traffic never had gives weight 0: its
task does not run.
"""

from __future__ import annotations

from collections.abc import Mapping

WEIGHT_RESOLUTION = 1000  # Locust weights are whole numbers: shares are kept to 0.1% of the total


def replayed_weights(defaults: Mapping[str, int], defining: Mapping[str, str], also_sends: Mapping[str, tuple[str, ...]],
                     mix: Mapping[str, float]) -> dict[str, int]:
    """``defining``: task -> the request name it sends once per run ("GET /api/products/[id]");
    ``also_sends``: task -> other defining requests it sends once per run. ``defaults`` is kept when
    the mix names none of the defining requests (a profile written by hand, or another shop's paths)."""
    shares = {task: mix.get(name, 0.0) for task, name in defining.items()}
    if sum(shares.values()) <= 0:
        return dict(defaults)
    weights = dict.fromkeys(defining, 0.0)
    for _ in defining:  # one pass per task settles any chain of "also sends"
        for task, name in defining.items():
            sent_by_others = sum(weights[other] for other, names in also_sends.items() if other != task and name in names)
            weights[task] = max(0.0, shares[task] - sent_by_others)
    total = sum(weights.values())
    # A task with a share too small to show at this resolution keeps the smallest weight, not none.
    return {task: max(1, round(WEIGHT_RESOLUTION * weight / total)) if weight > 0 else 0 for task, weight in weights.items()}
