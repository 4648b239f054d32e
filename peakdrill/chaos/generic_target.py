"""What a generic driver may act on: a system peakdrill did not start, named by variables.

The same allowlist as the shop's faults (loopback, plus ``PEAKDRILL_ALLOWED_HOSTS``) decides which
hosts a fault may reach. The fault ledger of a generic fault lives in ``<ledger_dir>/faults/``, the
directory ``peakdrill chaos recover --shop-dir`` reads; it need not hold a shop.
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any

from peakdrill.chaos import args
from peakdrill.chaos.target import allowed_hosts
from peakdrill.errors import ChaosError, UnsafeTargetError, quote
from peakdrill.safety import ensure_allowed

DEFAULT_LEDGER_DIR = ".peakdrill/shop"
WHERE_TO_ALLOW = "PEAKDRILL_ALLOWED_HOSTS (comma-separated)"


def ensure_host(host: str, what: str) -> str:
    """Refuse a fault on ``host`` unless it is an allowed host."""
    if host not in allowed_hosts():
        raise UnsafeTargetError(f"refusing a fault on {what} {quote(host)}: it is not in the allowed hosts "
                                f"{list(allowed_hosts())} (fix: if it is yours to test, add it to {WHERE_TO_ALLOW})")
    return host


def ensure_url(url: str) -> str:
    ensure_allowed(url, allowed_hosts(), WHERE_TO_ALLOW)
    return url


def ledger_dir(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ChaosError(f"argument ledger_dir={quote(value)} must be a directory path "
                         f"(fix: e.g. ledger_dir: {DEFAULT_LEDGER_DIR})")
    return value


def ip_address(name: str, value: Any, required: bool = True) -> str:
    """An IP literal (a kernel rule or an allowlist entry must not depend on DNS)."""
    if not value and not required:
        return ""
    try:
        return str(ipaddress.ip_address(str(value)))
    except ValueError as exc:
        raise ChaosError(f"argument {name}={quote(value)} is not an IP address (fix: e.g. {name}: 127.0.0.1)") from exc


def port(name: str, value: Any, required: bool = True) -> int:
    if not required and value in (0, "0", "", None):
        return 0
    return args.whole(name, value, 1, 65535, 6379)


def json_body(name: str, value: Any) -> Any:
    """A request body given as JSON text (an experiment variable is a string); None if empty."""
    if value in ("", None):
        return None
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError as exc:
        raise ChaosError(f"argument {name}={quote(value)} is not JSON (fix: e.g. {name}: '{{\"mode\": \"down\"}}')") from exc


def url(name: str, value: Any) -> str:
    """An http(s) URL on an allowed host."""
    if not isinstance(value, str) or not value:
        raise ChaosError(f"argument {name}={quote(value)} must be an http(s) URL (fix: e.g. {name}: http://127.0.0.1:8080/healthz)")
    return ensure_url(value)
