"""Which database a shop runs on, from ``shop up --db``:

- ``sqlite`` (the default): ``<shop-dir>/shop.db``;
- ``postgres``: a PostgreSQL server of the shop's own, from the distribution's package, with its
  data in ``<shop-dir>/postgres`` on a free loopback port (``shop down`` stops it; the system's
  cluster is never touched);
- ``postgresql://user:password@host:port/dbname``: a PostgreSQL server you run. The shop creates
  its tables there if missing (``--fresh`` drops only those), so give it a database of its own.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from peakdrill.errors import ShopError, quote
from peakdrill.shop import db, pg_server, procs
from peakdrill.shop.state import DatabaseState

SQLITE, OWN_POSTGRES = "sqlite", "postgres"


def _check_url_host(url: str, allow_non_loopback: bool) -> None:
    host = urlsplit(url).hostname or ""
    if allow_non_loopback or not host or procs.is_loopback(host):  # no host: a Unix socket, local too
        return
    raise ShopError(f"refusing the database at {host!r}: the reference shop keeps its database on loopback "
                    "(fix: a postgresql://...@127.0.0.1/... URL, or --allow-non-loopback if you really mean it)")


def open_database(shop: Path, choice: str, fresh: bool, allow_non_loopback: bool = False) -> DatabaseState:
    """Make the database ready (server started, schema created, seeded when empty)."""
    choice = (choice or SQLITE).strip()
    if choice == SQLITE:
        state = DatabaseState(path=str(shop / "shop.db"))
    elif choice == OWN_POSTGRES:
        server = pg_server.start(shop / "postgres")
        state = DatabaseState(url=server.url, server_dir=str(shop / "postgres"))
    elif db.is_postgres(choice):
        _check_url_host(choice, allow_non_loopback)
        state = DatabaseState(url=choice)
    else:
        raise ShopError(f"--db {quote(db.shown(choice))} is not a database choice (fix: --db sqlite, --db postgres "
                        "for a server of the shop's own, or --db postgresql://user@127.0.0.1:5432/shop)")
    try:
        if fresh:
            db.reset(state.location)
        db.init_db(state.location)
    except db.DatabaseError as exc:
        close_database(state)
        raise ShopError(f"the database {state.shown} is not usable: {exc} (fix: check the URL, that the server "
                        "runs and that the user may create tables)") from exc
    except BaseException:
        close_database(state)
        raise
    return state


def close_database(state: DatabaseState) -> None:
    """Stop the shop's own PostgreSQL server, if it started one; a database by URL is left running."""
    if state.server_dir:
        pg_server.stop(state.server_dir)
