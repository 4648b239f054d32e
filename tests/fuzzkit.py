"""Shared helpers of the property-based fuzz tests (hypothesis): hostile inputs, and the property.

The property every reader of user-supplied data must keep: for any input it returns a result or
raises a :class:`PeakdrillError` (a clear exit 2), never another exception, and never takes more
than a bounded time. Use it like this (see tests/test_fuzz_specs.py)::

    from fuzzkit import FUZZ_SETTINGS, mutated_text, only_peakdrill_errors

    @FUZZ_SETTINGS
    @given(mutated_text([VALID_FILE_TEXT]))
    def test_reader(text):
        path.write_text(text)
        only_peakdrill_errors(read_it, path)

``FUZZ_SETTINGS`` runs at least :data:`CI_EXAMPLES` examples under ``CI=true`` (fewer locally).
"""

from __future__ import annotations

import math
import os
import signal
import tempfile
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import yaml
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from peakdrill.errors import PeakdrillError

CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
CI_EXAMPLES = 2_000  # per loader family, under CI=true
LOCAL_EXAMPLES = 300
SAMPLE_EXAMPLES = 200  # for readers outside the loader families (slow ones), CI or not
EXAMPLE_LIMIT_S = 20.0  # a hang detector, not a timing: a real example takes milliseconds

FUZZ_SETTINGS = settings(
    max_examples=CI_EXAMPLES if CI else LOCAL_EXAMPLES,
    deadline=None,  # timings on a shared machine are noise; `bounded` catches hangs instead
    database=None,
    suppress_health_check=list(HealthCheck),
    print_blob=True,
)
SAMPLE_SETTINGS = settings(FUZZ_SETTINGS, max_examples=SAMPLE_EXAMPLES)


class ExampleHung(AssertionError):
    pass


@contextmanager
def bounded(seconds: float = EXAMPLE_LIMIT_S):
    """Fail an example that runs longer than ``seconds`` (a loop over an unbounded span, say)."""
    def expired(signum, frame):
        raise ExampleHung(f"one example ran longer than {seconds:g}s: unbounded work on hostile input")
    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def only_peakdrill_errors(function: Callable, *args, **kwargs):
    """Call ``function``: its result, or None when it raised a PeakdrillError; any other exception
    (or a hang) fails the example. The message of a PeakdrillError must stay short."""
    with bounded():
        try:
            return function(*args, **kwargs)
        except PeakdrillError as exc:
            assert len(str(exc)) <= 1_000, f"an error message of {len(str(exc))} characters: {str(exc)[:200]}..."
            return None


# Values that break careless code: NaN, infinities, zero, negatives, huge and fractional numbers,
# wrong types, empty and long strings, YAML look-alikes.
HOSTILE_SCALARS = st.sampled_from([
    math.nan, math.inf, -math.inf, 0, 0.0, -1, -0.5, 1e-300, 1e300, 10**30, -(10**30), 2**63, 0.5, 1, True, False, None,
    "", " ", "0", "-1", "nan", "inf", "1e999", "abc", "1m30s", "90s", "2h", "99999999999h", "GET /x", "{id}", "\0",
    "x" * 5_000, "é", "\ufeff", "- a", "&a", "*a", "[]", "{}", "2026-02-30", "yes", "null",
])
SCALARS = st.one_of(HOSTILE_SCALARS, st.integers(), st.floats(), st.text(max_size=40), st.booleans(), st.none())


def trees(leaves: st.SearchStrategy = SCALARS, max_leaves: int = 8) -> st.SearchStrategy:
    """JSON-like values: scalars, lists and string-keyed mappings, nested."""
    return st.recursive(leaves, lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=12), children, max_size=4)), max_leaves=max_leaves)


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*prefix, index))


def _replace(value, path, new):
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: _replace(value[head], rest, new)}
    copy = list(value)
    copy[head] = _replace(copy[head], rest, new)
    return copy


