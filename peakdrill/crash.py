"""What peakdrill does when it has a bug: exit 70, one line on stderr, the traceback in a file.

The traceback goes to ``crash.txt`` in the run directory of the command, when it has one (the
user will send that directory anyway), else to a fresh file in the temp directory. Commands that
create or read a run directory say so with :func:`note_run_dir`.
"""

from __future__ import annotations

import os
import platform
import sys
import tempfile
import time
import traceback
from pathlib import Path

CRASH_FILE = "crash.txt"
_run_dir: list[Path] = []  # the run directory of this command, once known


def note_run_dir(path: Path | str) -> None:
    """The run directory a crash report of this process belongs in."""
    _run_dir[:] = [Path(path)]


def _report(exc: BaseException, argv: list[str]) -> str:
    from peakdrill import __version__

    return (f"peakdrill {__version__} internal error at {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}\n"
            f"command: peakdrill {' '.join(argv)}\n"
            f"python {platform.python_version()} on {platform.platform()}\n\n"
            + "".join(traceback.format_exception(exc)))


def write_crash_report(exc: BaseException, argv: list[str]) -> Path:
    """Write the traceback of ``exc``; returns the file's path."""
    text = _report(exc, argv)
    for run_dir in _run_dir:
        if run_dir.is_dir():
            path = run_dir / CRASH_FILE
            try:
                path.write_text(text, encoding="utf-8")
                return path
            except OSError:
                pass  # a read-only run directory: fall back to the temp directory
    descriptor, name = tempfile.mkstemp(prefix="peakdrill-crash-", suffix=".txt")
    with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
        stream.write(text)
    return Path(name)


def crash_line(exc: BaseException, path: Path) -> str:
    from peakdrill.errors import quote

    return (f"peakdrill: internal error: this is a bug in peakdrill, not in your input or your system "
            f"({type(exc).__name__}: {quote(str(exc), 80, raw=True)}); the full traceback is in {path}; "
            "please report it with that file")


def argv_of(argv: list[str] | None) -> list[str]:
    return list(sys.argv[1:] if argv is None else argv)
