"""Which request names a rule selects: exact names, globs, named groups, or everything.

Request names hold brackets (``GET /api/products/[id]``), so a glob here knows only ``*`` and
``?``; everything else matches itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

GROUP_PREFIX = "group:"
EVERYTHING = "*"


def _glob(pattern: str) -> re.Pattern:
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern) + r"\Z")


def select(selectors: Iterable[str], names: Iterable[str], groups: Mapping[str, Iterable[str]]) -> set[str]:
    """The names among ``names`` that ``selectors`` pick; a group's members are selectors themselves."""
    names = list(names)
    chosen: set[str] = set()
    for selector in selectors:
        if selector.startswith(GROUP_PREFIX):
            chosen |= select(groups.get(selector[len(GROUP_PREFIX):], ()), names,
                             {k: v for k, v in groups.items() if k != selector[len(GROUP_PREFIX):]})
        elif selector in names:
            chosen.add(selector)
        elif "*" in selector or "?" in selector:
            pattern = _glob(selector)
            chosen |= {name for name in names if pattern.match(name)}
    return chosen


def unmatched(selectors: Iterable[str], names: Iterable[str], groups: Mapping[str, Iterable[str]]) -> list[str]:
    """The selectors that pick nothing among ``names`` (an unknown group picks nothing)."""
    names = list(names)
    return [s for s in selectors if not select([s], names, groups)]
