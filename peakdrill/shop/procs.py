"""Small process helpers: spawn detached, check and stop by PID, pick free ports, wait for things.

Everything here acts on one known PID (never a name), and checks the PID's create time so a
PID the kernel has recycled for someone else's process is left alone.
"""

from __future__ import annotations

import ipaddress
import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import psutil

# Popen handles of children we spawned, kept so Python does not warn and so we can reap them
# (a dead child of a long-lived caller, e.g. the chaos provider, would otherwise stay a zombie).
_CHILDREN: dict[int, subprocess.Popen] = {}


def spawn(argv: list[str], log_file: Path, env: dict[str, str] | None = None,
          cwd: str | None = None) -> tuple[int, float]:
    """Start ``argv`` in a new session (so a Ctrl-C in the caller's terminal does not reach it),
    stdout+stderr appended to ``log_file``; return (pid, create_time)."""
    with open(log_file, "ab") as log:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                env=env, cwd=cwd, start_new_session=True, close_fds=True)
    _CHILDREN[proc.pid] = proc
    return proc.pid, _create_time(proc.pid)


def _create_time(pid: int) -> float:
    try:
        return psutil.Process(pid).create_time()
    except psutil.Error:
        return 0.0


def _reap(pid: int) -> None:
    proc = _CHILDREN.get(pid)
    if proc is not None:
        if proc.poll() is not None:
            _CHILDREN.pop(pid, None)
        return
    try:  # a child spawned by an earlier object in this process; harmless if not our child
        os.waitpid(pid, os.WNOHANG)
    except (ChildProcessError, OSError):
        pass


def process(pid: int, create_time: float = 0.0) -> psutil.Process | None:
    """The live process with this PID, or None if gone, a zombie, or a different (recycled) one."""
    if pid <= 0:
        return None
    _reap(pid)
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
        if create_time and abs(proc.create_time() - create_time) > 1.0:
            return None
        return proc
    except psutil.Error:
        return None


def alive(pid: int, create_time: float = 0.0) -> bool:
    return process(pid, create_time) is not None


def terminate(pid: int, create_time: float = 0.0, timeout: float = 10.0,
              include_children: bool = False) -> None:
    """SIGTERM, wait up to ``timeout``, then SIGKILL. With ``include_children`` the children of
    ``pid`` (found before signalling) are also killed if they outlive it."""
    proc = process(pid, create_time)
    if proc is None:
        return
    children: list[psutil.Process] = []
    if include_children:
        try:
            children = proc.children(recursive=True)
        except psutil.Error:
            pass
    try:
        proc.send_signal(signal.SIGTERM)
    except psutil.Error:
        pass
    if not wait_until(lambda: not alive(pid, create_time), timeout):
        try:
            proc.kill()
        except psutil.Error:
            pass
        wait_until(lambda: not alive(pid, create_time), 5.0)
    for child in children:
        if wait_until(lambda c=child: not _child_alive(c), 2.0):
            continue
        try:
            child.kill()
        except psutil.Error:
            pass


def _child_alive(child: psutil.Process) -> bool:
    try:
        return child.is_running() and child.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def is_loopback(host: str) -> bool:
    """``localhost`` or a loopback address (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def url_of(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


# No proxy, whatever the environment says: the shop's processes are on loopback, and a proxy
# would mis-report them (or be told about our traffic).
LOOPBACK_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def free_port(host: str) -> int:
    """A port the OS says is free now (there is a small race until the server binds it)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def port_in_use(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def log_tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:]) or "(log empty)"
