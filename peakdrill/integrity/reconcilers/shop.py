"""The reference shop's ``GET /api/admin/reconciliation?since=``: its orders, succeeded payments,
chats and returns since the run started, counted only for the load test's customers."""

from __future__ import annotations

from peakdrill.errors import ReconcileError
from peakdrill.integrity.reconcilers.base import Context, Row, Stored
from peakdrill.integrity.reconcilers.http import get_json

# kind -> (list in the answer, id field, ref field, which rows count)
_KINDS = {
    "order": ("orders", "order_id", "idempotency_key", lambda r: True),
    # Money taken: a succeeded payment (a pending or failed one charged nobody).
    "payment": ("payments", "order_id", "idempotency_key", lambda r: r.get("status") == "succeeded"),
    "chat": ("chats", "chat_id", None, lambda r: True),
    "return": ("returns", "return_id", "idempotency_key", lambda r: True),
}
KINDS = tuple(_KINDS)


def fetch(kind: str, spec, context: Context) -> Stored:
    if kind not in _KINDS:
        raise ReconcileError(f"the reference shop's reconciliation has no {kind!r}; its kinds are {', '.join(KINDS)}")
    base = (spec.url or context.target_url or "").rstrip("/")
    if not base:
        raise ReconcileError("the reference-shop reconciler needs the shop's url (the run has no target url)")
    body = get_json(f"{base}/api/admin/reconciliation?since={context.since - 1:.3f}", context)
    section, id_field, ref_field, counts = _KINDS[kind]
    records = body.get(section) if isinstance(body, dict) else None
    if not isinstance(records, list):
        raise ReconcileError(f"{base}/api/admin/reconciliation: no {section!r} list in the answer")
    rows: list[Row] = [(str(r[id_field]), str(r[ref_field]) if ref_field and r.get(ref_field) is not None else None)
                       for r in records
                       if isinstance(r, dict) and str(r.get("customer_id", "")).startswith(spec.customer_prefix)
                       and counts(r)]
    return Stored(tuple(rows))
