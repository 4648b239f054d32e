"""Load a YAML spec file into a pydantic model, turning every problem into a :class:`SpecError`.

Validation happens completely before anything runs, and each error names the file, the dotted
field path and the fix, so a user never sees a traceback for a typo.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError

from peakdrill.errors import SpecError, quote
from peakdrill.spec.limits import MAX_DURATION_S
from peakdrill.spec.safeyaml import load_yaml

Model = TypeVar("Model", bound=BaseModel)

_DURATION = re.compile(r"^\s*(?:(\d+(?:\.\d+)?)h)?\s*(?:(\d+(?:\.\d+)?)m)?\s*(?:(\d+(?:\.\d+)?)s?)?\s*$")


def parse_duration(value: object) -> float:
    """Seconds from ``90``, ``"90s"``, ``"1m30s"`` or ``"2h"``; at most :data:`MAX_DURATION_S`."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"{quote(value)} is not a duration; write e.g. 45s, 2m, 1m30s or 1h")
    if isinstance(value, float) and math.isnan(value):
        raise ValueError("nan is not a duration; write e.g. 45s, 2m, 1m30s or 1h")
    if isinstance(value, (int, float)):
        seconds = float(value) if abs(value) <= MAX_DURATION_S else math.copysign(math.inf, value)  # float(10**400) overflows
    else:
        match = _DURATION.match(value)
        if not match or not any(match.groups()):
            raise ValueError(f"{quote(value)} is not a duration; write e.g. 45s, 2m, 1m30s or 1h")
        hours, minutes, secs = (float(g) if g else 0.0 for g in match.groups())
        seconds = hours * 3600 + minutes * 60 + secs
    if seconds < 0:
        raise ValueError(f"{quote(value)} is negative; durations are >= 0")
    if seconds > MAX_DURATION_S:
        raise ValueError(f"{quote(value)} is longer than {MAX_DURATION_S / 86_400:g} days; durations are at most that")
    return seconds


def parse_utc_time(value: str) -> float:
    """The Unix time of an ISO 8601 instant with its zone (``2026-11-11T00:00:00Z``, ``...+01:00``).

    A time without its zone is refused: masters on machines in different zones would read it
    differently, which is exactly what a common start time must not allow."""
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(f"{quote(value)} is not a time; write a UTC time like 2026-11-11T00:00:00Z") from None
    if parsed.utcoffset() is None:
        raise ValueError(f"{quote(value)} has no time zone; write it in UTC, like 2026-11-11T00:00:00Z")
    return parsed.astimezone(timezone.utc).timestamp()


Duration = Annotated[float, BeforeValidator(parse_duration)]


class Spec(BaseModel):
    """Base of spec models: immutable, and unknown keys are errors (they are usually typos)."""

    # NaN and infinities are refused everywhere: no duration, rate or count of a spec means them.
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


def read_yaml(path: Path) -> dict:
    return load_yaml(path, what="spec file")


# Pydantic error type -> the fix to print; ``{...}`` are filled from the error's context.
_FIXES = {
    "missing": "add it",
    "finite_number": "write a finite number",
    "greater_than": "write a number above {gt}",
    "greater_than_equal": "write a number of at least {ge}",
    "less_than": "write a number below {lt}",
    "less_than_equal": "write a number of at most {le}",
    "int_parsing": "write a whole number",
    "int_from_float": "write a whole number",
    "int_type": "write a whole number",
    "float_parsing": "write a number",
    "float_type": "write a number",
    "bool_parsing": "write true or false",
    "bool_type": "write true or false",
    "string_type": "write text (quote it if YAML reads it as something else)",
    "dict_type": "write a mapping (key: value lines)",
    "list_type": "write a list (- item lines)",
    "tuple_type": "write a list",
    "model_type": "write a mapping (key: value lines)",
    "model_attributes_type": "write a mapping (key: value lines)",
    "string_too_short": "write at least {min_length} character(s)",
    "too_short": "give at least {min_length} item(s)",
    "too_long": "give at most {max_length} item(s)",
    "string_too_long": "write at most {max_length} character(s)",
    "string_pattern_mismatch": "use only the characters {pattern}",
    "literal_error": "write one of {expected}",
}


def _fix(error: dict) -> str:
    template = _FIXES.get(error["type"])
    if template is None:
        return "see docs/ for the field's format"
    context = {key: f"{value:,}" if isinstance(value, int) else f"{value:,g}" if isinstance(value, float) else value
               for key, value in (error.get("ctx") or {}).items()}
    try:
        return template.format(**context)
    except (KeyError, IndexError, ValueError):
        return template


def validate(model: type[Model], data: dict, path: Path) -> Model:
    try:
        return model.model_validate(data, context={"base_dir": path.parent})
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        first = errors[0]
        field = ".".join(str(part) for part in first["loc"]) or "(top level)"
        if first["type"] == "extra_forbidden":
            problem, fix = f"unknown field {quote(first['loc'][-1], 40)}", "remove it or check its spelling"
        elif first["type"] == "missing":
            problem, fix = "required field is missing", "add it"
        else:
            problem = quote(first["msg"].removeprefix("Value error, "), 160, raw=True)
            fix = ""  # a value_error's message (from peakdrill's validators) quotes the value and says the fix
            if first["type"] != "value_error":
                problem += f" (found {quote(first.get('input'))})"
                fix = _fix(first)
        more = len(errors) - 1
        if more:
            fix += ("; " if fix else "") + f"{more} more problem(s) after this one"
        raise SpecError(str(path), field, problem, fix) from exc


def load_spec(model: type[Model], path: Path | str) -> Model:
    path = Path(path)
    return validate(model, read_yaml(path), path)
