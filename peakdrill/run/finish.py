"""How a run ends for the user: one line on how it ended, the report (unless told not to), the exit code."""

from __future__ import annotations

from peakdrill.rundir import RunDir


def finish_run(run: RunDir, no_report: bool) -> int:
    """Say how the run ended, score it (unless told not to) and return the exit code."""
    status = run.read_meta()["status"]
    print(f"peakdrill: run {status}: {run.path}", flush=True)
    if no_report:
        return 0 if status == "completed" else 3
    from peakdrill.report import build_report

    score = build_report(run.path)
    print(f"peakdrill: verdict {score.verdict}; report: {run.path / 'report.html'}", flush=True)
    return score.exit_code
