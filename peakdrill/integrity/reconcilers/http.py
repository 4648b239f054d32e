"""An HTTP endpoint that lists what a system stored: a JSON list of ids, or of objects whose
``id_field``/``ref_field`` hold them, at the top or under the dotted path ``items``. The request
goes through the guarded client: only to the run's allowed hosts, redirects included."""

from __future__ import annotations

from typing import Any

from peakdrill.chaos.client import Reply, call
from peakdrill.errors import quote
from peakdrill.integrity.reconcilers.base import Context, ReconcileError, Row, Stored, with_prefix


def get_json(url: str, context: Context, headers: dict[str, str] | None = None) -> Any:
    """The JSON answer of a GET, or a ReconcileError saying why there is none."""
    reply: Reply = call(context.allowlist, "GET", url, headers=headers, timeout=context.timeout_s)
    if reply.timed_out:
        raise ReconcileError(f"GET {url}: no answer within {context.timeout_s:g} s")
    if reply.status == 0:
        raise ReconcileError(f"GET {url}: no connection (refused or reset)")
    if reply.status != 200:
        raise ReconcileError(f"GET {url}: HTTP {reply.status}: {quote(reply.body)}")
    if isinstance(reply.body, str):
        raise ReconcileError(f"GET {url}: the answer is not JSON: {quote(reply.body)}")
    return reply.body


def _field(item: Any, name: str, url: str) -> str | None:
    if not name:
        return None
    if not isinstance(item, dict) or name not in item:
        raise ReconcileError(f"GET {url}: an item has no field {name!r}: {quote(item)}")
    value = item[name]
    return None if value is None else str(value)


def rows_of(body: Any, items: str, id_field: str, ref_field: str, url: str) -> list[Row]:
    found = body
    for part in [p for p in items.split(".") if p]:
        if not isinstance(found, dict) or part not in found:
            raise ReconcileError(f"GET {url}: the answer has no {items!r} (stopped at {part!r}): {quote(body)}")
        found = found[part]
    if not isinstance(found, list):
        raise ReconcileError(f"GET {url}: expected a list{f' under {items!r}' if items else ''}, got {quote(found)}")
    if not id_field and not ref_field:
        return [(str(item), None) for item in found]
    return [(_field(item, id_field, url), _field(item, ref_field, url)) for item in found]


def fetch(kind: str, spec, context: Context) -> Stored:
    body = get_json(spec.url, context, spec.headers)
    return with_prefix(rows_of(body, spec.items, spec.id_field, spec.ref_field, spec.url), spec.id_prefix)
