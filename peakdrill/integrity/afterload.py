"""The runner's hook: after the load has stopped (and its last acknowledgements are written),
wait for the target's asynchronous writes to settle, reconcile, and say what was found."""

from __future__ import annotations

import time
from pathlib import Path

from peakdrill import events
from peakdrill.errors import PeakdrillError
from peakdrill.integrity.config import Integrity
from peakdrill.integrity.reconcile import reconcile
from peakdrill.integrity.reconcilers import Context
from peakdrill.safety import Allowlist


def reconcile_after_load(run_dir: Path, integrity: Integrity, allowed_hosts: tuple[str, ...], target_url: str,
                         since: float, base_dir: Path, bus: events.EventBus) -> None:
    time.sleep(integrity.settle)
    context = Context(Allowlist(allowed_hosts), target_url, since, integrity.timeout, base_dir)
    try:
        document = reconcile(run_dir, integrity, context)
    except PeakdrillError as exc:  # e.g. a damaged acks/ file: no reconciliation, so the integrity rules are INCONCLUSIVE
        print(f"peakdrill: not reconciled: {exc}", flush=True)
        return
    kinds = document["kinds"]
    totals = {name: sum(k.get(name, 0) for k in kinds) for name in ("lost", "duplicated", "phantom")}
    inconclusive = [k for k in kinds if k["status"] != "reconciled"]
    bus.publish(events.Reconciled(kinds=len(kinds), inconclusive=len(inconclusive), **totals))
    summary = ", ".join(f"{k['kind']}: {k['acknowledged']} acknowledged, " +
                        (f"{k['lost']} lost, {k['duplicated']} duplicated, {k['phantom']} phantom"
                         if k["status"] == "reconciled" else f"INCONCLUSIVE ({k['reason']})") for k in kinds)
    print(f"peakdrill: reconciled: {summary}", flush=True)
