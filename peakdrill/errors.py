"""The one exception tree of peakdrill.

Every error a user can cause derives from :class:`PeakdrillError` and carries a message that
quotes the bad value and says the fix. The CLI turns them into exit code 2 (usage or input
error) without a traceback; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import errno
import reprlib

COMMAND_LINE = "the command line"  # the "file" of a SpecError about an option
QUOTE_LIMIT = 80  # characters of a bad value an error message may quote


def quote(value: object, limit: int = QUOTE_LIMIT, raw: bool = False) -> str:
    """``value`` for an error message: its repr (``raw``: its text), cut to ``limit`` characters.

    Bounded whatever the value: a 50 MB string or a deeply nested list costs a few hundred
    characters of work, never a repr of the whole thing."""
    shortener = reprlib.Repr()
    shortener.maxstring = shortener.maxother = limit
    shortener.maxlevel, shortener.maxlist, shortener.maxdict = 2, 4, 4
    text = str(value)[: limit + 1] if raw else shortener.repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class PeakdrillError(Exception):
    """Base of every error peakdrill raises on purpose."""

    exit_code = 2


class SpecError(PeakdrillError):
    """A drill, profile, experiment or target file is malformed.

    ``file`` and ``field`` locate the problem (``field`` is a dotted path such as
    ``timeline.0.at``); ``fix`` tells the user what to write instead.
    """

    def __init__(self, file: str, field: str, problem: str, fix: str = "") -> None:
        self.file, self.field, self.problem, self.fix = file, field, problem, fix
        where = f"{file}: {field}" if field else file
        message = f"{where}: {problem}"
        if fix:
            message += f" (fix: {fix})"
        super().__init__(message)


class UnsafeTargetError(PeakdrillError):
    """Load or a fault would go to a host the target configuration does not allow."""


class ShopError(PeakdrillError):
    """The reference shop could not be started, found or stopped."""


class RunDirError(PeakdrillError):
    """A run directory is missing, unreadable or holds data that does not fit its format."""


class DrillError(PeakdrillError):
    """A drill could not run to its end (a process failed to start, an experiment failed to load)."""


class ReconcileError(PeakdrillError):
    """A system of record could not be asked for what it stored (unreachable, refused, timed out,
    an unusable answer); the integrity verdict is then INCONCLUSIVE, never PASS."""


class DependencyError(ShopError):
    """A provider the shop calls (payment gateway, courier, chat bot) failed, timed out, refused
    the connection, or its circuit breaker is open; the caller degrades instead of failing."""


class ChaosError(PeakdrillError):
    """A chaos activity got a wrong argument, or a fault could not be injected or removed."""


class KeepAliveError(PeakdrillError):
    """The installed geventhttpclient is not one the keep-alive fix was checked against."""


class SizingError(PeakdrillError):
    """A calibration could not be measured, or a sizing plan cannot be made from the given figures."""


class EgressRefusedError(UnsafeTargetError, ConnectionRefusedError):
    """A load process or the chaos provider was about to connect to an address outside the run's
    allowed hosts; raised before the connection is made. It is a ``ConnectionRefusedError`` so that
    HTTP clients (Locust's, urllib's) report it as the failed request it is."""

    def __init__(self, host: str, port: int, allowed: tuple[str, ...]) -> None:
        self.host, self.port = host, port
        endpoint = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        self.endpoint = endpoint
        super().__init__(errno.ECONNREFUSED,
                         f"peakdrill refused to connect to {endpoint}: not one of the run's allowed hosts "
                         f"{quote(list(allowed))}; if it is yours to test, add it with --allow-host or target.allowed_hosts")
