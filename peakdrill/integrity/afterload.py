"""The drill runner's hook: reconcile after each fault's recovery window while the drill goes on
(:mod:`~peakdrill.integrity.rounds`), and once more after the load has stopped and its last
acknowledgements are written, then say what was found."""

from __future__ import annotations

import time
from pathlib import Path

from peakdrill import events
from peakdrill.errors import PeakdrillError
from peakdrill.integrity.config import Integrity
from peakdrill.integrity.reconcile import reconcile
from peakdrill.integrity.reconcilers import Context
from peakdrill.integrity.rounds import RecoveryRounds
from peakdrill.safety import Allowlist


class IntegrityHook:
    def __init__(self, run_dir: Path, integrity: Integrity, allowed_hosts: tuple[str, ...], target_url: str,
                 since: float, base_dir: Path) -> None:
        self.run_dir, self.integrity = run_dir, integrity
        self.context = Context(Allowlist(allowed_hosts), target_url, since, integrity.timeout, base_dir)
        self.rounds = RecoveryRounds(run_dir, integrity, self.context)

    def start(self) -> None:
        self.rounds.start()

    def finish(self, bus: events.EventBus, load_ran: bool) -> None:
        """Stop the rounds; if the load ran, wait for asynchronous writes to settle and reconcile."""
        rounds = self.rounds.stop()
        if not load_ran:
            return
        time.sleep(self.integrity.settle)
        try:
            document = reconcile(self.run_dir, self.integrity, self.context, rounds)
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
