"""JSON Lines, the way every file of a run directory is appended: one complete line at a time.

A writer killed mid-write leaves a torn last line; readers skip it (with a warning) and keep the
rest. A bad line anywhere else is a :class:`RunDirError` naming the file and the line.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

from peakdrill.errors import RunDirError


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number JSON allows")


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def loads(text: str | bytes):
    """json.loads without NaN/Infinity (which no writer of ours produces); one decoder for all lines."""
    return _DECODER.decode(text.decode("utf-8") if isinstance(text, bytes) else text)


def quote(value: object) -> str:
    """A bad value as an error message shows it: JSON, at most 80 characters."""
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def append_lines(path: Path, records: list[dict]) -> None:
    if not records:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as out:
        out.write("".join(json.dumps(record, separators=(",", ":")) + "\n" for record in records))


def write_lines(path: Path, records: list[dict]) -> None:
    path.write_text("".join(json.dumps(record, separators=(",", ":")) + "\n" for record in records), encoding="utf-8")


def iter_jsonl(path: Path, warnings: list[str] | None = None) -> Iterator[tuple[int, dict]]:
    """(line number, record) of each object in a JSON Lines file, streaming (memory: one line).

    A missing file yields nothing. A torn last line is skipped and noted in ``warnings``.
    """
    for number, record, _ in iter_jsonl_lines(path, warnings):
        yield number, record


def iter_jsonl_lines(path: Path, warnings: list[str] | None = None,
                     keep: Callable[[bytes], bool] | None = None) -> Iterator[tuple[int, dict, bytes]]:
    """:func:`iter_jsonl` with each record's line as read; lines ``keep`` refuses are not parsed."""
    try:
        stream = path.open("rb")
    except FileNotFoundError:
        return
    except OSError as exc:
        raise RunDirError(f"{path}: cannot read ({exc.strerror}); fix the file permissions") from exc
    with stream:
        pending: tuple[int, bytes] | None = None
        for number, line in enumerate(stream, start=1):
            if pending is not None:
                yield pending[0], _parse(path, *pending), pending[1]
            pending = (number, line) if line.strip() and (keep is None or keep(line)) else None
        if pending is not None:
            number, line = pending
            try:
                record = loads(line)
            except (ValueError, RecursionError):
                if warnings is not None:
                    warnings.append(f"{path.name}: skipped a torn last line (the writer stopped mid-write)")
                return
            yield number, _check_object(path, number, record), line


def _parse(path: Path, number: int, line: bytes) -> dict:
    try:
        record = loads(line)
    except (ValueError, RecursionError) as exc:
        raise RunDirError(f"{path}:{number}: not valid JSON ({str(exc)[:80]}); fix or delete that line") from exc
    return _check_object(path, number, record)


def _check_object(path: Path, number: int, record: object) -> dict:
    if not isinstance(record, dict):
        raise RunDirError(f"{path}:{number}: expected a JSON object, got {type(record).__name__}: "
                          f"{quote(record)}; fix or delete that line")
    return record


class JsonlTail:
    """Reads the records appended to a JSON-lines file since the last call, so a watcher polling
    every second reads each line once. A line still being written is left for the next call."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0
        self._line = 0

    def read_new(self) -> list[dict]:
        return [record for _, record in self.read_numbered()]

    def read_numbered(self) -> list[tuple[int, dict]]:
        """:meth:`read_new` with each record's line number, for errors that name it."""
        try:
            with self.path.open("rb") as stream:
                stream.seek(self._offset)
                data = stream.read()
        except FileNotFoundError:
            return []
        complete = data[: data.rfind(b"\n") + 1]
        self._offset += len(complete)
        records = []
        for line in complete.splitlines():
            self._line += 1
            if line.strip():
                records.append((self._line, _parse(self.path, self._line, line)))
        return records
