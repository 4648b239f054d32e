"""Reconcilers: ask a system of record which records it holds for this run's test traffic.

One module per kind of system; each returns :class:`Stored` rows of (id, ref) and raises
:class:`ReconcileError` when it cannot answer (which makes the verdict INCONCLUSIVE, never PASS).
"""

from __future__ import annotations

from peakdrill.integrity.reconcilers import command, http, shop, sql
from peakdrill.integrity.reconcilers.base import Context, ReconcileError, Stored

__all__ = ["Context", "ReconcileError", "Stored", "fetch"]
_HANDLERS = {"reference-shop": shop.fetch, "sql": sql.fetch, "http": http.fetch, "command": command.fetch}


def fetch(kind: str, spec, context: Context) -> Stored:
    """What the system of record ``spec`` (a model of :mod:`peakdrill.integrity.config`) holds of ``kind``."""
    return _HANDLERS[spec.type](kind, spec, context)
