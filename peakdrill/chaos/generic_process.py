"""Process faults on any process of this machine, found by pid file, command-line pattern or
listening port: kill (and restart with a given command), freeze with SIGSTOP (thawed with SIGCONT
by the method, a rollback or the dead-man), and wait until the service is healthy again.

A process is never one of peakdrill's own (this process, its ancestors) nor PID 1, and a pattern
or port must name exactly one process: the machine is shared, a guess could hit someone else's.
"""

from __future__ import annotations

import os
import re
import shlex
import signal as signals
import time
from dataclasses import dataclass

import psutil

from peakdrill import events
from peakdrill.chaos import args, lifecycle, ledger
from peakdrill.chaos.generic_probes import http_status, port_answers
from peakdrill.chaos.generic_target import DEFAULT_LEDGER_DIR, ensure_host, ip_address, ledger_dir as ledger_arg
from peakdrill.chaos.generic_target import port as port_arg, url as url_arg
from peakdrill.errors import ChaosError, quote
from peakdrill.shop import procs

__all__ = ["kill_process", "validate_kill_process", "restart_process", "validate_restart_process",
           "freeze_process", "validate_freeze_process", "thaw_process", "validate_thaw_process",
           "wait_until_healthy", "validate_wait_until_healthy"]

KILLED = "process-killed"
FROZEN = "process-frozen"
SIGNALS = ("SIGKILL", "SIGTERM", "SIGINT", "SIGQUIT")
EXIT_WAIT_S = 10.0


@dataclass(slots=True, frozen=True)
class Selector:
    pid_file: str
    pattern: str
    port: int
    host: str

    def describe(self) -> str:
        if self.pid_file:
            return f"pid-file {self.pid_file}"
        if self.pattern:
            return f"pattern {self.pattern}"
        return f"port {self.host}:{self.port}"

    def params(self) -> dict:
        return {"pid_file": self.pid_file, "pattern": self.pattern, "port": self.port, "host": self.host}


def selector(pid_file: str = "", pattern: str = "", port: int = 0, host: str = "127.0.0.1") -> Selector:
    """Exactly one way of finding the process, well formed."""
    chosen = [name for name, value in (("pid_file", pid_file), ("pattern", pattern), ("port", port))
              if value not in ("", 0, "0", None)]
    if len(chosen) != 1:
        raise ChaosError(f"give exactly one of pid_file, pattern, port to find the process, not {chosen or 'none'} "
                         f"(fix: e.g. pid_file: /run/redis/redis-server.pid)")
    if pattern:
        try:
            re.compile(str(pattern))
        except re.error as exc:
            raise ChaosError(f"argument pattern={quote(pattern)} is not a regular expression: {exc} "
                             f"(fix: e.g. pattern: 'redis-server .*:6379')") from exc
    return Selector(str(pid_file or ""), str(pattern or ""), port_arg("port", port, required=False),
                    ip_address("host", host))


def _protected() -> set[int]:
    me = psutil.Process()
    return {1, me.pid} | {parent.pid for parent in me.parents()}


def _one(pids: set[int], sel: Selector) -> psutil.Process:
    pids -= _protected()
    if len(pids) != 1:
        found = "no process" if not pids else f"{len(pids)} processes ({', '.join(map(str, sorted(pids)[:5]))})"
        raise ChaosError(f"{sel.describe()} finds {found}; a fault needs exactly one "
                         f"(fix: a pid file or a pattern that matches only the process you mean)")
    proc = procs.process(pids.pop())
    if proc is None:
        raise ChaosError(f"the process of {sel.describe()} is gone (fix: start it, or point the selector at a live one)")
    return proc


