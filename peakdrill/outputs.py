"""Where a command writes: checked before any work, and written so that no half-written output is
ever left behind (a temporary sibling, renamed into place once complete)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from peakdrill.errors import COMMAND_LINE, SpecError, quote


def _create(directory: Path, option: str) -> None:
    for parent in (directory, *directory.parents):
        if parent.exists() and not parent.is_dir():
            raise SpecError(COMMAND_LINE, option, f"{quote(str(parent))} is a file, not a directory",
                            "give a path whose directories are directories (or can be created)")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SpecError(COMMAND_LINE, option, f"cannot create {quote(str(directory))} ({exc.strerror})",
                        "give a directory you can write to") from exc


def output_dir(path: Path | str, option: str) -> Path:
    """A directory to write into, created if needed; a file at its place is a usage error."""
    path = Path(path)
    _create(path, option)
    return path


def output_file(path: Path | str, option: str) -> Path:
    """A file to write; its directory is created; a directory at its place is a usage error."""
    path = Path(path)
    if path.is_dir():
        raise SpecError(COMMAND_LINE, option, f"{quote(str(path))} is a directory", "give a file name (e.g. add /out.yaml)")
    _create(path.parent, option)
    return path


def write_file(path: Path, text: str) -> None:
    """``text`` into ``path``, whole or not at all (write a temporary sibling, then rename)."""
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=path.parent, prefix=f".{path.name}.",
                                     suffix=".tmp", delete=False) as stream:
        stream.write(text)
    Path(stream.name).replace(path)


@contextmanager
def staged_dir(final: Path) -> Iterator[Path]:
    """A temporary directory next to ``final``, renamed to ``final`` when the block completes and
    removed when it raises, so ``final`` is either complete or absent (an empty ``final`` is replaced)."""
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}.", suffix=".partial"))
    umask = os.umask(0)
    os.umask(umask)
    staging.chmod(0o777 & ~umask)  # mkdtemp's 0700 would outlive the rename
    try:
        yield staging
        staging.replace(final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
