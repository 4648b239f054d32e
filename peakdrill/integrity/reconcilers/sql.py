"""A user's SELECT against PostgreSQL, MySQL or SQLite, by URL, run read-only and bounded in time.

Read-only three ways: the query is one SELECT (checked when the configuration is read), the
session is read-only (``default_transaction_read_only`` / ``START TRANSACTION READ ONLY`` /
SQLite's ``mode=ro`` and ``query_only``), and nothing is ever committed. The first column is the
id, an optional second the ref. A network database must be one of the run's allowed hosts.
"""

from __future__ import annotations

import importlib
import sqlite3
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

from peakdrill.errors import EgressRefusedError, ReconcileError, quote
from peakdrill.integrity.reconcilers.base import Context, Row, Stored, with_prefix

MAX_ROWS = 20_000_000  # far above any run's acknowledgements; a query returning more selects real data


def _rows(cursor_rows, url: str) -> list[Row]:
    rows = []
    for row in cursor_rows:
        if not row:
            raise ReconcileError(f"{_safe(url)}: the query returns no column; select the id (and optionally a ref)")
        rows.append((None if row[0] is None else str(row[0]), str(row[1]) if len(row) > 1 and row[1] is not None else None))
        if len(rows) > MAX_ROWS:
            raise ReconcileError(f"{_safe(url)}: the query returns more than {MAX_ROWS} rows; select only the test traffic")
    return rows


def _safe(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password:
        url = url.replace(f":{parts.password}@", ":***@")
    return quote(url, raw=True)


def _checked_address(url: str, default_port: int, context: Context) -> str | None:
    """The allowed IP to connect to; None for a local socket (no host in the URL)."""
    parts = urlsplit(url)
    if not parts.hostname:
        return None
    try:
        return context.allowlist.check((parts.hostname, parts.port or default_port))[0]
    except EgressRefusedError as exc:
        raise ReconcileError(f"{_safe(url)}: {exc.strerror}") from exc
    except OSError as exc:
        raise ReconcileError(f"{_safe(url)}: cannot resolve {parts.hostname!r} ({exc})") from exc


def _sqlite(spec, context: Context) -> list[Row]:
    # sqlite:///relative/to/the/drill.db, sqlite:////an/absolute/path.db (SQLAlchemy's convention)
    written = unquote(spec.url[len("sqlite:///"):].split("?", 1)[0]) if spec.url.startswith("sqlite:///") else ""
    path = Path(written) if written.startswith("/") else context.base_dir / written
    if not written or not path.is_file():
        raise ReconcileError(f"{_safe(spec.url)}: no database file at {path} (write sqlite:////absolute/path.db or "
                             f"sqlite:///path/relative/to/the/drill.db)")
    deadline = time.monotonic() + context.timeout_s
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=context.timeout_s)
    except sqlite3.Error as exc:
        raise ReconcileError(f"{_safe(spec.url)}: cannot open it read-only: {exc}") from exc
    conn.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)  # non-zero aborts the query
    try:
        conn.execute("PRAGMA query_only = ON")
        return _rows(conn.execute(spec.query), spec.url)
    except sqlite3.Error as exc:
        late = time.monotonic() > deadline
        raise ReconcileError(f"{_safe(spec.url)}: " + (f"the query ran past {context.timeout_s:g} s" if late
                                                      else f"the query failed: {exc}")) from exc
    finally:
        conn.close()


def _postgres(spec, context: Context) -> list[Row]:
    try:
        psycopg = importlib.import_module("psycopg")
    except ImportError as exc:
        raise ReconcileError("the PostgreSQL reconciler needs psycopg (fix: pip install 'psycopg[binary]')") from exc
    address = _checked_address(spec.url, 5432, context)
    extra = {"hostaddr": address} if address else {}
    millis = int(context.timeout_s * 1000)
    try:
        with psycopg.connect(spec.url.replace("postgres://", "postgresql://", 1), connect_timeout=max(1, int(context.timeout_s)),
                             options=f"-c default_transaction_read_only=on -c statement_timeout={millis}",
                             autocommit=False, **extra) as conn:
            conn.read_only = True
            try:
                with conn.cursor() as cursor:
                    cursor.execute(spec.query)
                    return _rows(cursor, spec.url)
            finally:
                conn.rollback()  # never commit anything
    except psycopg.Error as exc:
        raise ReconcileError(f"{_safe(spec.url)}: {str(exc).strip()[:300]}") from exc


def _mysql(spec, context: Context) -> list[Row]:
    try:
        pymysql = importlib.import_module("pymysql")
    except ImportError as exc:
        raise ReconcileError("the MySQL reconciler needs PyMySQL, which is optional (fix: pip install pymysql)") from exc
    parts = urlsplit(spec.url)
    address = _checked_address(spec.url, 3306, context)
    try:
        conn = pymysql.connect(host=address or "localhost", port=parts.port or 3306, user=unquote(parts.username or ""),
                               password=unquote(parts.password or ""), database=parts.path.lstrip("/") or None,
                               connect_timeout=context.timeout_s, read_timeout=context.timeout_s)
        try:
            with conn.cursor() as cursor:
                cursor.execute(f"SET SESSION MAX_EXECUTION_TIME = {int(context.timeout_s * 1000)}")
                cursor.execute("START TRANSACTION READ ONLY")
                cursor.execute(spec.query)
                return _rows(cursor.fetchall(), spec.url)
        finally:
            conn.rollback()
            conn.close()
    except pymysql.MySQLError as exc:
        raise ReconcileError(f"{_safe(spec.url)}: {str(exc)[:300]}") from exc


def fetch(kind: str, spec, context: Context) -> Stored:
    scheme = urlsplit(spec.url).scheme
    run = {"sqlite": _sqlite, "postgres": _postgres, "postgresql": _postgres, "mysql": _mysql}[scheme]
    return with_prefix(run(spec, context), spec.id_prefix)
