"""Start the provider stand-ins (payment gateway, courier tracking, chat bot) and drive their admin
APIs: the functions the chaos provider uses to fault them the way a provider's sandbox allows.
"""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from peakdrill.errors import ShopError
from peakdrill.shop import procs
from peakdrill.shop.standin_model import Capacity, Fault
from peakdrill.shop.state import ShopState, StandinState

NAMES = ("payment", "courier", "bot")
ADMIN_TIMEOUT_S = 3.0


def start_standins(shop_dir: Path, host: str, bot_slots: int, timeout: float) -> dict[str, StandinState]:
    """Start the three stand-ins and wait until each admin API answers. On failure the ones
    already started are stopped again."""
    started: dict[str, StandinState] = {}
    try:
        for name in NAMES:
            port, admin_port = procs.free_port(host), procs.free_port(host)
            argv = [sys.executable, "-m", "peakdrill.shop.standin_server", name, "--host", host,
                    "--port", str(port), "--admin-port", str(admin_port), "--slots", str(bot_slots)]
            pid, create_time = procs.spawn(argv, shop_dir / f"standin-{name}.log")
            started[name] = StandinState(pid=pid, create_time=create_time, port=port, url=procs.url_of(host, port),
                                         admin_url=procs.url_of(host, admin_port))
        for name, standin in started.items():
            if not procs.wait_until(lambda s=standin: _answers(s) or not procs.alive(s.pid, s.create_time),
                                    timeout, interval=0.1) or not procs.alive(standin.pid, standin.create_time):
                log = shop_dir / f"standin-{name}.log"
                raise ShopError(f"the {name} stand-in did not answer on {standin.admin_url} within {timeout:.0f}s; "
                                f"log tail ({log}):\n{procs.log_tail(log)}")
    except BaseException:
        stop_standins(started)
        raise
    return started


def stop_standins(standins: dict[str, StandinState], timeout: float = 5.0) -> None:
    for standin in standins.values():
        procs.terminate(standin.pid, standin.create_time, timeout=timeout)


def _answers(standin: StandinState) -> bool:
    try:
        with procs.LOOPBACK_OPENER.open(standin.admin_url + "/admin/fault", timeout=0.5):
            return True
    except (OSError, ValueError):
        return False


def _standin(state: ShopState, name: str) -> StandinState:
    standin = state.standins.get(name)
    if standin is None:
        raise ShopError(f"stand-in {name!r} is not in {state.state_file} (fix: use one of "
                        f"{', '.join(sorted(state.standins)) or 'none: restart the shop with `peakdrill shop up`'})")
    return standin


def _admin(state: ShopState, name: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    standin = _standin(state, name)
    request = urllib.request.Request(standin.admin_url + path, method="GET" if body is None else "PUT",
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    try:
        with procs.LOOPBACK_OPENER.open(request, timeout=ADMIN_TIMEOUT_S) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise ShopError(f"the {name} stand-in refused {path} {body!r}: HTTP {exc.code} "
                        f"{exc.read()[:300]!r}") from exc
    except (OSError, ValueError) as exc:
        raise ShopError(f"the {name} stand-in's admin API at {standin.admin_url} did not answer: {exc} (fix: "
                        f"is the shop running? `peakdrill shop status --shop-dir {state.shop_dir}`)") from exc


def standin_url(state: ShopState, name: str) -> str:
    """The stand-in's business URL (what the shop calls)."""
    return _standin(state, name).url


def get_standin_fault(state: ShopState, name: str) -> dict[str, Any]:
    return _admin(state, name, "/admin/fault")


def set_standin_fault(state: ShopState, name: str, mode: str = "ok", latency_ms: int = 0,
                      error_ratio: float = 0.0) -> dict[str, Any]:
    """Set the whole fault (the defaults are the rollback); returns the stand-in's new setting."""
    fault = Fault().patched({"mode": mode, "latency_ms": latency_ms, "error_ratio": error_ratio})
    return _admin(state, name, "/admin/fault", fault.to_dict())


def get_bot_capacity(state: ShopState) -> dict[str, Any]:
    return _admin(state, "bot", "/admin/capacity")


def set_bot_capacity(state: ShopState, slots: int) -> dict[str, Any]:
    """The cs-overload fault: 0 slots = the bot is down; a few = saturated under load."""
    capacity = Capacity.parse({"slots": slots})
    return _admin(state, "bot", "/admin/capacity", {"slots": capacity.slots})
