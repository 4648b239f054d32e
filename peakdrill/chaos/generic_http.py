"""HTTP faults for any system: a toggle (one URL switches the fault on, another off, as many
fault-injection admin endpoints and feature flags work), and a bounded burst of GETs on a URL.

The toggle is recorded before its first request, so the dead-man calls the remove URL if the
runner dies; both URLs must be on allowed hosts, and the hosts allowed at injection are recorded
with it, so the dead-man's request is held to the same list.
"""

from __future__ import annotations

import threading
import time
from collections import Counter

from peakdrill.chaos import args, client, lifecycle
from peakdrill.chaos.generic_target import DEFAULT_LEDGER_DIR, allowlist, json_body, ledger_dir as ledger_arg, url as url_arg
from peakdrill.errors import ChaosError, EgressRefusedError, quote
from peakdrill.safety import Allowlist

__all__ = ["toggle_on", "validate_toggle_on", "toggle_off", "validate_toggle_off", "http_burst", "validate_http_burst"]

TOGGLED = "http-toggle"
METHODS = ("POST", "PUT", "GET", "DELETE", "PATCH")
MAX_USERS = 200
MAX_REQUESTS = 20_000


def validate_toggle_on(ledger_dir: str = DEFAULT_LEDGER_DIR, inject_url: str = "", remove_url: str = "",
                       method: str = "POST", inject_body: str = "", remove_body: str = "", duration: float = 30) -> None:
    ledger_arg(ledger_dir)
    url_arg("inject_url", inject_url)
    url_arg("remove_url", remove_url)
    args.choice("method", method, METHODS)
    json_body("inject_body", inject_body)
    json_body("remove_body", remove_body)
    args.duration(duration)


def _send(allowed: Allowlist, method: str, url: str, body: object) -> int:
    reply = client.call(allowed, method, url, body)
    if not 200 <= reply.status < 300:
        raise ChaosError(f"{method} {url} answered {reply.status or 'nothing'}: {quote(reply.body)} "
                         f"(fix: check the URL and that the system's fault switch is enabled)")
    return reply.status


def toggle_on(ledger_dir: str = DEFAULT_LEDGER_DIR, inject_url: str = "", remove_url: str = "", method: str = "POST",
              inject_body: str = "", remove_body: str = "", duration: float = 30,
              configuration: dict | None = None) -> dict:
    """Call ``inject_url`` (it must answer 2xx); ``toggle_off``, a rollback or the dead-man calls
    ``remove_url`` with the same method, ``duration`` s + grace after injection at the latest."""
    validate_toggle_on(ledger_dir, inject_url, remove_url, method, inject_body, remove_body, duration)
    allowed, status = allowlist(configuration, inject_url, remove_url), []
    lifecycle.inject(ledger_dir, fault=TOGGLED, fault_id=f"{TOGGLED}:{inject_url}", target=inject_url,
                     duration_s=float(duration), undo=call_remove_url,
                     do=lambda: status.append(_send(allowed, method, inject_url, json_body("inject_body", inject_body))),
                     params={"method": method, "url": remove_url, "body": json_body("remove_body", remove_body),
                             "allowed_hosts": list(allowed.hosts)})
    return {"injected": inject_url, "status": status[0]}


def validate_toggle_off(ledger_dir: str = DEFAULT_LEDGER_DIR, inject_url: str = "", by: str = "method") -> None:
    ledger_arg(ledger_dir)
    url_arg("inject_url", inject_url)
    args.remover_by(by)


def toggle_off(ledger_dir: str = DEFAULT_LEDGER_DIR, inject_url: str = "", by: str = "method") -> dict:
    """Remove the toggle ``inject_url`` switched on (call its remove URL); idempotent."""
    validate_toggle_off(ledger_dir, inject_url, by)
    removed = lifecycle.remove(ledger_dir, f"{TOGGLED}:{inject_url}", by)
    return {"removed": removed is not None}


def call_remove_url(ledger_dir: str, params: dict) -> None:
    allowed = allowlist({"peakdrill_allowed_hosts": params["allowed_hosts"]}, params["url"])
    _send(allowed, params["method"], params["url"], params.get("body"))


def validate_http_burst(url: str = "", users: int = 30, duration: float = 5, max_requests: int = 3000) -> None:
    url_arg("url", url)
    args.whole("users", users, 1, MAX_USERS, 30)
    args.duration(duration)
    args.whole("max_requests", max_requests, 1, MAX_REQUESTS, 3000)


def http_burst(url: str = "", users: int = 30, duration: float = 5, max_requests: int = 3000,
               configuration: dict | None = None) -> dict:
    """``users`` clients GET ``url`` without think time for ``duration`` s, ``max_requests`` in all
    at most; nothing outlives the call. Counts answers by status (``timeout``, ``no answer``)."""
    validate_http_burst(url, users, duration, max_requests)
    allowed = allowlist(configuration, url)
    lock, counts, stop, sent, refused = threading.Lock(), Counter(), threading.Event(), [0], []
    deadline, started = time.monotonic() + float(duration), time.monotonic()

    def user() -> None:
        try:
            send_until_done()
        except EgressRefusedError as exc:  # a redirect off the allowlist: the whole burst stops, and fails
            refused.append(exc)
            stop.set()

    def send_until_done() -> None:
        while not stop.is_set() and time.monotonic() < deadline:
            with lock:
                if sent[0] >= int(max_requests):
                    return
                sent[0] += 1
            reply = client.call(allowed, "GET", url)
            key = str(reply.status) if reply.status else ("timeout" if reply.timed_out else "no answer")
            with lock:
                counts[key] += 1

    threads = [threading.Thread(target=user, daemon=True) for _ in range(int(users))]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        stop.set()  # Ctrl-C lands here: the clients stop at their next request
    if refused:
        raise refused[0]
    by_status = dict(counts)
    return {"requests": sum(by_status.values()), "seconds": round(time.monotonic() - started, 2), "by_status": by_status,
            "server_errors": sum(v for k, v in by_status.items() if k.startswith("5")),
            "timeouts": by_status.get("timeout", 0) + by_status.get("no answer", 0)}
