"""A PostgreSQL server of its own, from the distribution's package: initdb into a directory,
pg_ctl start on a chosen loopback port, pg_ctl stop. Never the system's cluster: its data
directory, socket directory and port are all this directory's and this call's.

PostgreSQL refuses to run as root, so as root the server runs as the ``postgres`` user the
Debian package creates, and the directory is handed to it.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from peakdrill.errors import ShopError
from peakdrill.shop import procs

SERVER_USER = "postgres"
START_TIMEOUT_S = 60


@dataclass(slots=True, frozen=True)
class PgServer:
    data_dir: str
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"postgresql://{SERVER_USER}@{self.host}:{self.port}/postgres"

    @property
    def pid_file(self) -> str:
        return str(Path(self.data_dir) / "postmaster.pid")


def bin_dir() -> Path:
    """The newest installed server's bin directory (Debian keeps them out of PATH)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parent.parent.name)
                   if p.parent.parent.name.isdigit() else 0)
    if found:
        return found[-1].parent
    on_path = shutil.which("pg_ctl")
    if on_path:
        return Path(on_path).parent
    raise ShopError("no PostgreSQL server found (fix: `apt-get install postgresql`, or `make system-deps`)")


def _as_server_user(argv: list[str]) -> list[str]:
    return ["runuser", "-u", SERVER_USER, "--", *argv] if os.geteuid() == 0 else argv


def _run(argv: list[str], what: str, timeout: float = START_TIMEOUT_S) -> None:
    done = subprocess.run(_as_server_user(argv), capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise ShopError(f"PostgreSQL {what} failed (exit {done.returncode}): {(done.stderr or done.stdout).strip()[-600:]}")


def start(base_dir: str | os.PathLike[str], host: str = "127.0.0.1", port: int = 0) -> PgServer:
    """initdb ``<base_dir>/data`` if it is new, then start it on ``host:port`` (0: a free port)."""
    base = Path(base_dir)
    data, sockets = base / "data", base / "sockets"
    base.mkdir(parents=True, exist_ok=True)
    sockets.mkdir(exist_ok=True)
    if os.geteuid() == 0:
        owner = pwd.getpwnam(SERVER_USER)
        for path in (base, sockets):
            os.chown(path, owner.pw_uid, owner.pw_gid)
        reach = subprocess.run(_as_server_user(["test", "-w", str(base)]), capture_output=True, timeout=10)
        if reach.returncode != 0:
            raise ShopError(f"the {SERVER_USER!r} user PostgreSQL runs as cannot reach {str(base)!r} (fix: let it "
                            f"through the parent directories, e.g. `chmod o+x` on each, or use a --shop-dir it can reach)")
    tools = bin_dir()
    stop(base)  # a server left running by a shop that died: this directory's own, so ours to stop
    if not (data / "PG_VERSION").exists():
        _run([str(tools / "initdb"), "-D", str(data), "--auth=trust", "--username", SERVER_USER,
              "--encoding=UTF8", "--no-sync"], "initdb")
    port = port or procs.free_port(host)
    options = f"-p {port} -k {sockets} -c listen_addresses={host} -c fsync=off -c max_connections=200"
    _run([str(tools / "pg_ctl"), "-D", str(data), "-l", str(base / "server.log"), "-o", options, "-w",
          "-t", str(START_TIMEOUT_S), "start"], f"start on {host}:{port} (log: {base / 'server.log'})")
    return PgServer(str(data), host, port)


def stop(base_dir: str | os.PathLike[str]) -> None:
    """Stop the server of ``base_dir`` if it runs (fast shutdown: open transactions roll back)."""
    data = Path(base_dir) / "data"
    if (data / "postmaster.pid").exists():
        _run([str(bin_dir() / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"], "stop")
