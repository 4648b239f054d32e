"""Read a CSV of request or order counts per time bucket (one row per minute, say), oldest first.

The file needs a header; the count column is ``requests`` or ``orders`` (or the one named with
``--column``), any other columns (a timestamp, say) are ignored.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

from peakdrill.errors import SpecError, quote
from peakdrill.spec.profile import MAX_STAGES
from peakdrill.spec.safeyaml import read_text

COUNT_COLUMNS = ("requests", "orders")
MAX_COUNT = 1e15  # per bucket; far above any shop's traffic, far below float trouble


def read_counts(path: Path, column: str | None = None) -> tuple[str, list[float]]:
    """The count column's name and its values."""
    reader = csv.DictReader(read_text(path, what="counts file").splitlines())
    try:
        return _counts(path, reader, column)
    except csv.Error as exc:
        raise SpecError(str(path), f"line {reader.line_num}", f"not valid CSV ({quote(str(exc), raw=True)})",
                        "write one row of comma-separated values per line") from exc


def _counts(path: Path, reader: csv.DictReader, column: str | None) -> tuple[str, list[float]]:
    header = reader.fieldnames or []
    if column is None:
        column = next((name for name in COUNT_COLUMNS if name in header), None)
    if column is None or column not in header:
        wanted = quote(column) if column else " or ".join(repr(name) for name in COUNT_COLUMNS)
        raise SpecError(str(path), "line 1", f"no column {wanted} in the header {quote(header)}",
                        "name the count column in the header, or pass --column")
    counts = []
    for line, row in enumerate(reader, start=2):
        value = row.get(column)
        value = value.strip() if isinstance(value, str) else ""  # a short row leaves the column None
        where = f"line {line}, column {quote(column, 40, raw=True)}"
        try:
            count = float(value)
        except ValueError as exc:
            raise SpecError(str(path), where, f"{quote(value)} is not a number", "write a count, e.g. 120") from exc
        if not math.isfinite(count) or count < 0 or count > MAX_COUNT:
            raise SpecError(str(path), where, f"{quote(value)} is not a count", f"write a number from 0 to {MAX_COUNT:g}")
        counts.append(count)
        if len(counts) > MAX_STAGES:
            raise SpecError(str(path), where, f"more than {MAX_STAGES:,} rows (one profile stage each)",
                            "use wider time buckets in the file")
    if not counts:
        raise SpecError(str(path), "", "no rows after the header", "add one row per time bucket")
    return column, counts
