"""The one table of peakdrill's exit codes; every command returns one of these.

A CI gate reads the exit code alone, so a crash must never look like a verdict: 1 is only ever
a FAIL verdict, and a bug in peakdrill is 70 (EX_SOFTWARE from sysexits.h).
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    PASS = 0
    FAIL = 1
    USAGE = 2  # a usage or input error: a bad option, file or field; nothing was judged
    INCONCLUSIVE = 3  # the run's own measurement cannot be trusted (saturated, interrupted, data missing)
    INTERNAL = 70  # a bug in peakdrill: one line on stderr, the traceback in a file

    @property
    def meaning(self) -> str:
        return MEANINGS[self]


MEANINGS = {
    ExitCode.PASS: "pass: every verdict held",
    ExitCode.FAIL: "fail: a verdict was broken",
    ExitCode.USAGE: "usage or input error: the message names the file, field or option and the fix",
    ExitCode.INCONCLUSIVE: "inconclusive: the measurement cannot be trusted (saturated, interrupted, refused requests, data missing)",
    ExitCode.INTERNAL: "internal error: a bug in peakdrill; the traceback is saved to the file it names",
}


def table() -> str:
    """The exit codes as the lines every --help epilog shows."""
    return "exit codes:\n" + "\n".join(f"  {int(code):<3} {code.meaning}" for code in ExitCode)
