"""Real servers peakdrill did not write, for the generic drivers: a PostgreSQL cluster from the
distribution's package, redis-server on loopback, and redis-server inside a network namespace
joined to this one by a veth pair (addresses from the 198.18.0.0/15 benchmarking range). Every
fixture removes what it made in ``finally``."""

from __future__ import annotations

import os
import secrets
import shlex
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from peakdrill.shop import pg_server, procs
from peakdrill.shop.redis_server import find_redis_server


def redis_argv(host: str, port: int, pid_file: Path | None = None) -> list[str]:
    argv = [find_redis_server(), "--bind", host, "--port", str(port), "--save", "", "--appendonly", "no",
            "--daemonize", "no", "--protected-mode", "no"]
    return argv + (["--pidfile", str(pid_file)] if pid_file else [])


def pid_in(pid_file: Path) -> int:
    try:
        return int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0


def client(host: str, port: int, timeout: float) -> redis.Redis:
    """One try per call: redis-py's default retries would hide how long the server is unreachable."""
    return redis.Redis(host=host, port=port, socket_timeout=timeout, socket_connect_timeout=timeout,
                       retry=Retry(NoBackoff(), 0))


def redis_answers(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        return bool(client(host, port, timeout).ping())
    except redis.RedisError:
        return False


@dataclass
class RedisLoad:
    """INCRs without pause from a thread; counts what succeeded and what failed, bounded in time."""
    host: str
    port: int
    max_s: float = 120
    ok: int = 0
    failed: int = 0
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        deadline = time.monotonic() + self.max_s
        while not self.stop.is_set() and time.monotonic() < deadline:
            try:
                client(self.host, self.port, 0.3).incr("load")
                self.ok += 1
            except (redis.RedisError, OSError):
                self.failed += 1
            self.stop.wait(0.01)


@contextmanager
def redis_load(host: str, port: int) -> Iterator[RedisLoad]:
    load = RedisLoad(host, port)
    thread = threading.Thread(target=load.run, daemon=True)
    thread.start()
    try:
        yield load
    finally:
        load.stop.set()
        thread.join(10)


@dataclass(frozen=True)
class RedisByPidFile:
    host: str
    port: int
    pid_file: Path
    command: str


@contextmanager
def redis_with_pid_file() -> Iterator[RedisByPidFile]:
    directory = Path(tempfile.mkdtemp(prefix="pd-redis-"))
    host, port = "127.0.0.1", procs.free_port("127.0.0.1")
    server = RedisByPidFile(host, port, directory / "redis.pid", shlex.join(redis_argv(host, port, directory / "redis.pid")))
    procs.spawn(shlex.split(server.command), directory / "redis.log")
    try:
        assert procs.wait_until(lambda: redis_answers(host, port) and pid_in(server.pid_file) > 0, 15)
        yield server
    finally:
        # Whichever redis-server the pid file names now (the first, or the one a restart started).
        for _ in range(3):
            pid = pid_in(server.pid_file)
            if pid and procs.alive(pid):
                os.kill(pid, signal.SIGCONT)  #: a test that failed mid-freeze must not leave it stopped
                procs.terminate(pid, timeout=5)
        shutil.rmtree(directory, ignore_errors=True)


@dataclass(frozen=True)
class Namespace:
    name: str
    veth: str  # the end in this namespace
    outside: str  # this namespace's address on the link
    inside: str  # the namespace's address


def _ip(*argv: str) -> None:
    subprocess.run(["ip", *argv], check=True, capture_output=True, timeout=15)


@contextmanager
def network_namespace() -> Iterator[Namespace]:
    token = secrets.token_hex(3)
    third = int(token[:2], 16)
    ns = Namespace(f"pd-test-{token}", f"pdv{token}a", f"198.18.{third}.1", f"198.18.{third}.2")
    try:
        _ip("netns", "add", ns.name)
        _ip("link", "add", ns.veth, "type", "veth", "peer", "name", f"pdv{token}b")
        _ip("link", "set", f"pdv{token}b", "netns", ns.name)
        _ip("addr", "add", f"{ns.outside}/30", "dev", ns.veth)
        _ip("link", "set", ns.veth, "up")
        _ip("-n", ns.name, "addr", "add", f"{ns.inside}/30", "dev", f"pdv{token}b")
        _ip("-n", ns.name, "link", "set", f"pdv{token}b", "up")
        _ip("-n", ns.name, "link", "set", "lo", "up")
        yield ns
    finally:
        subprocess.run(["ip", "link", "del", ns.veth], capture_output=True, timeout=15)
        subprocess.run(["ip", "netns", "del", ns.name], capture_output=True, timeout=15)


def leftovers(ns: Namespace) -> list[str]:
    """What of the namespace is still on the machine (nothing, once it is removed)."""
    names = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    links = subprocess.run(["ip", "-br", "link"], capture_output=True, text=True).stdout
    return [line for line in (names + links).splitlines() if ns.name in line or ns.veth[:-1] in line]


@dataclass(frozen=True)
class Host:
    name: str  # its network namespace
    address: str  # its address on the test network


def pids_in(namespace: str) -> list[int]:
    out = subprocess.run(["ip", "netns", "pids", namespace], capture_output=True, text=True, timeout=15).stdout
    return [int(pid) for pid in out.split()]


@contextmanager
def host_network(count: int) -> Iterator[list[Host]]:
    """``count`` hosts on one network: each a namespace with one veth into a switch (a bridge in a
    namespace of its own), all in 198.18.T.0/24. The machine's own interfaces, routes and loopback
    are not touched; removing the namespaces (in ``finally``, after stopping whatever still runs in
    them) removes every interface with them."""
    token = secrets.token_hex(3)
    third = int(token[:2], 16)
    switch = f"pd-sw-{token}"
    hosts = [Host(f"pd-h{index}-{token}", f"198.18.{third}.{10 + index}") for index in range(count)]
    created: list[str] = []
    try:
        _ip("netns", "add", switch)
        created.append(switch)
        _ip("-n", switch, "link", "add", "br0", "type", "bridge")
        _ip("-n", switch, "link", "set", "br0", "up")
        for index, host in enumerate(hosts):
            _ip("netns", "add", host.name)
            created.append(host.name)
            _ip("-n", host.name, "link", "add", "eth0", "type", "veth", "peer", "name", f"port{index}", "netns", switch)
            _ip("-n", switch, "link", "set", f"port{index}", "master", "br0")
            _ip("-n", switch, "link", "set", f"port{index}", "up")
            _ip("-n", host.name, "addr", "add", f"{host.address}/24", "dev", "eth0")
            _ip("-n", host.name, "link", "set", "eth0", "up")
            _ip("-n", host.name, "link", "set", "lo", "up")
        yield hosts
    finally:
        for name in reversed(created):
            for pid in pids_in(name):  # only what this test started can be in a namespace it just made
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=15)


