"""Keep-alive past file descriptor 1024: the patched liveness check, and 2,000 users on the wire.

The wire test counts TCP connections at a real server while one Locust process holds 2,000
users; the same run without peakdrill's hook shows the reconnect storm the fix removes.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import geventhttpclient
import pytest
from geventhttpclient.connectionpool import ConnectionPool

from peakdrill.errors import KeepAliveError
from peakdrill.loadgen import keepalive
from peakdrill.sizing.fastserver import FastServer
from peakdrill.sizing.idle_users import write_idle_locustfile

USERS = 2_000
HIGH_FD = 1_500  # above select()'s FD_SETSIZE of 1024


@pytest.fixture
def high_fd_pair():
    """A connected socket pair whose first socket sits on a descriptor select() cannot take."""
    left, right = socket.socketpair()
    os.dup2(left.fileno(), HIGH_FD)
    left.close()
    high = socket.socket(fileno=HIGH_FD)
    try:
        yield high, right
    finally:
        high.close()
        right.close()


def test_select_based_original_calls_an_idle_high_descriptor_dead(high_fd_pair):
    high, _ = high_fd_pair
    assert keepalive.ORIGINAL_CHECK(None, high) is False


def test_patched_check_keeps_an_idle_high_descriptor(high_fd_pair):
    high, _ = high_fd_pair
    assert keepalive.socket_is_reusable(high) is True


def test_patched_check_drops_a_socket_the_peer_closed(high_fd_pair):
    high, peer = high_fd_pair
    peer.close()
    assert keepalive.socket_is_reusable(high) is False


def test_patched_check_drops_a_socket_with_unread_data(high_fd_pair):
    high, peer = high_fd_pair
    peer.sendall(b"stray")
    assert keepalive.socket_is_reusable(high) is False


def test_unknown_geventhttpclient_version_fails_loudly(monkeypatch):
    monkeypatch.setattr(ConnectionPool, "_is_socket_alive", keepalive.ORIGINAL_CHECK)
    monkeypatch.setattr(geventhttpclient, "__version__", "9.0.0")
    with pytest.raises(KeepAliveError, match="'9.0.0'"):
        keepalive.install()


def test_install_patches_the_pool_and_raises_the_soft_limit(monkeypatch):
    import resource

    monkeypatch.setattr(ConnectionPool, "_is_socket_alive", keepalive.ORIGINAL_CHECK)
    before = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, before[1]))
    try:
        keepalive.install()
        assert ConnectionPool._is_socket_alive is not keepalive.ORIGINAL_CHECK
        assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] == before[1]
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, before)


def run_locust(tmp_path, server: FastServer, with_hook: bool) -> None:
    locustfile = write_idle_locustfile(tmp_path, with_hook)
    command = [sys.executable, "-m", "locust", "-f", str(locustfile), "--headless", "--host", server.url,
               "-u", str(USERS), "-r", "400", "-t", "25s", "--stop-timeout", "0", "--only-summary",
               "--loglevel", "WARNING"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=tmp_path)
    try:
        _, errors = process.communicate(timeout=90)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    assert process.returncode in (0, 1), errors.decode(errors="replace")[-2000:]


@pytest.fixture
def descriptors_for_the_server():
    """The counting server lives in this process and holds one socket per user."""
    soft, hard = keepalive.raise_fd_limit(USERS)
    if soft < USERS + 200:
        pytest.skip(f"open-file limit {soft} (hard {hard}) is below {USERS + 200}: raise it (docs/scaling.md)")


@pytest.mark.slow
@pytest.mark.usefixtures("descriptors_for_the_server")
def test_two_thousand_users_in_one_process_hold_their_connections(tmp_path):
    with FastServer() as server:
        run_locust(tmp_path, server, with_hook=True)
        counters = server.counters
    # Users come back 2-4 times in the run; each return must ride the connection it opened.
    assert counters.requests >= 2 * USERS, counters
    assert counters.connections <= USERS, counters


@pytest.mark.slow
@pytest.mark.usefixtures("descriptors_for_the_server")
def test_without_the_fix_users_past_descriptor_1024_reconnect(tmp_path):
    with FastServer() as server:
        run_locust(tmp_path, server, with_hook=False)
        counters = server.counters
    assert counters.requests >= 2 * USERS, counters
    assert counters.connections > 1.3 * USERS, counters
