"""Fold the ids out of request paths, so one endpoint is one entry of the mix.

``GET /api/orders/1234/pay?x=1`` becomes ``GET /api/orders/[id]/pay?x=[n]``: the same names the
journeys give Locust (see :mod:`peakdrill.spec.endpoints`), so a replayed mix and a measured run
can be compared endpoint by endpoint.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlsplit

# Numbers, UUIDs, and long hex or mixed tokens (order numbers, hashes) are ids; words are not.
_ID_SEGMENT = re.compile(r"^(\d+|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
                         r"|(?=[A-Za-z_-]*\d)[A-Za-z0-9_-]{12,})$")


def fold_path(target: str) -> str:
    """The template of a request target (path and query), ids and query values folded."""
    parts = urlsplit(target)
    segments = ["[id]" if _ID_SEGMENT.match(segment) else segment for segment in parts.path.split("/")]
    path = "/".join(segments) or "/"
    if not parts.query:
        return path
    query = "&".join(f"{key}=[n]" if value.isdigit() else f"{key}=[v]"
                     for key, value in parse_qsl(parts.query, keep_blank_values=True))
    return f"{path}?{query}"


def endpoint_name(method: str, target: str) -> str:
    return f"{method.upper()} {fold_path(target)}"
