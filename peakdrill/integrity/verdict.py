"""Acknowledged against stored: lost, duplicated and phantom records of one kind, overall and per window.

- **lost**: acknowledged, not stored (neither its id nor its ref is among the stored rows);
- **duplicated**: stored more than once (an id or a ref on several rows: two orders for one
  intent, a charge taken twice), named by the acknowledged id when the ref is the client's;
- **phantom**: stored although the client saw a failure or timeout for it (and never an
  acknowledgement): the customer was told it failed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from peakdrill.rundir.acks import AckRecord
from peakdrill.integrity.reconcilers.base import Stored

FINDINGS = ("lost", "duplicated", "phantom")


@dataclass
class KindAcks:
    """One kind's acknowledgements: id -> (second, ref), and the refs the client saw fail -> second."""

    acked: dict[str, tuple[int, str | None]] = field(default_factory=dict)
    failed: dict[str, int] = field(default_factory=dict)


def collect(records: Iterable[AckRecord]) -> dict[str, KindAcks]:
    kinds: dict[str, KindAcks] = {}
    for record in records:
        book = kinds.setdefault(record.kind, KindAcks())
        for ack_id, ref in zip(record.ids, record.refs):
            book.acked.setdefault(ack_id, (record.second, ref))
        for ref in record.failed:
            book.failed.setdefault(ref, record.second)
    return kinds


@dataclass(frozen=True)
class Window:
    name: str  # the fault's name, e.g. "app-node-killed"
    fault_id: str
    experiment: str
    start_ts: float
    end_ts: float  # removal plus its recovery target: what the fault may still break

    def to_dict(self) -> dict:
        return {"fault": self.name, "fault_id": self.fault_id, "experiment": self.experiment,
                "start_ts": self.start_ts, "end_ts": None if self.end_ts == float("inf") else self.end_ts}

    def holds(self, second: int) -> bool:
        return second < self.end_ts and second + 1 > self.start_ts


@dataclass(frozen=True)
class Finding:
    name: str  # the id to look up (the acknowledged id, else the stored ref)
    second: int | None  # when the client was told; None for a duplicate nobody acknowledged


def _duplicates(acks: KindAcks, ids: Counter, refs: Counter) -> list[Finding]:
    by_ref = {ref: (ack_id, second) for ack_id, (second, ref) in acks.acked.items() if ref is not None}
    found: dict[str, int | None] = {}
    for ack_id in (i for i, n in ids.items() if n > 1):
        found[ack_id] = acks.acked[ack_id][0] if ack_id in acks.acked else None
    for ref in (r for r, n in refs.items() if n > 1):
        ack_id, second = by_ref.get(ref, (ref, acks.failed.get(ref)))
        found.setdefault(ack_id, second)
    return [Finding(name, second) for name, second in found.items()]


def judge_kind(kind: str, acks: KindAcks, stored: Stored, windows: list[Window], sample: int) -> dict:
    """The findings of ``kind`` as reconciliation.json stores them (see docs/integrity.md)."""
    ids = Counter(row[0] for row in stored.rows if row[0] is not None)
    refs = Counter(row[1] for row in stored.rows if row[1] is not None)
    acked_refs = {ref for _, ref in acks.acked.values() if ref is not None}
    lost = [Finding(i, s) for i, (s, ref) in acks.acked.items() if i not in ids and (ref is None or ref not in refs)]
    phantom = [Finding(r, s) for r, s in acks.failed.items()
               if (r in refs or r in ids) and r not in acked_refs and r not in acks.acked]
    findings = {"lost": lost, "duplicated": _duplicates(acks, ids, refs), "phantom": phantom}
    result = {"kind": kind, "status": "reconciled", "acknowledged": len(acks.acked), "stored": len(stored.rows),
              "client_failures": len(acks.failed)}
    for name, found in findings.items():
        found.sort(key=lambda f: (f.second is None, f.second or 0, f.name))
        result[name] = len(found)
        result[f"{name}_ids"] = [f.name for f in found[:sample]]
    result["windows"] = [_window(w, acks, findings, sample) for w in windows]
    return result


def _window(window: Window, acks: KindAcks, findings: dict[str, list[Finding]], sample: int) -> dict:
    inside = {name: [f for f in found if f.second is not None and window.holds(f.second)]
              for name, found in findings.items()}
    return {**window.to_dict(), "acknowledged": sum(1 for s, _ in acks.acked.values() if window.holds(s)),
            **{name: len(found) for name, found in inside.items()},
            **{f"{name}_ids": [f.name for f in found[:sample]] for name, found in inside.items()}}


def inconclusive_kind(kind: str, acks: KindAcks | None, reason: str) -> dict:
    """A kind whose system of record could not be asked: no counts, never a PASS."""
    return {"kind": kind, "status": "inconclusive", "reason": reason,
            "acknowledged": len(acks.acked) if acks else 0, "client_failures": len(acks.failed) if acks else 0}
