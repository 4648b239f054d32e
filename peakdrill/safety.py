"""The first line of safety: load and faults only go to hosts the configuration allows.

A load tool aimed at the wrong host is an outage, so the check runs before a single request is
sent, and refusing is the default: only loopback is allowed unless a target lists more.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from peakdrill.errors import UnsafeTargetError

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def host_of(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeTargetError(f"target URL {url!r} is not an http(s) URL with a host; write e.g. http://127.0.0.1:8800")
    return parts.hostname


def ensure_allowed(url: str, allowed_hosts: tuple[str, ...] | list[str], source: str) -> str:
    """Return the URL's host if it is allowed, else raise naming where to allow it."""
    host = host_of(url)
    if host not in allowed_hosts:
        raise UnsafeTargetError(
            f"refusing to send load or faults to {host!r} (from {url!r}): it is not in the allowed hosts "
            f"{list(allowed_hosts)}. If this host is really yours to test, add it to target.allowed_hosts "
            f"in {source}, or pass --allow-host {host}"
        )
    return host
