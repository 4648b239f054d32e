"""What a generic driver may act on: a system peakdrill did not start, named by variables.

The same allowlist as the shop's faults decides which hosts a fault may reach: loopback, plus the
drill's ``peakdrill_allowed_hosts`` configuration key or ``PEAKDRILL_ALLOWED_HOSTS`` (see
:mod:`peakdrill.chaos.target`). The ``validate_*`` twins check the form of an argument; the
allowlist is checked when the activity runs, with the configuration chaoslib hands it. The fault ledger of a generic fault lives in ``<ledger_dir>/faults/``, the
directory ``peakdrill chaos recover --shop-dir`` reads; it need not hold a shop.
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any

from peakdrill.chaos import args
from peakdrill.chaos.target import WHERE_TO_ALLOW, allowed_hosts
from peakdrill.errors import ChaosError, UnsafeTargetError, quote
from peakdrill.safety import Allowlist, ensure_allowed, host_of

DEFAULT_LEDGER_DIR = ".peakdrill/shop"


def ensure_host(host: str, what: str, configuration: dict | None = None) -> str:
    """Refuse a fault on ``host`` unless it is an allowed host."""
    hosts = allowed_hosts(configuration)
    if host not in hosts:
        raise UnsafeTargetError(f"refusing a fault on {what} {quote(host)}: it is not in the allowed hosts "
                                f"{list(hosts)} (fix: if it is yours to test, add it to {WHERE_TO_ALLOW})")
    return host


def allowlist(configuration: dict | None, *urls: str) -> Allowlist:
    """The allowlist for requests to ``urls``, after refusing any URL whose host it does not list;
    every connection made through it is checked again as it connects."""
    hosts = allowed_hosts(configuration)
    for url in urls:
        ensure_allowed(url, hosts, WHERE_TO_ALLOW)
    return Allowlist(hosts)


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
    """An http(s) URL with a host (whether the host is allowed is checked when the activity runs)."""
    try:
        host_of(value if isinstance(value, str) else "")
    except UnsafeTargetError as exc:
        raise ChaosError(f"argument {name}={quote(value)} must be an http(s) URL with a host "
                         f"(fix: e.g. {name}: http://127.0.0.1:8080/healthz)") from exc
    return value
