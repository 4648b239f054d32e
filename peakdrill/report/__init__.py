"""``peakdrill report``: score a run directory and render score.json, report.html, report.md, junit.xml.

The one entry point for other code is :func:`build_report`; the format it reads and writes is
docs/run-directory.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from peakdrill.report.score import Score
from peakdrill.slo.model import RuleSet

__all__ = ["Score", "ReportFiles", "build_report", "report_files", "score_run_dir"]


@dataclass(frozen=True)
class ReportFiles:
    score: Path
    html: Path
    markdown: Path
    junit: Path


def score_run_dir(run_dir: Path | str) -> Score:
    """Score a run directory without writing anything."""
    from peakdrill.report.rules import load_for_rules
    from peakdrill.report.score import score_run

    return score_run(*load_for_rules(run_dir))


def report_files(run_dir: Path | str, output_dir: Path | str | None = None) -> ReportFiles:
    """Where :func:`build_report` writes its files."""
    out = Path(output_dir) if output_dir is not None else Path(run_dir)
    return ReportFiles(score=out / "score.json", html=out / "report.html", markdown=out / "report.md",
                       junit=out / "junit.xml")


def build_report(run_dir: Path | str, output_dir: Path | str | None = None,
                 template: Path | str | None = None, rules: RuleSet | None = None) -> Score:
    """Score ``run_dir`` and write the four report files into ``output_dir`` (default: the run dir).

    ``rules`` replace the rules the run recorded. Raises :class:`peakdrill.errors.RunDirError` (exit
    code 2) when the run directory or its run.json is missing or unreadable. ``score.exit_code`` is 0 PASS, 1 FAIL, 3 INCONCLUSIVE.
    """
    from peakdrill.report.writer import write_report

    return write_report(run_dir, output_dir, template, rules)
