"""One small HTTP client for probes and the load burst: never raises for an HTTP or network
failure, because a probe's job is to report what the target answered, including nothing.

Every connection it opens, a redirect's included, is first checked against the run's allowlist
(:class:`peakdrill.safety.Allowlist`) at the address it is about to connect to; a refused one
raises :class:`~peakdrill.errors.EgressRefusedError`: that is not an answer of the target but a
request that must never have been made, so the activity fails saying so.
"""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from peakdrill.errors import EgressRefusedError
from peakdrill.safety import Allowlist

DEFAULT_TIMEOUT_S = 5.0


@dataclass(slots=True, frozen=True)
class Reply:
    status: int  # 0: no answer (refused, reset or timed out)
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    timed_out: bool = False


class _Guard:
    """Mixed into urllib's HTTP(S) handlers: each connection they make goes through the allowlist."""

    def __init__(self, allowlist: Allowlist) -> None:
        super().__init__()
        self.allowlist = allowlist

    def do_open(self, http_class, req, **kwargs):
        allowlist = self.allowlist

        def guarded_create(address, *args):
            return socket.create_connection(allowlist.check(address)[:2], *args)

        def connection(host, **conn_kwargs):
            conn = http_class(host, **conn_kwargs)
            # http.client connects through this attribute (HTTPS too, before wrapping the socket).
            conn._create_connection = guarded_create
            return conn

        return super().do_open(connection, req, **kwargs)


class _HTTPHandler(_Guard, urllib.request.HTTPHandler):
    pass


class _HTTPSHandler(_Guard, urllib.request.HTTPSHandler):
    pass


@dataclass(slots=True, frozen=True)
class Target:
    """A base URL and the allowlist every request to it, and every redirect it answers, must pass."""

    url: str
    allowlist: Allowlist

    def call(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
             timeout: float = DEFAULT_TIMEOUT_S) -> Reply:
        return call(self.allowlist, method, self.url + path, body, headers, timeout)


def call(allowlist: Allowlist, method: str, url: str, body: Any = None, headers: dict[str, str] | None = None,
         timeout: float = DEFAULT_TIMEOUT_S) -> Reply:
    data = None if body is None else json.dumps(body).encode("utf-8")
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json", **(headers or {})})
    opener = urllib.request.build_opener(_HTTPHandler(allowlist), _HTTPSHandler(allowlist))
    try:
        with opener.open(request, timeout=timeout) as resp:
            return Reply(resp.status, dict(resp.headers), _json(resp.read()))
    except urllib.error.HTTPError as exc:
        return Reply(exc.code, dict(exc.headers or {}), _json(exc.read()))
    except EgressRefusedError:
        raise
    except (TimeoutError, socket.timeout):
        return Reply(0, timed_out=True)
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, EgressRefusedError):
            raise exc.reason from exc
        return Reply(0, timed_out=isinstance(exc.reason, (TimeoutError, socket.timeout)))
    except (ConnectionError, OSError):
        return Reply(0)


def _json(raw: bytes) -> Any:
    """JSON bodies parsed; anything else (Prometheus text, an HTML error page) as text."""
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return raw.decode("utf-8", "replace")
