"""The egress guard of a Locust process: every TCP connection its users open is checked first.

Checking ``--host`` before the run is not enough: a locustfile may request an absolute URL on
another host, the target may redirect elsewhere, a name may resolve to another address. So the
guard sits where every HTTP client of a Locust process ends up: the ``connect`` of gevent's socket
class (both FastHttpUser's geventhttpclient and HttpUser's requests/urllib3 connect through it once
Locust has monkey-patched the process). The address is judged as it is about to be connected to;
a host name is resolved here and the connection made to the very address that was checked.

A refused connection raises :class:`~peakdrill.errors.EgressRefusedError` (a
``ConnectionRefusedError``), which the HTTP client reports as a failed request through Locust's
request event; :func:`install` renames that request after the refused host, so it reaches Locust's
statistics and the run directory's histograms as ``refused by the allowlist: HOST:PORT`` and the
report can count it.

The allowed hosts are an option of the run (``--peakdrill-allowed-hosts``): Locust sends custom
options from the master to its workers with each spawn, so a worker uses the master's list. Loopback
and the host of ``--host`` are always allowed.
"""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import gevent.socket
from locust import events
from locust.env import Environment

from peakdrill.errors import EgressRefusedError
from peakdrill.safety import LOOPBACK_HOSTS, Allowlist, refused_name

OPTION = "peakdrill_allowed_hosts"
_GUARDED_FAMILIES = (socket.AF_INET, socket.AF_INET6)


@events.init_command_line_parser.add_listener
def _add_option(parser) -> None:
    parser.add_argument(
        "--peakdrill-allowed-hosts",
        env_var="PEAKDRILL_ALLOWED_HOSTS",
        default="",
        include_in_web_ui=False,
        help="comma-separated hosts this run's users may connect to, besides loopback and --host's host; "
             "a connection anywhere else is refused and recorded as a failed request",
    )


class _Policy:
    """The allowlist of the running environment, rebuilt when the master sends other options."""

    def __init__(self, environment: Environment) -> None:
        self.environment = environment
        self._key: tuple | None = None
        self._allowlist = Allowlist(LOOPBACK_HOSTS)

    def allowlist(self) -> Allowlist:
        options = self.environment.parsed_options
        listed = getattr(options, OPTION, "") if options is not None else ""
        key = (listed or "", self.environment.host or "")
        if key != self._key:
            hosts = [*LOOPBACK_HOSTS, *(h.strip() for h in key[0].split(",") if h.strip())]
            if key[1]:
                hosts.append(urlsplit(key[1]).hostname or "")
            self._key, self._allowlist = key, Allowlist(hosts)
        return self._allowlist


_policy: _Policy | None = None
_original_connect = gevent.socket.socket.connect


def _guarded_connect(sock, address):
    if _policy is not None and sock.family in _GUARDED_FAMILIES and sock.type == socket.SOCK_STREAM:
        address = _policy.allowlist().check(address, sock.family)
    return _original_connect(sock, address)


def refusal_in(exception: BaseException | None) -> EgressRefusedError | None:
    """The refusal an HTTP client's exception was caused by, however deeply it is wrapped
    (requests wraps urllib3's, which wraps the socket's; ``reason`` and ``args`` carry them too)."""
    seen, pending = set(), [exception]
    while pending:
        current = pending.pop()
        if not isinstance(current, BaseException) or id(current) in seen:
            continue
        if isinstance(current, EgressRefusedError):
            return current
        seen.add(id(current))
        pending.extend([current.__cause__, current.__context__, getattr(current, "reason", None), *current.args])
    return None


def install(environment: Environment) -> None:
    """Guard every connection of this process and name refused requests after their host (idempotent)."""
    global _policy
    _policy = _Policy(environment)
    gevent.socket.socket.connect = _guarded_connect
    hook = environment.events.request
    if getattr(hook.fire, "_peakdrill_egress", False):
        return
    fire = hook.fire

    def fire_named_after_refusals(*, reverse: bool = False, **kwargs):
        refused = refusal_in(kwargs.get("exception"))
        if refused is not None:
            kwargs["name"] = refused_name(refused.endpoint)
        return fire(reverse=reverse, **kwargs)

    fire_named_after_refusals._peakdrill_egress = True
    hook.fire = fire_named_after_refusals
