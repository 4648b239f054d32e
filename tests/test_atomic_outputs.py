"""`merge` and `report` never leave half-written output: a failure part-way (injected here as a bug,
so also exit 70 and not 1) leaves no merged directory and the previous report files untouched."""

from __future__ import annotations

import peakdrill.load.merge as merge_module
import peakdrill.report.writer as report_writer
from peakdrill.cli import main
from runfactory import make_run


def _boom(*args, **kwargs):
    raise ZeroDivisionError("injected")


def test_a_report_that_fails_part_way_leaves_the_previous_report(tmp_path, monkeypatch, capsys):
    run = make_run(tmp_path)
    assert main(["report", str(run.path)]) in (0, 1, 3)
    files = ("score.json", "report.html", "report.md", "junit.xml")
    before = {name: (run.path / name).read_bytes() for name in files}
    (run.path / "score.json").write_text('{"previous": true}\n', encoding="utf-8")
    before["score.json"] = (run.path / "score.json").read_bytes()
    monkeypatch.setattr(report_writer, "render_junit", _boom)  # the last of the four renders
    assert main(["report", str(run.path)]) == 70
    assert {name: (run.path / name).read_bytes() for name in files} == before
    assert sorted(path.name for path in run.path.iterdir() if path.name.startswith(".")) == []
    assert "ZeroDivisionError: injected" in (run.path / "crash.txt").read_text(encoding="utf-8")


def test_a_merge_that_fails_part_way_leaves_no_output(tmp_path, monkeypatch, capsys):
    shard_a = make_run(tmp_path / "a")
    shard_b = make_run(tmp_path / "b", run_id="20261121-231502-demo")
    calls = []

    def write_then_fail(source, target, *rest, **options):
        calls.append(target)
        if len(calls) == 3:
            raise ZeroDivisionError("injected")
        original(source, target, *rest, **options)

    original = merge_module._copy_jsonl
    monkeypatch.setattr(merge_module, "_copy_jsonl", write_then_fail)
    out = tmp_path / "merged"
    assert main(["merge", str(shard_a.path), str(shard_b.path), "-o", str(out), "--no-report"]) == 70
    assert len(calls) == 3 and not out.exists()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["a", "b"]  # no partial directory either
    monkeypatch.setattr(merge_module, "_copy_jsonl", original)
    assert main(["merge", str(shard_a.path), str(shard_b.path), "-o", str(out), "--no-report"]) == 0
    assert (out / "run.json").is_file() and oct(out.stat().st_mode & 0o777) != oct(0o700)
