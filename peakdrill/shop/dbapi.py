"""What every database backend of the shop offers, and the errors it raises.

The shop's modules speak only this: ``?`` placeholders, rows readable by name and by position,
``insert`` returning the new id, ``begin_write`` for a write transaction that holds the write
lock from its start, and three errors. A backend translates its own errors into these, so the
app's breaker and error answers never know which database it runs on.
"""

from __future__ import annotations

import re
from typing import Any, Iterable, Protocol


Row = Any  # a result row: row["column"] and row[0] both work


class DatabaseError(Exception):
    """Any error the database reported."""

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message)
        self.code = code


class OperationalFailure(DatabaseError):
    """The database could not run the statement (answered 503, not counted by the breaker)."""


class DatabaseUnavailable(OperationalFailure):
    """Locked, busy or unreachable: retryable, and what opens the database breaker."""


class Connection(Protocol):
    def execute(self, sql: str, params: tuple | list = ()) -> Any: ...
    def executemany(self, sql: str, rows: Iterable[tuple]) -> None: ...
    def insert(self, sql: str, params: tuple | list = ()) -> int: ...
    def script(self, sql: str) -> None: ...
    def begin_write(self) -> None: ...
    def lock_writes(self) -> None: ...
    @property
    def in_transaction(self) -> bool: ...
    @property
    def changes(self) -> int: ...
    def close(self) -> None: ...


def shown(location: str) -> str:
    """A database location for messages and logs: a URL without its password."""
    return re.sub(r"(//[^:/@]+):[^@/]*@", r"\1:***@", location)