def _pids_of(sel: Selector) -> set[int]:
    if sel.pid_file:
        try:
            text = open(sel.pid_file, encoding="utf-8").readline().strip()
        except OSError as exc:
            raise ChaosError(f"pid file {quote(sel.pid_file)} is unreadable: {exc} (fix: the service's pid file path)") from exc
        if not text.isdigit():
            raise ChaosError(f"pid file {quote(sel.pid_file)} does not start with a PID: {quote(text)}")
        pid = int(text)
        return {pid} if procs.alive(pid) else set()
    if sel.pattern:
        found = set()
        for proc in psutil.process_iter(["cmdline"]):
            if re.search(sel.pattern, " ".join(proc.info["cmdline"] or ())):
                found.add(proc.pid)
        return found
    listening = (sel.host, "0.0.0.0", "::")
    return {conn.pid for conn in psutil.net_connections("tcp") if conn.status == psutil.CONN_LISTEN
            and conn.laddr and conn.laddr.port == sel.port and conn.laddr.ip in listening and conn.pid}


def locate(sel: Selector, configuration: dict | None = None) -> psutil.Process:
    """The one live process ``sel`` names, after the allowlist check of its host."""
    ensure_host(sel.host, "the service host", configuration)
    return _one(_pids_of(sel), sel)


def _found(sel: Selector) -> bool:
    try:
        return bool(_pids_of(sel) - _protected())
    except ChaosError:
        return False


def _gone(pid: int, create_time: float) -> bool:
    """Exited with every thread: a killed multi-threaded server's main thread shows as a zombie
    while its other threads still exit, and its sockets close only with the last of them."""
    try:
        return len(os.listdir(f"/proc/{pid}/task")) <= 1 and not procs.alive(pid, create_time)
    except FileNotFoundError:
        return True


# -- kill and restart ------------------------------------------------------------------------

def _command(value: str) -> list[str]:
    try:
        argv = shlex.split(str(value or ""))
    except ValueError as exc:
        raise ChaosError(f"argument restart_command={quote(value)} does not parse as a shell command: {exc}") from exc
    return argv


def validate_kill_process(ledger_dir: str = DEFAULT_LEDGER_DIR, pid_file: str = "", pattern: str = "", port: int = 0,
                          host: str = "127.0.0.1", signal: str = "SIGKILL", restart_command: str = "",
                          cwd: str = "", duration: float = 30) -> None:
    ledger_arg(ledger_dir)
    selector(pid_file, pattern, port, host)
    args.choice("signal", signal, SIGNALS)
    _command(restart_command)
    args.duration(duration)


def kill_process(ledger_dir: str = DEFAULT_LEDGER_DIR, pid_file: str = "", pattern: str = "", port: int = 0,
                 host: str = "127.0.0.1", signal: str = "SIGKILL", restart_command: str = "",
                 cwd: str = "", duration: float = 30, configuration: dict | None = None) -> dict:
    """Send ``signal`` to the process and wait until it is gone. With ``restart_command`` the kill
    is a recorded fault: ``restart_process`` (or the dead-man, ``duration`` s + grace after
    injection at the latest) runs the command; without, the system is expected to heal itself."""
    validate_kill_process(ledger_dir, pid_file, pattern, port, host, signal, restart_command, cwd, duration)
    sel = selector(pid_file, pattern, port, host)
    victim = locate(sel, configuration)
    pid, create_time = victim.pid, victim.create_time()

    def kill() -> None:
        victim.send_signal(getattr(signals, signal))
        if not procs.wait_until(lambda: _gone(pid, create_time), EXIT_WAIT_S):
            raise ChaosError(f"pid {pid} ({sel.describe()}) still runs {EXIT_WAIT_S:g}s after {signal} (fix: signal: SIGKILL)")

    fault_id = f"{KILLED}:{sel.describe()}"
    if restart_command:
        lifecycle.inject(ledger_dir, fault=KILLED, fault_id=fault_id, target=f"{sel.describe()} pid {pid}",
                         duration_s=float(duration), undo=run_restart_command, do=kill,
                         params={**sel.params(), "command": _command(restart_command), "cwd": cwd})
    else:
        kill()
        events.publish(events.FaultInjected(fault_id=f"{fault_id}@{pid}", fault=KILLED, target=f"{sel.describe()} pid {pid}"))
    return {"killed_pid": pid, "signal": signal, "found_by": sel.describe(), "restart_recorded": bool(restart_command)}



