"""One reconciliation of a run: every configured kind's acknowledgements against its system of
record, judged overall and per fault window, written to ``reconciliation.json``.

Each reconciler is bounded by the section's ``timeout`` twice over: by its own means (a socket
timeout, ``statement_timeout``, a killed command) and by a watchdog thread here, so a hung driver
cannot hold the run; a kind that was not answered in time is INCONCLUSIVE.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from peakdrill.errors import PeakdrillError
from peakdrill.integrity.config import Integrity
from peakdrill.integrity.reconcilers import Context, Stored, fetch
from peakdrill.integrity.verdict import KindAcks, Window, collect, inconclusive_kind, judge_kind
from peakdrill.rundir import EVENTS_FILE, META_FILE
from peakdrill.rundir.acks import iter_acks, write_reconciliation

FORMAT = 1
WATCHDOG_GRACE_S = 5.0
DEFAULT_RECOVERY_TARGET_S = 60.0


def fault_windows(run_dir: Path) -> list[Window]:
    """Each fault from injection to removal plus its timeline entry's recovery target (a fault that
    was never removed: to the end of time)."""
    try:
        meta = json.loads((run_dir / META_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        meta = {}
    targets = {str(e.get("experiment")): float(e.get("recovery_target_s") or DEFAULT_RECOVERY_TARGET_S)
               for e in meta.get("timeline") or [] if isinstance(e, dict)}
    injected: dict[str, dict] = {}
    windows: list[Window] = []
    events = run_dir / EVENTS_FILE
    lines = events.read_text(encoding="utf-8").splitlines() if events.is_file() else []
    for line in lines:
        try:
            event = json.loads(line)
        except ValueError:
            continue  # a torn last line
        if event.get("type") == "fault_injected":
            injected[str(event.get("fault_id"))] = event
        elif event.get("type") == "fault_removed" and str(event.get("fault_id")) in injected:
            start = injected.pop(str(event.get("fault_id")))
            recovery = targets.get(str(start.get("experiment")), DEFAULT_RECOVERY_TARGET_S)
            windows.append(_window(start, float(event["ts"]) + recovery))
    windows.extend(_window(start, float("inf")) for start in injected.values())
    return sorted(windows, key=lambda w: w.start_ts)


def _window(event: dict, end_ts: float) -> Window:
    return Window(str(event.get("fault", "")), str(event.get("fault_id", "")), str(event.get("experiment", "")),
                  float(event["ts"]), end_ts)


def _bounded_fetch(kind: str, spec, context: Context) -> Stored:
    result: dict = {}

    def ask() -> None:
        try:
            result["stored"] = fetch(kind, spec, context)
        except PeakdrillError as exc:
            result["error"] = str(exc)
        except Exception as exc:  # noqa: BLE001 - a driver's own error is this kind's answer, not a crash of the run
            result["error"] = f"{type(exc).__name__}: {exc}"[:400]

    worker = threading.Thread(target=ask, name=f"reconcile-{kind}", daemon=True)
    worker.start()
    worker.join(context.timeout_s + WATCHDOG_GRACE_S)
    if worker.is_alive():
        raise TimeoutError(f"the {spec.type} reconciler gave no answer within {context.timeout_s:g} s")
    if "error" in result:
        raise RuntimeError(result["error"])
    return result["stored"]


def judge_all(acks: dict[str, KindAcks], windows: list[Window], integrity: Integrity, context: Context) -> list[dict]:
    """Every configured kind's findings (or why it could not be judged)."""
    kinds = []
    for kind, spec in integrity.kinds.items():
        book = acks.get(kind, KindAcks())
        started = time.monotonic()
        try:
            stored = _bounded_fetch(kind, spec, context)
        except (TimeoutError, RuntimeError) as exc:
            kinds.append(inconclusive_kind(kind, book, f"{spec.type} reconciler: {exc}"))
            continue
        judged = judge_kind(kind, book, stored, windows, integrity.sample)
        kinds.append(judged | {"reconciler": spec.type, "took_s": round(time.monotonic() - started, 3)})
    return kinds


def reconcile(run_dir: Path, integrity: Integrity, context: Context, rounds: list[dict] | None = None) -> dict:
    """Reconcile now and write ``reconciliation.json``; the document written. ``rounds``: the
    reconciliations made during the drill, after each fault's recovery window (kept as they were)."""
    acks = collect(iter_acks(run_dir))
    windows = fault_windows(run_dir)
    unconfigured = sorted(set(acks) - set(integrity.kinds))
    document = {"format": FORMAT, "reconciled_at": time.time(), "since": context.since,
                "kinds": judge_all(acks, windows, integrity, context),
                "not_reconciled": {k: len(acks[k].acked) for k in unconfigured},
                "windows": [w.to_dict() for w in windows], "rounds": list(rounds or [])}
    write_reconciliation(run_dir, document)
    return document
