"""One small HTTP client for probes and the load burst: never raises for an HTTP or network
failure, because a probe's job is to report what the target answered, including nothing."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

DEFAULT_TIMEOUT_S = 5.0


@dataclass(slots=True, frozen=True)
class Reply:
    status: int  # 0: no answer (refused, reset or timed out)
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    timed_out: bool = False


def call(method: str, url: str, body: Any = None, headers: dict[str, str] | None = None,
         timeout: float = DEFAULT_TIMEOUT_S) -> Reply:
    data = None if body is None else json.dumps(body).encode("utf-8")
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            return Reply(resp.status, dict(resp.headers), _json(resp.read()))
    except urllib.error.HTTPError as exc:
        return Reply(exc.code, dict(exc.headers or {}), _json(exc.read()))
    except (TimeoutError, socket.timeout):
        return Reply(0, timed_out=True)
    except urllib.error.URLError as exc:
        return Reply(0, timed_out=isinstance(exc.reason, (TimeoutError, socket.timeout)))
    except (ConnectionError, OSError):
        return Reply(0)


def _json(raw: bytes) -> Any:
    """JSON bodies parsed; anything else (Prometheus text, an HTML error page) as text."""
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return raw.decode("utf-8", "replace")
