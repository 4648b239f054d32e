"""The first line of safety: load and faults only go to hosts the configuration allows.

A load tool aimed at the wrong host is an outage, so the check runs before a single request is
sent, and refusing is the default: only loopback is allowed unless a target lists more.

Two checks share the list. :func:`ensure_allowed` refuses a configured URL before anything runs.
:class:`Allowlist` is the second line, for every connection a load process or a chaos probe opens
while it runs (an absolute URL in a locustfile, a redirect, a name that resolves elsewhere): it
judges the address a socket is about to connect to, so neither DNS nor a redirect can escape.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

from peakdrill.errors import EgressRefusedError, UnsafeTargetError, quote

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
# The request name a refused request is recorded under (the report counts them by this prefix).
REFUSED_PREFIX = "refused by the allowlist: "
# How often an allowed host *name* may be resolved again when an address is not (yet) among its
# addresses: DNS of a host you own may change during a run; a refusal must not cost a lookup each.
RESOLVE_AGAIN_S = 5.0


def host_of(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeTargetError(f"target URL {quote(url)} is not an http(s) URL with a host; write e.g. http://127.0.0.1:8800")
    return parts.hostname


def ensure_allowed(url: str, allowed_hosts: tuple[str, ...] | list[str], source: str) -> str:
    """Return the URL's host if it is allowed, else raise naming where to allow it."""
    host = host_of(url)
    if host not in allowed_hosts:
        raise UnsafeTargetError(
            f"refusing to send load or faults to {quote(host)} (from {quote(url)}): it is not in the allowed hosts "
            f"{list(allowed_hosts)}. If this host is really yours to test, add it to target.allowed_hosts "
            f"in {source}, or pass --allow-host {host}"
        )
    return host


def refused_name(endpoint: str) -> str:
    return REFUSED_PREFIX + endpoint


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The IP address ``text`` writes, with an IPv4-mapped IPv6 address read as the IPv4 one."""
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped or address


class Allowlist:
    """The addresses a run may connect to: its allowed hosts, names resolved to their addresses.

    ``resolve`` is ``socket.getaddrinfo`` looked up at call time, so inside a Locust process it is
    gevent's cooperative resolver.
    """

    def __init__(self, hosts: Iterable[str], resolve: Callable | None = None) -> None:
        self.hosts = tuple(dict.fromkeys(host for host in hosts if host))
        self._resolve = resolve or (lambda *a: socket.getaddrinfo(*a))
        self._literal = {a for a in map(_address, self.hosts) if a is not None}
        self._names = tuple(host for host in self.hosts if _address(host) is None)
        self._resolved: set = set()
        self._resolved_at = float("-inf")

    def _names_resolve_to(self, address) -> bool:
        if address in self._resolved:
            return True
        if not self._names or time.monotonic() - self._resolved_at < RESOLVE_AGAIN_S:
            return False
        resolved = set()
        for name in self._names:
            try:
                resolved.update(_address(info[4][0]) for info in self._resolve(name, None, 0, socket.SOCK_STREAM))
            except OSError:
                continue  # a name that does not resolve allows nothing
        self._resolved, self._resolved_at = resolved, time.monotonic()
        return address in resolved

    def allows(self, ip: str) -> bool:
        address = _address(ip)
        return address is not None and (address in self._literal or self._names_resolve_to(address))

    def check(self, address: tuple, family: int = socket.AF_UNSPEC) -> tuple:
        """The socket address to connect to, with a host name resolved to an allowed IP here (so the
        connection goes to the very address that was checked); raises :class:`EgressRefusedError`."""
        host, port = address[0], address[1]
        if _address(host) is not None:
            if self.allows(host):
                return address
            raise EgressRefusedError(host, port, self.hosts)
        infos = self._resolve(host, port, family, socket.SOCK_STREAM)
        for info in infos:
            if self.allows(info[4][0]):
                return info[4]
        raise EgressRefusedError(infos[0][4][0] if infos else host, port, self.hosts)