@st.composite
def mutated_tree(draw, valid: dict, max_changes: int = 3):
    """``valid`` with a few of its values (leaves or whole subtrees) replaced, deleted or added to."""
    value = valid
    for _ in range(draw(st.integers(1, max_changes))):
        paths = list(_paths(value))
        path = draw(st.sampled_from(paths))
        action = draw(st.sampled_from(["replace", "replace", "tree", "delete", "add"]))
        if action == "delete" and path:
            parent = path[:-1]
            container = value
            for part in parent:
                container = container[part]
            if isinstance(container, dict):
                value = _replace(value, parent, {k: v for k, v in container.items() if k != path[-1]})
            else:
                value = _replace(value, parent, [v for i, v in enumerate(container) if i != path[-1]])
        elif action == "add":
            value = _replace(value, path, draw(st.dictionaries(st.text(max_size=10), SCALARS, min_size=1, max_size=2))
                             if draw(st.booleans()) else [draw(SCALARS)])
        else:
            value = _replace(value, path, draw(trees() if action == "tree" else SCALARS))
    return value


_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def dump(value) -> str:
    """YAML text of a tree; NaN and infinities as YAML writes them (.nan, .inf)."""
    return yaml.dump(value, Dumper=_DUMPER, allow_unicode=True, sort_keys=False)


def scratch_dir(prefix: str = "peakdrill-fuzz-") -> Path:
    """A fresh directory for the examples' files, in memory when the machine has /dev/shm: thousands of
    rewrites of a file on a disk cost milliseconds each, more than the loaders under test."""
    memory = Path("/dev/shm")
    return Path(tempfile.mkdtemp(prefix=prefix, dir=memory if memory.is_dir() and os.access(memory, os.W_OK) else None))


# Fragments a hostile file may splice in: aliases and bombs, deep nesting, tags, duplicate keys,
# documents, binary and encodings that are not UTF-8.
HOSTILE_SNIPPETS = st.sampled_from([
    "a: &a [x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b]\n"
    "d: [*c, *c, *c, *c, *c, *c, *c, *c]\n",
    "x: &x [*x]\n", "[" * 200, "{" * 70 + "}" * 70, "- " * 80 + "x\n", "!!python/object:os.system x\n", "? [a]\n: b\n",
    "name: a\nname: b\n", "---\n", "...\n", "\t", "\0", "\xff\xfe", "<<: *nope\n", "%YAML 1.1\n---\n", "!!binary =\n",
    "at: 2026-13-45\n", "n: 1e99999\n", "n: .nan\n", "n: -.inf\n", "n: 0x_\n", "'", '"', "users: 10000000000000000000\n",
])


@st.composite
def mutated_text(draw, seeds: list[str]) -> str | bytes:
    """A valid file text, then a few random edits: bytes flipped, cut or inserted, lines
    repeated or dropped, hostile fragments spliced in. Some results are bytes (not UTF-8)."""
    text = draw(st.sampled_from(seeds))
    for _ in range(draw(st.integers(1, 4))):
        edit = draw(st.sampled_from(["snippet", "insert", "delete", "line", "flip", "truncate"]))
        at = draw(st.integers(0, len(text)))
        if edit == "snippet":
            text = text[:at] + draw(HOSTILE_SNIPPETS) + text[at:]
        elif edit == "insert":
            text = text[:at] + draw(st.text(max_size=20)) + text[at:]
        elif edit == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 30)):]
        elif edit == "line":
            lines = text.splitlines(keepends=True) or [""]
            index = draw(st.integers(0, len(lines) - 1))
            lines.insert(index, lines[index]) if draw(st.booleans()) else lines.pop(index)
            text = "".join(lines)
        elif edit == "flip" and text:
            at = min(at, len(text) - 1)
            text = text[:at] + chr(draw(st.integers(0, 0x2FF))) + text[at + 1:]
        else:
            text = text[:at]
    if draw(st.integers(0, 9)) == 0:
        data = bytearray(text.encode("utf-8", "surrogatepass")) or bytearray(b" ")
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0x80, 0xFF))
        return bytes(data)
    return text


def file_contents(valid: dict, seeds: list[str] = ()) -> st.SearchStrategy:
    """What a hostile user may hand a spec loader whose valid input is ``valid``: edits of the valid
    file's text, the valid tree with values swapped for hostile ones, random trees, random bytes."""
    seeds = list(seeds) or [dump(valid)]
    return st.one_of(mutated_text(seeds), mutated_tree(valid).map(dump), mutated_tree(valid).map(dump),
                     trees().map(dump), st.binary(max_size=200))


def write(path, content: str | bytes) -> None:
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_bytes(content.encode("utf-8", "surrogatepass"))
