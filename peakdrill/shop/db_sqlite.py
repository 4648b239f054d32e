"""The SQLite backend of :mod:`peakdrill.shop.db`: the default, a file in the shop directory.

WAL (readers never wait for the writer), ``BEGIN IMMEDIATE`` for every write transaction (the
one write lock is taken up front, so two writers queue on the busy timeout instead of
deadlocking on a lock upgrade), and SQLITE_BUSY/LOCKED/IOERR/CANTOPEN read as "unavailable".
"""

from __future__ import annotations

import sqlite3
from typing import Any, Iterable

from peakdrill.shop.dbapi import DatabaseError, DatabaseUnavailable, OperationalFailure

UNAVAILABLE = ("SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_IOERR", "SQLITE_CANTOPEN")  # error-name prefixes
SCHEMA = "schema.sql"


def _translate(exc: sqlite3.Error) -> DatabaseError:
    code = getattr(exc, "sqlite_errorname", "") or ""
    if isinstance(exc, sqlite3.OperationalError):
        kind = DatabaseUnavailable if code.startswith(UNAVAILABLE) else OperationalFailure
        return kind(str(exc), code)
    return DatabaseError(str(exc), code)


class SqliteConnection:
    """One connection in autocommit mode; transactions are explicit."""

    def __init__(self, path: str, busy_timeout_ms: int) -> None:
        try:
            self._conn = sqlite3.connect(path, timeout=busy_timeout_ms / 1000, isolation_level=None,
                                         check_same_thread=False)
            self._conn.row_factory = sqlite3.Row
            self._conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute("PRAGMA synchronous = NORMAL")  # durable at WAL checkpoints; standard with WAL
            self._conn.execute("PRAGMA foreign_keys = ON")
        except sqlite3.Error as exc:
            raise _translate(exc) from exc

    def execute(self, sql: str, params: tuple | list = ()) -> Any:
        try:
            return self._conn.execute(sql, params)
        except sqlite3.Error as exc:
            raise _translate(exc) from exc

    def executemany(self, sql: str, rows: Iterable[tuple]) -> None:
        try:
            self._conn.executemany(sql, rows)
        except sqlite3.Error as exc:
            raise _translate(exc) from exc

    def insert(self, sql: str, params: tuple | list = ()) -> int:
        return int(self.execute(sql, params).lastrowid)

    def script(self, sql: str) -> None:
        try:
            self._conn.executescript(sql)
        except sqlite3.Error as exc:
            raise _translate(exc) from exc

    def begin_write(self) -> None:
        self.execute("BEGIN IMMEDIATE")

    def lock_writes(self) -> None:
        """The database-slowdown fault: every writer waits (readers go on, as WAL lets them)."""
        self.execute("BEGIN EXCLUSIVE")

    @property
    def in_transaction(self) -> bool:
        return self._conn.in_transaction

    @property
    def changes(self) -> int:
        return self._conn.total_changes

    def close(self) -> None:
        self._conn.close()
