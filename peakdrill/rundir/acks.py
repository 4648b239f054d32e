"""``acks/<master>.jsonl``, the business acknowledgements of a run, one line per (second, kind, batch),
and ``reconciliation.json``, what the systems of record held of them.

A line is ``{"second": S, "kind": K, "ids": [...], "refs": [...]?, "failed": [...]?}``: the ids the
target acknowledged in second ``S`` (``refs``, when present, is parallel to ``ids``: the client's
own reference of each, an idempotency key, or null) and the references of the intents for which
the client saw a failure or timeout. A second and kind may appear on several lines (several
reports, several masters): readers take the union. See docs/run-directory.md and docs/integrity.md.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from peakdrill.errors import RunDirError
from peakdrill.rundir.jsonl import append_lines, iter_jsonl, loads, quote

ACKS_DIR = "acks"
RECONCILIATION_FILE = "reconciliation.json"
MAX_ID_CHARS = 200


@dataclass(frozen=True)
class AckRecord:
    second: int
    kind: str
    ids: tuple[str, ...]
    refs: tuple[str | None, ...]  # parallel to ids; all None when the line has no refs
    failed: tuple[str, ...]


def _strings(value: object, where: str, key: str, nullable: bool = False) -> tuple:
    if not isinstance(value, list) or not all(
            (isinstance(v, str) and len(v) <= MAX_ID_CHARS) or (nullable and v is None) for v in value):
        raise RunDirError(f"{where}: '{key}' must be a list of strings of at most {MAX_ID_CHARS} characters, "
                          f"got {quote(value)}; fix or delete that line (format: docs/run-directory.md)")
    return tuple(value)


def parse_ack(record: object, where: str) -> AckRecord:
    if not isinstance(record, dict):
        raise RunDirError(f"{where}: an acknowledgement line must be a JSON object, got {quote(record)}")
    second, kind = record.get("second"), record.get("kind")
    if isinstance(second, bool) or not isinstance(second, int) or not 0 <= second < 2**40:
        raise RunDirError(f"{where}: 'second' must be epoch seconds, got {quote(second)}")
    if not isinstance(kind, str) or not kind or len(kind) > 60:
        raise RunDirError(f"{where}: 'kind' must be a short name such as \"order\", got {quote(kind)}")
    ids = _strings(record.get("ids", []), where, "ids")
    refs = _strings(record["refs"], where, "refs", nullable=True) if "refs" in record else (None,) * len(ids)
    if len(refs) != len(ids):
        raise RunDirError(f"{where}: 'refs' has {len(refs)} entries for {len(ids)} ids; they are parallel lists")
    return AckRecord(second, kind, ids, refs, _strings(record.get("failed", []), where, "failed"))


def append_acks(run_dir: Path, source: str, records: list[dict]) -> None:
    """Append what a master (or a stand-alone load process) received since its last call."""
    append_lines(run_dir / ACKS_DIR / f"{source}.jsonl", records)


def iter_acks(run_dir: Path, warnings: list[str] | None = None) -> Iterator[AckRecord]:
    """Every acknowledgement line of the run, file by file (memory: one line). A torn last line
    (a writer killed mid-write) is skipped; a bad line anywhere else is an error naming it."""
    for path in sorted((run_dir / ACKS_DIR).glob("*.jsonl")):
        for number, record in iter_jsonl(path, warnings):
            yield parse_ack(record, f"{path}:{number}")


def read_reconciliation(run_dir: Path) -> dict | None:
    """reconciliation.json, or None when the run was not reconciled."""
    path = run_dir / RECONCILIATION_FILE
    if not path.is_file():
        return None
    try:
        document = loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        raise RunDirError(f"{path}: not readable JSON ({str(exc)[:80]}); run `peakdrill reconcile {run_dir}` "
                          f"again") from exc
    if not isinstance(document, dict) or not isinstance(document.get("kinds"), list) or not all(
            isinstance(k, dict) and isinstance(k.get("kind"), str) for k in document["kinds"]):
        raise RunDirError(f"{path}: not a reconciliation (no 'kinds' list of objects); run `peakdrill reconcile "
                          f"{run_dir}` again")
    return document


def write_reconciliation(run_dir: Path, document: dict) -> None:
    path = run_dir / RECONCILIATION_FILE
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(document, indent=1, allow_nan=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)  # a reader never sees half a file
