"""Probes for any system: does a TCP port accept connections, what does a URL answer.

Both check the allowlist (with the configuration chaoslib hands them) first, so a steady-state hypothesis cannot be pointed at a host the
configuration does not allow.
"""

from __future__ import annotations

import socket

from peakdrill.chaos import args, client
from peakdrill.chaos.generic_target import allowlist, ensure_host, ip_address, port as port_arg, url as url_arg

__all__ = ["port_answers", "validate_port_answers", "http_status", "validate_http_status"]


def validate_port_answers(host: str = "127.0.0.1", port: int = 0, timeout: float = 2) -> None:
    ip_address("host", host)
    port_arg("port", port)
    args.duration(timeout, "timeout")


def port_answers(host: str = "127.0.0.1", port: int = 0, timeout: float = 2, configuration: dict | None = None) -> bool:
    """True when ``host:port`` accepts a TCP connection within ``timeout`` s."""
    validate_port_answers(host, port, timeout)
    ensure_host(host, "the host", configuration)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(float(timeout))
        try:
            return sock.connect_ex((host, int(port))) == 0
        except OSError:  # a timeout under a partition is an answer too: no
            return False


def validate_http_status(url: str = "", timeout: float = 5) -> None:
    url_arg("url", url)
    args.duration(timeout, "timeout")


def http_status(url: str = "", timeout: float = 5, configuration: dict | None = None) -> int:
    """The HTTP status ``url`` answers a GET with; 0 when nothing answers within ``timeout`` s."""
    validate_http_status(url, timeout)
    return client.call(allowlist(configuration, url), "GET", url, timeout=float(timeout)).status