def validate_restart_process(ledger_dir: str = DEFAULT_LEDGER_DIR, pid_file: str = "", pattern: str = "", port: int = 0,
                             host: str = "127.0.0.1", restart_command: str = "", cwd: str = "", by: str = "method") -> None:
    ledger_arg(ledger_dir)
    selector(pid_file, pattern, port, host)
    _command(restart_command)
    args.remover_by(by)


def restart_process(ledger_dir: str = DEFAULT_LEDGER_DIR, pid_file: str = "", pattern: str = "", port: int = 0,
                    host: str = "127.0.0.1", restart_command: str = "", cwd: str = "", by: str = "method",
                    configuration: dict | None = None) -> dict:
    """Remove a recorded kill (run its restart command); with nothing recorded, run
    ``restart_command`` if the process is not running. Idempotent: a running process is left alone."""
    validate_restart_process(ledger_dir, pid_file, pattern, port, host, restart_command, cwd, by)
    sel = selector(pid_file, pattern, port, host)
    ensure_host(sel.host, "the service host", configuration)
    removed = lifecycle.remove(ledger_dir, f"{KILLED}:{sel.describe()}", by)
    started = removed is not None
    if removed is None and restart_command and not _found(sel):
        run_restart_command(ledger_dir, {**sel.params(), "command": _command(restart_command), "cwd": cwd})
        started = True
    return {"restarted": started, "was_recorded": removed is not None}


def run_restart_command(ledger_dir: str, params: dict) -> None:
    """The undo of a recorded kill: start the command unless the process runs again already."""
    sel = Selector(params["pid_file"], params["pattern"], int(params["port"]), params["host"])
    if _found(sel):
        return
    log = ledger.faults_dir(ledger_dir) / "restarted.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    try:
        procs.spawn(list(params["command"]), log, cwd=params.get("cwd") or None)
    except OSError as exc:
        raise ChaosError(f"restart command {quote(' '.join(params['command']))} did not start: {exc}") from exc


# -- freeze and thaw ---------------------------------------------------------------------------

def validate_freeze_process(ledger_dir: str = DEFAULT_LEDGER_DIR, pid_file: str = "", pattern: str = "", port: int = 0,
                            host: str = "127.0.0.1", duration: float = 30, children: bool = True) -> None:
    ledger_arg(ledger_dir)
    selector(pid_file, pattern, port, host)
    args.duration(duration)
    args.choice("children", children, (True, False))


def freeze_process(ledger_dir: str = DEFAULT_LEDGER_DIR, pid_file: str = "", pattern: str = "", port: int = 0,
                   host: str = "127.0.0.1", duration: float = 30, children: bool = True,
                   configuration: dict | None = None) -> dict:
    """SIGSTOP the process (and, with ``children``, its whole tree: a server's workers) for at most
    ``duration`` s; the dead-man sends SIGCONT if nothing else did by ``duration`` + grace."""
    validate_freeze_process(ledger_dir, pid_file, pattern, port, host, duration, children)
    sel = selector(pid_file, pattern, port, host)
    root = locate(sel, configuration)
    # The root is on disk before the first signal; the undo thaws it and whatever descends from it
    # then, so a runner dying mid-way leaves nothing frozen that the record cannot reach.
    recorded = {"pids": [[root.pid, root.create_time()]], "children": bool(children)}

    def stop() -> dict:
        root.send_signal(signals.SIGSTOP)  # first: a stopped parent forks no new children meanwhile
        tree = [root] + (root.children(recursive=True) if children else [])
        for proc in tree[1:]:
            try:
                proc.send_signal(signals.SIGSTOP)
            except psutil.NoSuchProcess:
                pass  # a short-lived child (a backend, an autovacuum worker) that just ended
        frozen = [[proc.pid, proc.create_time()] for proc in tree if procs.alive(proc.pid)]
        procs.wait_until(lambda: _all_stopped(frozen), EXIT_WAIT_S)  # the kernel stops them asynchronously
        return {"pids": frozen}

    record = lifecycle.inject(ledger_dir, fault=FROZEN, fault_id=f"{FROZEN}:{sel.describe()}",
                              target=f"{sel.describe()} pid {root.pid}", duration_s=float(duration),
                              undo=continue_processes, do=stop, params=recorded)
    frozen = record.params["pids"]
    return {"pid": root.pid, "frozen_pids": [pid for pid, _ in frozen], "stopped": _all_stopped(frozen)}


