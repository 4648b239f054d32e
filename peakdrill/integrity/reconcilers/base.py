"""What every reconciler returns and raises, and what it is given."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from peakdrill.errors import ReconcileError
from peakdrill.safety import Allowlist

__all__ = ["Context", "ReconcileError", "Row", "Stored", "with_prefix"]

Row = tuple[str | None, str | None]  # (id, ref): either may be unknown to a system


@dataclass(frozen=True)
class Context:
    allowlist: Allowlist
    target_url: str | None
    since: float  # the run's start: nothing older belongs to it
    timeout_s: float
    base_dir: Path = field(default_factory=Path.cwd)  # where a command runs


@dataclass(frozen=True)
class Stored:
    rows: tuple[Row, ...]


def with_prefix(rows: list[Row], prefix: str) -> Stored:
    """Only the test traffic: rows whose id or ref starts with ``prefix`` (all rows when it is empty)."""
    if not prefix:
        return Stored(tuple(rows))
    return Stored(tuple(r for r in rows if (r[0] or "").startswith(prefix) or (r[1] or "").startswith(prefix)))