def network_leftovers(hosts: list[Host]) -> list[str]:
    """What of a :func:`host_network` is still on the machine: namespaces, links, processes."""
    token = hosts[0].name.rsplit("-", 1)[1]
    names = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    links = subprocess.run(["ip", "-br", "link"], capture_output=True, text=True).stdout
    return [line for line in (names + links).splitlines() if token in line]


@contextmanager
def redis_in_namespace(ns: Namespace, port: int = 6379) -> Iterator[int]:
    directory = Path(tempfile.mkdtemp(prefix="pd-nsredis-"))
    pid, created = procs.spawn(["ip", "netns", "exec", ns.name, *redis_argv(ns.inside, port)], directory / "redis.log")
    try:
        assert procs.wait_until(lambda: redis_answers(ns.inside, port), 15), procs.log_tail(directory / "redis.log")
        yield port
    finally:
        procs.terminate(pid, created, timeout=5)
        shutil.rmtree(directory, ignore_errors=True)


@contextmanager
def postgres_cluster() -> Iterator[pg_server.PgServer]:
    directory = Path(tempfile.mkdtemp(prefix="pd-pg-"))
    try:
        yield pg_server.start(directory)
    finally:
        try:
            pg_server.stop(directory)
        finally:
            shutil.rmtree(directory, ignore_errors=True)