def validate_thaw_process(ledger_dir: str = DEFAULT_LEDGER_DIR, pid_file: str = "", pattern: str = "", port: int = 0,
                          host: str = "127.0.0.1", by: str = "method") -> None:
    ledger_arg(ledger_dir)
    selector(pid_file, pattern, port, host)
    args.remover_by(by)


def thaw_process(ledger_dir: str = DEFAULT_LEDGER_DIR, pid_file: str = "", pattern: str = "", port: int = 0,
                 host: str = "127.0.0.1", by: str = "method") -> dict:
    """SIGCONT what ``freeze_process`` stopped; idempotent."""
    validate_thaw_process(ledger_dir, pid_file, pattern, port, host, by)
    sel = selector(pid_file, pattern, port, host)
    removed = lifecycle.remove(ledger_dir, f"{FROZEN}:{sel.describe()}", by)
    return {"thawed_pids": [pid for pid, _ in removed.params["pids"]] if removed else [], "was_recorded": removed is not None}


def continue_processes(ledger_dir: str, params: dict) -> None:
    """The undo of a freeze: SIGCONT each recorded process and (``children``) all its descendants."""
    for pid, create_time in params.get("pids", []):
        proc = procs.process(int(pid), float(create_time))
        if proc is None:
            continue
        proc.send_signal(signals.SIGCONT)
        for child in proc.children(recursive=True) if params.get("children") else ():
            try:
                child.send_signal(signals.SIGCONT)
            except psutil.NoSuchProcess:
                pass


def _all_stopped(pids: list) -> bool:
    """The first of ``pids`` is stopped, and so is every other that still runs (a child may end)."""
    def state(pid: int, created: float) -> str:
        proc = procs.process(int(pid), float(created))
        try:
            return proc.status() if proc is not None else "gone"
        except psutil.NoSuchProcess:
            return "gone"

    # A child that ended after the parent stopped stays a zombie until the (stopped) parent reaps it.
    ended = (psutil.STATUS_STOPPED, psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD, "gone")
    states = [state(pid, created) for pid, created in pids]
    return bool(states) and states[0] == psutil.STATUS_STOPPED and all(s in ended for s in states)


# -- healthy again -----------------------------------------------------------------------------

def validate_wait_until_healthy(host: str = "127.0.0.1", port: int = 0, url: str = "", pid_file: str = "",
                                pattern: str = "", timeout: float = 30) -> None:
    ip_address("host", host)
    port_arg("port", port, required=False)
    if url:
        url_arg("url", url)
    if not (url or port):
        raise ChaosError("give a port or a url to judge health by (fix: e.g. port: 6379)")
    if pid_file and pattern:
        raise ChaosError("give at most one of pid_file, pattern (fix: keep the one that finds the process)")
    args.duration(timeout, "timeout")


def wait_until_healthy(host: str = "127.0.0.1", port: int = 0, url: str = "", pid_file: str = "",
                       pattern: str = "", timeout: float = 30, configuration: dict | None = None) -> dict:
    """Wait until ``url`` answers 2xx (else ``host:port`` accepts connections), and the process of
    ``pid_file``/``pattern`` runs when one is given."""
    validate_wait_until_healthy(host, port, url, pid_file, pattern, timeout)
    ensure_host(host, "the service host", configuration)
    sel = Selector(pid_file, pattern, 0, host) if (pid_file or pattern) else None
    started = time.monotonic()

    def healthy() -> bool:
        answers = (200 <= http_status(url, 2, configuration) < 300) if url else port_answers(host, port, 1, configuration)
        return answers and (sel is None or _found(sel))

    if not procs.wait_until(healthy, float(timeout), 0.2):
        raise ChaosError(f"{url or f'{host}:{port}'} is not healthy after {timeout}s (fix: read the service's log)")
    return {"healthy": True, "after_s": round(time.monotonic() - started, 2)}
