"""Write the report files; each is written to a temporary name and renamed, so a reader never
sees half a file and a failed render leaves the previous report in place."""

from __future__ import annotations

import json
import os
from pathlib import Path

from peakdrill.errors import RunDirError
from peakdrill.report import report_files
from peakdrill.report.html import render_html
from peakdrill.report.junit import render_junit
from peakdrill.report.markdown import render_markdown
from peakdrill.report.rundata import load_run
from peakdrill.report.score import Score, score_run
from peakdrill.slo.model import RuleSet


def write_file(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        raise RunDirError(f"{path}: cannot write ({exc.strerror}); pass a writable --output-dir") from exc


def write_report(run_dir: Path | str, output_dir: Path | str | None = None,
                 template: Path | str | None = None, rules: RuleSet | None = None) -> Score:
    data = load_run(run_dir)
    score = score_run(data, rules)
    out = Path(output_dir) if output_dir is not None else data.run_dir
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunDirError(f"{out}: cannot create the output directory ({exc.strerror}); "
                          f"pass a writable --output-dir") from exc
    files = report_files(data.run_dir, out)
    html = render_html(data, score, Path(template) if template else None)
    write_file(files.score, json.dumps(score.to_dict(), indent=2) + "\n")
    write_file(files.html, html)
    write_file(files.markdown, render_markdown(score))
    write_file(files.junit, render_junit(score))
    return score
