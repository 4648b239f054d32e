"""A command that prints what a system stored: one id a line, or ``id<TAB>ref``.

Run without a shell, from the drill's (or integrity file's) directory, killed past the timeout.
"""

from __future__ import annotations

import subprocess

from peakdrill.errors import ReconcileError, quote
from peakdrill.integrity.reconcilers.base import Context, Row, Stored, with_prefix


def fetch(kind: str, spec, context: Context) -> Stored:
    shown = quote(" ".join(spec.command), raw=True)
    try:
        done = subprocess.run(spec.command, cwd=context.base_dir, capture_output=True, text=True,
                              timeout=context.timeout_s, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        raise ReconcileError(f"{shown}: no answer within {context.timeout_s:g} s (killed)") from exc
    except OSError as exc:
        raise ReconcileError(f"{shown}: cannot run it ({exc.strerror}); check the path and that it is executable") from exc
    if done.returncode != 0:
        raise ReconcileError(f"{shown}: exit {done.returncode}: {quote(done.stderr.strip()[-300:], raw=True)}")
    rows: list[Row] = []
    for line in done.stdout.splitlines():
        if line.strip():
            first, _, ref = line.strip().partition("\t")
            rows.append((first, ref or None))
    return with_prefix(rows, spec.id_prefix)
