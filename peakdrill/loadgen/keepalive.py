"""Keep-alive connections that survive past file descriptor 1024 in a Locust process.

geventhttpclient's ``ConnectionPool._is_socket_alive`` (2.6.x) decides whether a pooled keep-alive
socket can be reused by calling ``select.select([sock], [], [], 0.0)``. ``select()`` cannot take a
descriptor >= 1024 (FD_SETSIZE): it raises ``ValueError``, the pool reads that as a dead socket,
closes it and connects again. So in one Locust process past about 1,000 users every request of the
newer users opens a new TCP connection, which burns the generator's CPU and makes its latencies
lie. :func:`install` swaps the check for one built on ``poll()``, which has no descriptor limit.

It also raises the file-descriptor soft limit to the hard limit: each simulated user holds one
socket, so a worker meant to hold 20,000 users needs a little more than 20,000 descriptors.

The locustfile imports :mod:`peakdrill.loadgen.plugin`, which calls :func:`install`, so this runs in
every Locust process (local, master and each worker) before the first user starts.
"""

from __future__ import annotations

import logging
import resource
import select

import geventhttpclient
from gevent.monkey import get_original
from geventhttpclient.connectionpool import ConnectionPool

from peakdrill.errors import KeepAliveError

logger = logging.getLogger(__name__)

# The versions whose ``_is_socket_alive`` was read and found to use select(); another version
# must be read again before the patch is trusted on it, hence the loud failure.
PATCHED_VERSIONS = ("2.6.1",)
USERS_PER_PROCESS_TARGET = 20_000
# Descriptors a Locust process needs besides one socket per user (logs, ZeroMQ, Python itself).
FD_RESERVE = 1_000

# gevent's monkey-patched ``select.poll`` would park the greenlet; the original with timeout 0
# only asks the kernel and returns at once.
_poll = get_original("select", "poll")
# An idle keep-alive socket has nothing to read; data, EOF (the peer closed) or an error all mean
# it must not be reused, exactly as the select()-based original meant.
_NOT_REUSABLE = select.POLLIN | select.POLLPRI | select.POLLERR | select.POLLHUP | select.POLLNVAL


def socket_is_reusable(sock) -> bool:
    """The pool's liveness check, for any descriptor number."""
    if sock is None:
        return False
    try:
        fd = sock.fileno()
        if fd < 0:
            return False
        poller = _poll()
        poller.register(fd, _NOT_REUSABLE)
        return not poller.poll(0)
    except (OSError, ValueError):
        return False


def _is_socket_alive(self, sock) -> bool:
    return socket_is_reusable(sock)


# Kept so the patch can be checked against the behaviour it replaces.
ORIGINAL_CHECK = ConnectionPool._is_socket_alive


def _check_version() -> None:
    version = geventhttpclient.__version__
    original = getattr(ConnectionPool, "_is_socket_alive", None)
    if original is _is_socket_alive:
        return
    if version not in PATCHED_VERSIONS or original is None or "select" not in original.__code__.co_names:
        raise KeepAliveError(
            f"geventhttpclient {version!r} is not a version peakdrill's keep-alive fix was checked against "
            f"({', '.join(PATCHED_VERSIONS)}): read ConnectionPool._is_socket_alive in geventhttpclient/"
            f"connectionpool.py; if it still uses select(), add the version to PATCHED_VERSIONS in "
            f"peakdrill/loadgen/keepalive.py, otherwise remove the patch; or install geventhttpclient==2.6.1")


def raise_fd_limit(target_users: int = USERS_PER_PROCESS_TARGET) -> tuple[int, int]:
    """Raise the soft descriptor limit to the hard one; warn when that holds fewer users than planned.

    Returns the (soft, hard) limits now in force.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        wanted = target_users + FD_RESERVE if hard == resource.RLIM_INFINITY else hard
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
        except (OSError, ValueError) as exc:
            logger.warning("peakdrill: could not raise the open-file soft limit from %d to %d (%s)", soft, wanted, exc)
    if soft < target_users + FD_RESERVE:
        logger.warning(
            "peakdrill: open-file limit is %d (hard %d): this Locust process can hold about %d users with kept-alive "
            "connections, not %d. Raise the hard limit to at least %d: `ulimit -Hn %d` as root, LimitNOFILE= in a "
            "systemd unit, `nofile` in /etc/security/limits.conf, or `docker run --ulimit nofile=%d:%d`",
            soft, hard, max(0, soft - FD_RESERVE), target_users, target_users + FD_RESERVE,
            target_users + FD_RESERVE, target_users + FD_RESERVE, target_users + FD_RESERVE)
    return soft, hard


def install() -> None:
    """Patch geventhttpclient's liveness check and raise the descriptor limit (idempotent)."""
    _check_version()
    ConnectionPool._is_socket_alive = _is_socket_alive
    raise_fd_limit()
