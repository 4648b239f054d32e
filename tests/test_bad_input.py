"""Every bad-input class of docs/bad-input.md, through the real ``peakdrill.cli.main``: exit 2,
one short line, exactly the documented message, no traceback."""

from __future__ import annotations

import pytest

from badinput import CASES, DOC, Case, generate, message, run_case


@pytest.mark.parametrize("case", CASES, ids=[case.kind for case in CASES])
def test_bad_input_is_exit_2_with_the_documented_line(case: Case, tmp_path):
    code, stderr = run_case(case, tmp_path)
    line = message(stderr)
    assert code == 2, stderr
    assert "Traceback" not in stderr
    assert line.startswith("peakdrill"), stderr
    assert len(line) <= 320, line  # a short line, whatever the input's size
    assert f"`{line.replace('|', '&#124;')}`" in DOC.read_text(encoding="utf-8"), \
        "the message changed: regenerate docs/bad-input.md with `python tests/badinput.py`"


def test_the_bad_input_page_is_generated_from_the_cases(tmp_path):
    assert DOC.read_text(encoding="utf-8") == generate(tmp_path), "run `python tests/badinput.py`"
