"""The one way peakdrill reads a file a user hands it: size-capped, strict UTF-8, and YAML that cannot
blow up.

Every spec file (drill, profile, endpoint map, calibration, experiment, SLO rules) goes through
:func:`load_yaml`; CSV and access logs through :func:`read_text`. Every problem becomes a
:class:`SpecError` naming the file, where in it, and the fix, quickly, whatever the input:

- the file must be a regular file (not a directory, FIFO or symlink loop) of at most ``max_bytes``;
- its bytes must be UTF-8 text (no NUL bytes);
- YAML mappings may not repeat a key (YAML says keys are unique; PyYAML silently keeps the last);
- nesting is bounded (:data:`MAX_DEPTH`), and so is the size of the document once its aliases are
  expanded (:data:`MAX_NODES`): a "billion laughs" alias bomb is refused, not expanded;
- a tag PyYAML's safe loader does not know, or a value it cannot construct (``2026-02-30``), is an error.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, ScalarNode, SequenceNode
from yaml.resolver import Resolver

from peakdrill.errors import SpecError, quote

MAX_SPEC_BYTES = 8 * 1024 * 1024  # a day of 1 s replay buckets is about 6 MiB
MAX_DEPTH = 64  # real specs nest 4-5 levels
MAX_NODES = 1_000_000  # scalars, lists and mappings once aliases are expanded


def check_file(path: Path | str, what: str = "file", max_bytes: int | None = None) -> os.stat_result:
    """Stat ``path``: a missing or unreachable path, a directory, a special file (that would block a
    reader) or a file above ``max_bytes`` is a SpecError."""
    name = str(path)
    try:
        info = os.stat(path)
    except FileNotFoundError as exc:
        raise SpecError(name, "", f"{what} not found", "check the path; it is resolved from the current directory") from exc
    except (OSError, ValueError) as exc:  # ELOOP (a symlink loop), EACCES on a parent, a NUL in the name...
        reason = getattr(exc, "strerror", None) or str(exc)
        raise SpecError(name, "", f"cannot open the {what} ({reason})", "give the path of a readable file") from exc
    if stat.S_ISDIR(info.st_mode):
        raise SpecError(name, "", "is a directory", f"give the path of a {what} inside it")
    if not stat.S_ISREG(info.st_mode):
        raise SpecError(name, "", "is not a regular file (a device, FIFO or socket)", f"give the path of a {what}")
    if max_bytes is not None and info.st_size > max_bytes:
        raise SpecError(name, "", f"is {info.st_size / 2**20:.1f} MiB, above the {max_bytes / 2**20:g} MiB a {what} may have",
                        "check that this is the right file; split or shorten it")
    return info


def read_bytes(path: Path | str, max_bytes: int = MAX_SPEC_BYTES, what: str = "file") -> bytes:
    """The file's bytes, after :func:`check_file`."""
    name = str(path)
    check_file(path, what, max_bytes)
    try:
        with open(path, "rb") as stream:
            data = stream.read(max_bytes + 1)
    except OSError as exc:
        raise SpecError(name, "", f"cannot read the {what} ({exc.strerror})", "check its permissions") from exc
    if len(data) > max_bytes:  # it grew since the stat
        raise SpecError(name, "", f"is above the {max_bytes / 2**20:g} MiB a {what} may have", "split or shorten it")
    return data


def decode(data: bytes, name: str, what: str = "file") -> str:
    """Strict UTF-8, and no NUL byte: binary content is named as such, with where it starts."""
    nul = data.find(b"\0", 0, 65536)
    if nul >= 0:
        raise SpecError(name, f"byte {nul}", "holds binary data (a NUL byte), not text", f"give the {what} as UTF-8 text")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise SpecError(name, f"line {line}", f"is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})",
                        "save the file as UTF-8") from exc


def read_text(path: Path | str, max_bytes: int = MAX_SPEC_BYTES, what: str = "file") -> str:
    """A text file a user gave peakdrill, checked as :func:`read_bytes` and :func:`decode` say."""
    return decode(read_bytes(path, max_bytes, what), str(path), what)


class _Refused(yaml.YAMLError):
    def __init__(self, problem: str, fix: str, mark: yaml.Mark | None) -> None:
        super().__init__(problem)
        self.problem, self.fix, self.problem_mark = problem, fix, mark


