"""Write the report files: all four are rendered, written into a temporary directory beside them and
only then renamed into place, so a reader never sees half a file and a failed render or write
leaves the previous report in place."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from peakdrill import outputs
from peakdrill.errors import RunDirError
from peakdrill.report import report_files
from peakdrill.report.html import render_html
from peakdrill.report.junit import render_junit
from peakdrill.report.markdown import render_markdown
from peakdrill.report.rules import load_for_rules
from peakdrill.report.score import Score, score_run
from peakdrill.slo.model import RuleSet


def write_file(path: Path, text: str) -> None:
    """One file, whole or not at all; an unwritable place is the caller's input error."""
    try:
        outputs.write_file(path, text)
    except OSError as exc:
        raise RunDirError(f"{path}: cannot write ({exc.strerror}); pass a writable --output-dir") from exc


def write_report(run_dir: Path | str, output_dir: Path | str | None = None,
                 template: Path | str | None = None, rules: RuleSet | None = None) -> Score:
    data, ruleset = load_for_rules(run_dir, rules)
    score = score_run(data, ruleset)
    out = Path(output_dir) if output_dir is not None else data.run_dir
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunDirError(f"{out}: cannot create the output directory ({exc.strerror}); "
                          f"pass a writable --output-dir") from exc
    files = report_files(data.run_dir, out)
    texts = {files.score: json.dumps(score.to_dict(), indent=2) + "\n",
             files.html: render_html(data, score, Path(template) if template else None),
             files.markdown: render_markdown(score), files.junit: render_junit(score)}
    try:
        staging = Path(tempfile.mkdtemp(dir=out, prefix=".report-", suffix=".partial"))
        try:
            for path, text in texts.items():
                (staging / path.name).write_text(text, encoding="utf-8")
            for path in texts:
                os.replace(staging / path.name, path)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    except OSError as exc:
        raise RunDirError(f"{out}: cannot write the report ({exc.strerror}); pass a writable --output-dir") from exc
    return score
