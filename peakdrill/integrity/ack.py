"""Business acknowledgements a load test received, recorded where the load runs.

The public call for any locustfile::

    from peakdrill import ack, ack_failed
    ack("order", order_id, ref=idempotency_key)   # the system said: stored
    ack_failed("order", ref=idempotency_key)      # the client saw a failure or a timeout

Under ``peakdrill load``/``drill`` the Locust plugin ships what was recorded to the master inside
Locust's worker reports, and the master appends it compactly (ids grouped per second and kind) to
the run directory; under plain ``locust`` nobody collects and both calls do nothing.
"""

from __future__ import annotations

import threading
import time

MAX_ID_CHARS = 200  # an id is something a person looks up, not a payload


class AckBook:
    """What one load process was acknowledged since its last report, grouped by (second, kind)."""

    def __init__(self) -> None:
        self.enabled = False  # set by the Locust plugin when a run directory collects acks
        self._lock = threading.Lock()
        self._groups: dict[tuple[int, str], dict] = {}

    def _group(self, kind: str, at: float | None) -> dict:
        key = (int(time.time() if at is None else at), str(kind))
        group = self._groups.get(key)
        if group is None:
            group = self._groups[key] = {"ids": [], "refs": [], "failed": []}
        return group

    def ack(self, kind: str, id: object, ref: object = None, at: float | None = None) -> None:
        if not self.enabled:
            return
        with self._lock:
            group = self._group(kind, at)
            group["ids"].append(str(id)[:MAX_ID_CHARS])
            group["refs"].append(None if ref is None else str(ref)[:MAX_ID_CHARS])

    def failed(self, kind: str, ref: object, at: float | None = None) -> None:
        if not self.enabled:
            return
        with self._lock:
            self._group(kind, at)["failed"].append(str(ref)[:MAX_ID_CHARS])

    def drain(self) -> list[dict]:
        """The records to ship, one per (second, kind): ``{"second", "kind", "ids", "refs"?, "failed"?}``."""
        with self._lock:
            groups, self._groups = self._groups, {}
        records = []
        for (second, kind), group in sorted(groups.items()):
            record: dict = {"second": second, "kind": kind, "ids": group["ids"]}
            if any(ref is not None for ref in group["refs"]):
                record["refs"] = group["refs"]
            if group["failed"]:
                record["failed"] = group["failed"]
            records.append(record)
        return records


BOOK = AckBook()


def ack(kind: str, id: object, ref: object = None) -> None:
    """Record that the system acknowledged one ``kind`` (``"order"``, ``"payment"``, ...) as ``id``.

    ``ref`` is the client's own reference for the same intent (an idempotency key), which lets a
    reconciler that reports references, not ids, find it. Cheap: an append under a lock.
    """
    BOOK.ack(kind, id, ref)


def ack_failed(kind: str, ref: object) -> None:
    """Record that the client saw a failure or timeout for an intent it knows as ``ref`` (an
    idempotency key or id it sent): if the system stored it anyway, it is a phantom."""
    BOOK.failed(kind, ref)
