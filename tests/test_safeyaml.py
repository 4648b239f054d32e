"""The one safe YAML loader: every hostile shape is a SpecError naming the file and the place, quickly."""

from __future__ import annotations

import os

import pytest

from peakdrill.errors import SpecError
from peakdrill.spec.safeyaml import MAX_DEPTH, load_yaml, parse_yaml, read_text

BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(8))


@pytest.mark.parametrize("text, expected", [
    ("name: a\nname: b\n", "line 2, column 1: key 'name' appears twice"),
    ("- a\n- b\n", "found a list"),
    ("just text\n", "found a str"),
    ("", "found an empty file"),
    (BOMB, "expands to more than 1,000,000 values"),
    ("a: &x [*x]\n", "refers to the node that contains it"),
    ("a: " + "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5) + "\n", f"nested more than {MAX_DEPTH} levels deep"),
    ("a: " + "[" * 5000 + "\n", "not valid YAML"),
    ("at: 2026-02-30\n", "a value cannot be read"),
    ("a: !!python/object:os.system x\n", "could not determine a constructor"),
    ("a: [1, 2\n", "line 2, column 1: not valid YAML"),
])
def test_hostile_yaml_is_a_spec_error(tmp_path, text, expected):
    path = tmp_path / "spec.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SpecError) as caught:
        load_yaml(path)
    assert str(caught.value).startswith(str(path)) and expected in str(caught.value)
    assert len(str(caught.value)) < 300


def test_merge_keys_may_be_overridden_and_aliases_shared():
    data = parse_yaml("base: &b {x: 1, y: 2}\nm:\n  <<: *b\n  x: 3\nn: *b\n", "f")
    assert data == {"base": {"x": 1, "y": 2}, "m": {"x": 3, "y": 2}, "n": {"x": 1, "y": 2}}


def test_files_that_are_not_text_files(tmp_path):
    binary, latin, directory, loop = tmp_path / "b.yaml", tmp_path / "l.yaml", tmp_path / "d", tmp_path / "loop"
    binary.write_bytes(b"name: x\0y\n")
    latin.write_bytes(b"name: caf\xe9\n")
    directory.mkdir()
    os.symlink(loop, loop)
    cases = {binary: "binary data", latin: "is not UTF-8 text (byte 0xe9 at offset 9)", directory: "is a directory",
             loop: "Too many levels of symbolic links", tmp_path / "missing.yaml": "file not found"}
    for path, expected in cases.items():
        with pytest.raises(SpecError) as caught:
            read_text(path)
        assert expected in str(caught.value), (path, str(caught.value))


def test_size_cap_refuses_before_reading(tmp_path):
    big = tmp_path / "big.yaml"
    with open(big, "wb") as stream:
        stream.truncate(50 * 2**20)  # sparse: 50 MiB of size, no time to write
    with pytest.raises(SpecError, match=r"is 50.0 MiB, above the 8 MiB"):
        load_yaml(big)
