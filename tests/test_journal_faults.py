"""Fault windows read from a Chaos Toolkit journal, and compound-fault recovery times (no servers)."""

from __future__ import annotations

from datetime import datetime, timezone

from peakdrill.run.journalfaults import journal_fault
from peakdrill.report.windows import FaultWindow, cleared_ts, overlapping


def _at(second: float) -> str:
    return datetime.fromtimestamp(1_800_000_000 + second, timezone.utc).isoformat()


def _run(name: str, kind: str, start: float, end: float, provider: dict | None = None, **extra) -> dict:
    activity = {"type": kind, "name": name, "provider": provider or {"type": "process", "path": "kill"}, **extra}
    return {"activity": activity, "start": _at(start), "end": _at(end), "status": "succeeded"}


def test_first_action_to_the_end_of_the_rollbacks_probes_do_not_count():
    journal = {"run": [_run("look", "probe", 0, 1), _run("freeze", "action", 2, 3), _run("wait", "action", 3, 9)],
               "rollbacks": [_run("thaw", "action", 9, 10, {"type": "http", "url": "http://127.0.0.1:1/heal"})]}
    fault = journal_fault(journal)
    assert (fault.name, fault.provider, fault.removed_by) == ("freeze", "process:kill", "rollback")
    assert (fault.inject_ts - 1_800_000_000, fault.remove_ts - 1_800_000_000) == (2, 10)


def test_marked_activities_set_the_window():
    journal = {"run": [_run("prepare", "action", 0, 1), _run("cut", "action", 2, 3, **{"x-peakdrill-fault": True}),
                       _run("heal", "action", 5, 6, **{"x-peakdrill-fault": True}), _run("verify", "action", 6, 8)],
               "rollbacks": [_run("cleanup", "action", 8, 9)]}
    fault = journal_fault(journal)
    assert fault.name == "cut" and fault.removed_by == "method"
    assert (fault.inject_ts - 1_800_000_000, fault.remove_ts - 1_800_000_000) == (2, 6)


def test_no_window_for_probes_only_or_peakdrills_own_provider():
    assert journal_fault({"run": [_run("look", "probe", 0, 1)], "rollbacks": []}) is None
    own = {"type": "python", "module": "peakdrill.chaos.cache_faults", "func": "stop_cache"}
    assert journal_fault({"run": [_run("stop", "action", 0, 1, own)], "rollbacks": []}) is None
    assert journal_fault({"status": "not-run"}) is None


def _window(name: str, start: float, end: float | None) -> FaultWindow:
    return FaultWindow(name, name, "", "", start, end, "rollback")


def test_overlapping_faults_recover_from_the_end_of_the_last_one():
    a, b, c, d = _window("a", 10, 30), _window("b", 20, 50), _window("c", 45, 60), _window("d", 70, 80)
    windows = [a, b, c, d]
    assert overlapping(windows, a, 100) == [b, c]  # c overlaps a through b
    assert cleared_ts(windows, a) == cleared_ts(windows, c) == 60
    assert cleared_ts(windows, d) == 80 and overlapping(windows, d, 100) == []
    assert cleared_ts([a, _window("e", 25, None)], a) is None
