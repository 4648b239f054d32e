"""Read a CSV of request or order counts per time bucket (one row per minute, say), oldest first.

The file needs a header; the count column is ``requests`` or ``orders`` (or the one named with
``--column``), any other columns (a timestamp, say) are ignored.
"""

from __future__ import annotations

import csv
from pathlib import Path

from peakdrill.errors import SpecError

COUNT_COLUMNS = ("requests", "orders")


def read_counts(path: Path, column: str | None = None) -> tuple[str, list[float]]:
    """The count column's name and its values."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(str(path), "", f"cannot read the counts file ({exc.strerror})", "check the path") from exc
    reader = csv.DictReader(text.splitlines())
    header = reader.fieldnames or []
    if column is None:
        column = next((name for name in COUNT_COLUMNS if name in header), None)
    if column is None or column not in header:
        wanted = repr(column) if column else " or ".join(repr(name) for name in COUNT_COLUMNS)
        raise SpecError(str(path), "line 1", f"no column {wanted} in the header {header}",
                        "name the count column in the header, or pass --column")
    counts = []
    for line, row in enumerate(reader, start=2):
        value = (row.get(column) or "").strip()
        try:
            count = float(value)
        except ValueError as exc:
            raise SpecError(str(path), f"line {line}, column {column}", f"{value!r} is not a number", "write a count") from exc
        if count < 0:
            raise SpecError(str(path), f"line {line}, column {column}", f"{value} is negative", "counts are >= 0")
        counts.append(count)
    if not counts:
        raise SpecError(str(path), "", "no rows after the header", "add one row per time bucket")
    return column, counts
