"""Live knobs for the in-app stand-ins, in ``<shop-dir>/control.json``: the AI bot's capacity and
the payment gateway's behaviour. The chaos provider writes the file to inject a fault and deletes
it (or writes the defaults) to roll it back; every worker re-reads it within ``RELOAD_S``.

A file, not an endpoint, so a fault can be injected and removed even when the app is too busy
to answer, and every worker process sees the same value.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from peakdrill.errors import ShopError

CONTROL_FILE = "control.json"
RELOAD_S = 0.5
GATEWAY_MODES = ("ok", "error", "timeout")


@dataclass(frozen=True)
class Control:
    bot_slots: int | None = None  # per worker; None = the configured default
    gateway_mode: str = "ok"  # ok | error (fails at once) | timeout (hangs gateway_timeout_s, then fails)
    gateway_timeout_s: float = 5.0


def write_control(shop_dir: str | os.PathLike[str], control: Control) -> Path:
    if control.gateway_mode not in GATEWAY_MODES:
        raise ShopError(f"gateway_mode {control.gateway_mode!r} is not one of {', '.join(GATEWAY_MODES)}")
    if control.bot_slots is not None and control.bot_slots < 0:
        raise ShopError(f"bot_slots {control.bot_slots} is negative (fix: 0 or more; 0 = bot down)")
    path = Path(shop_dir) / CONTROL_FILE
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(asdict(control)) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def clear_control(shop_dir: str | os.PathLike[str]) -> None:
    (Path(shop_dir) / CONTROL_FILE).unlink(missing_ok=True)


class ControlReader:
    """Cached reader for the app: at most one stat() per RELOAD_S, a parse only when it changed.
    A missing or unreadable file means the defaults (a broken knob must not break the shop)."""

    def __init__(self, shop_dir: str | os.PathLike[str]) -> None:
        self.path = Path(shop_dir) / CONTROL_FILE
        self._lock = threading.Lock()
        self._checked = 0.0
        self._mtime: float | None = None
        self._value = Control()

    def get(self) -> Control:
        now = time.monotonic()
        if now - self._checked < RELOAD_S:
            return self._value
        with self._lock:
            self._checked = now
            try:
                mtime = self.path.stat().st_mtime
            except OSError:
                self._mtime, self._value = None, Control()
                return self._value
            if mtime != self._mtime:
                self._mtime = mtime
                try:
                    data = json.loads(self.path.read_text(encoding="utf-8"))
                    known = {f.name for f in fields(Control)}
                    self._value = Control(**{k: v for k, v in data.items() if k in known})
                except (OSError, ValueError, TypeError):
                    self._value = Control()
            return self._value
