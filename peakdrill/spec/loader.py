"""Load a YAML spec file into a pydantic model, turning every problem into a :class:`SpecError`.

Validation happens completely before anything runs, and each error names the file, the dotted
field path and the fix, so a user never sees a traceback for a typo.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, TypeVar

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError

from peakdrill.errors import SpecError

Model = TypeVar("Model", bound=BaseModel)

_DURATION = re.compile(r"^\s*(?:(\d+(?:\.\d+)?)h)?\s*(?:(\d+(?:\.\d+)?)m)?\s*(?:(\d+(?:\.\d+)?)s?)?\s*$")


def parse_duration(value: object) -> float:
    """Seconds from ``90``, ``"90s"``, ``"1m30s"`` or ``"2h"``."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration")
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match or not any(match.groups()):
            raise ValueError(f"{value!r} is not a duration; write e.g. 45s, 2m, 1m30s or 1h")
        hours, minutes, secs = (float(g) if g else 0.0 for g in match.groups())
        seconds = hours * 3600 + minutes * 60 + secs
    if seconds < 0:
        raise ValueError(f"{value!r} is negative; durations are >= 0")
    return seconds


Duration = Annotated[float, BeforeValidator(parse_duration)]


class Spec(BaseModel):
    """Base of spec models: immutable, and unknown keys are errors (they are usually typos)."""

    model_config = ConfigDict(frozen=True, extra="forbid")


def read_yaml(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise SpecError(str(path), "", "file not found", "check the path; it is resolved from the current directory") from exc
    except OSError as exc:
        raise SpecError(str(path), "", f"cannot read it ({exc.strerror})") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise SpecError(str(path), where, f"not valid YAML: {getattr(exc, 'problem', exc)}", "fix the YAML syntax there") from exc
    if not isinstance(data, dict):
        raise SpecError(str(path), "", f"expected a mapping at the top level, found {type(data).__name__}", "start the file with `name: ...`")
    return data


def validate(model: type[Model], data: dict, path: Path) -> Model:
    try:
        return model.model_validate(data, context={"base_dir": path.parent})
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "(top level)"
        problem = first["msg"]
        if first["type"] == "extra_forbidden":
            problem = f"unknown field {first['loc'][-1]!r}"
            fix = "remove it or check its spelling"
        elif first["type"] == "missing":
            problem = "required field is missing"
            fix = "add it"
        else:
            fix = f"got {first.get('input')!r}"
        more = len(exc.errors()) - 1
        if more:
            fix += f"; {more} more problem(s) after this one"
        raise SpecError(str(path), field, problem, fix) from exc


def load_spec(model: type[Model], path: Path | str) -> Model:
    path = Path(path)
    return validate(model, read_yaml(path), path)
