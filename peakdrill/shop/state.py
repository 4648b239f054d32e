"""The shop's state file, ``<shop-dir>/state.json``: what ``shop up`` started and where.

It is the only link between the process that started the shop and every later caller
(``shop status``/``down``, the chaos provider, the drill runner), so it is written atomically
and read into frozen dataclasses: a caller that wants a changed state gets a new object.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from peakdrill.errors import ShopError
from peakdrill.shop.dbapi import shown

STATE_FILE = "state.json"


@dataclass(frozen=True)
class RedisState:
    host: str
    port: int
    pid: int
    binary: str
    config: str
    # psutil create_time of ``pid``: guards against signalling a recycled PID.
    create_time: float = 0.0


@dataclass(frozen=True)
class AppState:
    pid: int  # the gunicorn master; its workers are its children
    workers: int
    create_time: float = 0.0


@dataclass(frozen=True)
class DatabaseState:
    """SQLite: ``path`` of the file. PostgreSQL: ``url``, and ``server_dir`` when the shop runs
    its own server (started by ``shop up --db postgres``, stopped by ``shop down``)."""
    path: str = ""
    url: str = ""
    server_dir: str = ""

    @property
    def location(self) -> str:
        return self.url or self.path

    @property
    def shown(self) -> str:
        """For messages and logs: a URL without its password."""
        return shown(self.location)


@dataclass(frozen=True)
class StandinState:
    """A provider stand-in process: business API on ``url``, fault/capacity admin API on
    ``admin_url`` (another port of the same process, reachable while the business port is not)."""
    pid: int
    port: int
    url: str
    admin_url: str
    create_time: float = 0.0


@dataclass(frozen=True)
class SyncState:
    """The inventory sync worker (store to central); faulted by SIGSTOP/SIGCONT on ``pid``."""
    pid: int
    lag_s: float
    create_time: float = 0.0


@dataclass(frozen=True)
class ShopState:
    url: str
    host: str
    port: int
    shop_dir: str
    started_at: str
    database: DatabaseState
    redis: RedisState
    app: AppState
    standins: dict[str, StandinState] = field(default_factory=dict)  # payment | courier | bot
    sync: SyncState | None = None

    @property
    def state_file(self) -> Path:
        return Path(self.shop_dir) / STATE_FILE

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ShopState":
        return cls(
            url=str(data["url"]),
            host=str(data["host"]),
            port=int(data["port"]),
            shop_dir=str(data["shop_dir"]),
            started_at=str(data["started_at"]),
            database=_fields(DatabaseState, data["database"]),
            redis=_fields(RedisState, data["redis"]),
            app=_fields(AppState, data["app"]),
            standins={name: _fields(StandinState, value) for name, value in data.get("standins", {}).items()},
            sync=_fields(SyncState, data["sync"]) if data.get("sync") else None,
        )

    def with_redis(self, **changes: Any) -> "ShopState":
        return replace(self, redis=replace(self.redis, **changes))


def _fields(cls: type, data: dict[str, Any]) -> Any:
    # Unknown keys are ignored so a newer state file still loads; missing required ones raise TypeError.
    return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


def state_path(shop_dir_or_state_file: str | os.PathLike[str]) -> Path:
    """Accept either the shop directory or the state file itself."""
    path = Path(shop_dir_or_state_file)
    return path if path.suffix == ".json" else path / STATE_FILE


def load_state(shop_dir_or_state_file: str | os.PathLike[str]) -> ShopState:
    """Read the state file; a missing or damaged one is a :class:`ShopError` saying what to do."""
    path = state_path(shop_dir_or_state_file)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ShopError(
            f"no shop state at '{path}' (fix: start the shop with `peakdrill shop up --shop-dir "
            f"{path.parent}` or pass the --shop-dir it was started with)"
        ) from None
    except (OSError, ValueError) as exc:
        raise ShopError(f"cannot read shop state '{path}': {exc} (fix: run `peakdrill shop down "
                        f"--shop-dir {path.parent}` and start again)") from None
    try:
        return ShopState.from_dict(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise ShopError(f"shop state '{path}' is missing or has a bad field {exc} (fix: run "
                        f"`peakdrill shop down --shop-dir {path.parent}` and start again)") from None


def write_state(state: ShopState) -> None:
    """Write atomically (temp file + rename) so a reader never sees half a file."""
    path = state.state_file
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(state.to_dict(), indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)