class _Bounded:
    """PyYAML's safe loading with bounded depth and expansion, and duplicate keys refused.

    The checks hook into the Python composer (one node at a time), so the nesting depth is known
    before it recurses deeper and an alias's expanded size before it is used."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._sizes: dict[int, int] = {}  # id(node) -> its size with aliases expanded

    def compose_node(self, parent, index):
        if self.check_event(AliasEvent):
            event = self.peek_event()
            node = self.anchors.get(event.anchor)
            if node is not None and id(node) not in self._sizes:
                raise _Refused(f"alias *{quote(event.anchor, 40)} refers to the node that contains it",
                               "a value cannot contain itself; copy what you need instead", event.start_mark)
            return super().compose_node(parent, index)
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _Refused(f"nested more than {MAX_DEPTH} levels deep", "flatten the structure",
                               self.peek_event().start_mark)
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        self._sizes[id(node)] = size = self._size(node)
        if size > MAX_NODES:
            raise _Refused(f"expands to more than {MAX_NODES:,} values (aliases repeat what they point to)",
                           "use fewer or smaller aliases", node.start_mark)
        return node

    def _size(self, node: yaml.Node) -> int:
        if isinstance(node, ScalarNode):
            return 1
        if isinstance(node, SequenceNode):
            return 1 + sum(self._sizes[id(item)] for item in node.value)
        assert isinstance(node, MappingNode)
        return 1 + sum(self._sizes[id(key)] + self._sizes[id(value)] for key, value in node.value)

    def construct_mapping(self, node, deep=False):
        if isinstance(node, MappingNode):
            seen: set = set()
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue  # `<<: *base` may be overridden by the keys written next to it
                key = self.construct_object(key_node, deep=True)
                try:
                    duplicate = key in seen
                    seen.add(key)
                except TypeError:
                    continue  # an unhashable key: the base class reports it
                if duplicate:
                    raise _Refused(f"key {quote(key, 60)} appears twice in this mapping",
                                   "keep one of them (YAML does not merge repeated keys)", key_node.start_mark)
        return super().construct_mapping(node, deep=deep)


try:  # libyaml parses about 3x faster; the composing (where the checks are) stays in Python
    from yaml._yaml import CParser
except ImportError:  # PyYAML built without libyaml
    class _SafeLoader(_Bounded, yaml.SafeLoader):
        pass
else:
    class _CParserComposer(CParser, SafeConstructor, Resolver):
        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)
            self.anchors = {}

        # CParser composes in C, out of reach of the checks: compose in Python from its events.
        get_single_node = Composer.get_single_node
        compose_document = Composer.compose_document
        compose_node = Composer.compose_node
        compose_scalar_node = Composer.compose_scalar_node
        compose_sequence_node = Composer.compose_sequence_node
        compose_mapping_node = Composer.compose_mapping_node

        def dispose(self) -> None:
            pass

    class _SafeLoader(_Bounded, _CParserComposer):
        pass


def parse_yaml(text: str, name: str) -> object:
    """One YAML document, parsed safely; any problem is a SpecError at its line and column."""
    loader = _SafeLoader(text)
    try:
        return loader.get_single_data()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        fix = getattr(exc, "fix", None) or "fix the YAML syntax there"
        if not isinstance(exc, _Refused):
            problem = f"not valid YAML: {quote(problem, 120, raw=True)}"
        raise SpecError(name, where, problem, fix) from exc
    except (ValueError, OverflowError) as exc:  # a scalar that looks like a date or number but is none
        raise SpecError(name, "", f"a value cannot be read: {quote(str(exc), 80, raw=True)}",
                        "quote the value if it is meant as text") from exc
    finally:
        loader.dispose()


def load_yaml(path: Path | str, max_bytes: int = MAX_SPEC_BYTES, what: str = "file") -> dict:
    """A spec file's top-level mapping, read and parsed safely (see the module's docstring)."""
    name = str(path)
    data = parse_yaml(read_text(path, max_bytes, what), name)
    if not isinstance(data, dict):
        found = "an empty file" if data is None else f"a {type(data).__name__}"
        raise SpecError(name, "", f"expected a mapping (key: value lines) at the top level, found {found}",
                        "start the file with `name: ...`")
    return data
