"""Reconciliation while the drill goes on: after each experiment's recovery window (its end, when
every fault it injected is removed or healed, plus its timeline entry's ``recovery_target``), the acknowledgements
received until then are checked against the system of record, so a fault that loses data shows it
near the fault (and a write that is stored late, or lost later, shows as the difference between
this round and the final reconciliation after the load).

Runs in a thread of the drill runner beside the watcher; each round is bounded like the final
one, and a round that is still due when the load ends is left to the final reconciliation.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path

from peakdrill.integrity.config import Integrity
from peakdrill.integrity.reconcile import DEFAULT_RECOVERY_TARGET_S, judge_all
from peakdrill.integrity.reconcilers import Context
from peakdrill.integrity.verdict import collect
from peakdrill.rundir import EVENTS_FILE, META_FILE, JsonlTail
from peakdrill.rundir.acks import iter_acks

log = logging.getLogger(__name__)

# Workers report to the master every 3 s: a round waits this long past its cut-off so that the
# acknowledgements of the window have reached the run directory.
ACK_DELAY_S = 5.0
POLL_S = 1.0


class RecoveryRounds:
    def __init__(self, run_dir: Path, integrity: Integrity, context: Context) -> None:
        self.run_dir, self.integrity, self.context = run_dir, integrity, context
        self.rounds: list[dict] = []
        self._events = JsonlTail(run_dir / EVENTS_FILE)
        self._due: list[tuple[float, dict]] = []  # (cut-off ts, the experiment_finished event)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="integrity-rounds", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> list[dict]:
        """Stop (a round in progress finishes, bounded); the rounds made."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(self.integrity.timeout * len(self.integrity.kinds) + 10)
        return list(self.rounds)

    def _recovery_target(self, experiment: str) -> float:
        try:
            timeline = json.loads((self.run_dir / META_FILE).read_text(encoding="utf-8")).get("timeline") or []
        except (OSError, ValueError):
            timeline = []
        return next((float(e.get("recovery_target_s") or DEFAULT_RECOVERY_TARGET_S) for e in timeline
                     if isinstance(e, dict) and e.get("experiment") == experiment), DEFAULT_RECOVERY_TARGET_S)

    def _run(self) -> None:
        while not self._stop.wait(POLL_S):
            try:
                for event in self._events.read_new():
                    if event.get("type") == "experiment_finished":
                        cutoff = float(event["ts"]) + self._recovery_target(str(event.get("experiment", "")))
                        self._due.append((cutoff, event))
                for due in [d for d in self._due if time.time() >= d[0] + ACK_DELAY_S]:
                    self._due.remove(due)
                    self._round(*due)
            except Exception:  # noqa: BLE001 - a failed round must not stop the drill; the final one still runs
                log.exception("integrity round failed")

    def _round(self, cutoff: float, finished: dict) -> None:
        acks = collect(r for r in iter_acks(self.run_dir) if r.second < cutoff)
        kinds = judge_all(acks, [], self.integrity, self.context)
        experiment = str(finished.get("experiment", ""))
        self.rounds.append({"after": Path(experiment).stem, "experiment": experiment, "finished_ts": finished["ts"],
                            "acks_until_ts": cutoff, "reconciled_at": time.time(),
                            "kinds": [{k: v for k, v in kind.items() if k != "windows"} for kind in kinds]})
        found = ", ".join(f"{k['kind']}: {k.get('lost', '?')} lost of {k['acknowledged']}" for k in kinds)
        print(f"peakdrill: reconciled after {self.rounds[-1]['after']}'s recovery window: {found}", flush=True)
