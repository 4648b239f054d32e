"""Read a web server's access log in the combined log format (nginx's and Apache's default, gunicorn's
``%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"``): one :class:`Hit` per request."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from peakdrill.errors import SpecError, quote
from peakdrill.replay.templates import endpoint_name
from peakdrill.spec.safeyaml import check_file

_LINE = re.compile(r'^\S+ \S+ \S+ \[(?P<time>[^\]]+)\] "(?P<method>[A-Z]+) (?P<target>\S+)(?: [^"]*)?" \d{3} \S+')
_TIME_FORMAT = "%d/%b/%Y:%H:%M:%S %z"
# A few torn or foreign lines are normal in a real log; a file that is mostly unreadable is not one.
MAX_UNREADABLE_SHARE = 0.05


@dataclass(slots=True, frozen=True)
class Hit:
    ts: float
    endpoint: str


def read_access_log(path: Path, exclude_prefixes: tuple[str, ...] = ()) -> Iterator[Hit]:
    """Hits in file order; requests whose path starts with one of ``exclude_prefixes`` are left out."""
    unreadable, lines = 0, 0
    check_file(path, "access log")  # streamed, so not size-capped; a FIFO or a directory is refused here
    try:
        stream = path.open(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise SpecError(str(path), "", f"cannot read the access log ({exc.strerror})", "check the path") from exc
    with stream:
        for number, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            lines += 1
            match = _LINE.match(line)
            if match is None:
                unreadable += 1
                if unreadable > 10 and unreadable > MAX_UNREADABLE_SHARE * lines:
                    raise SpecError(str(path), f"line {number}", "not in the combined log format "
                                    f"({unreadable} of {lines} lines so far)", 'expected: HOST - USER [TIME] "METHOD PATH PROTO" STATUS SIZE ...')
                continue
            target = match["target"]
            if any(target.startswith(prefix) for prefix in exclude_prefixes):
                continue
            try:
                ts = datetime.strptime(match["time"], _TIME_FORMAT).timestamp()
            except (ValueError, OverflowError) as exc:
                raise SpecError(str(path), f"line {number}", f"time {quote(match['time'])} is not dd/Mon/yyyy:HH:MM:SS +zzzz",
                                "use the combined log format's time") from exc
            yield Hit(ts=ts, endpoint=endpoint_name(match["method"], target))
    if lines and unreadable == lines:
        raise SpecError(str(path), "", "no line is in the combined log format", "give an nginx/Apache/gunicorn access log")
