"""Rules from their three sources: a drill's ``slo:`` section, a rule file (``--slo FILE.yaml``) and
k6-style ``--threshold 'GET /api/products/[id]: p99 < 50ms'`` flags.

Every problem is a :class:`SpecError` naming the file (or the flag), the rule and the fix.
"""

from __future__ import annotations

import re
from pathlib import Path

from peakdrill.errors import SpecError, quote
from peakdrill.slo.model import (DEFAULT_SUSTAINED_S, Rule, RuleSet, check_window, parse_bound,
                                 parse_metric)
from peakdrill.slo.presets import PRESETS, preset
from peakdrill.spec.loader import parse_duration, read_yaml

THRESHOLD_FLAG = "--threshold"
RULE_FIELDS = {"id", "name", "requests", "metric", "bound", "window", "abort", "sustained"}
SECTION_FIELDS = {"preset", "rules", "groups", "recovery_window"}
_THRESHOLD = re.compile(r"^(?P<sel>.+?):\s*(?P<metric>[A-Za-z0-9_.()]+)\s*(?P<bound>(?:<=|>=|==|<|>)[^@]*?)"
                        r"(?:\s+(?:in|@)\s*(?P<window>\S+))?\s*$")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:60] or "rule"


def _label(index: int, raw: object) -> str:
    name = raw.get("name") or raw.get("id") if isinstance(raw, dict) else None
    return f"rules[{index}]" + (f" ({str(name)[:40]})" if name else "")


def rule_from_dict(raw: object, source: str, where: str) -> Rule:
    """One rule; ``where`` (e.g. ``rules[2] (checkout p99)``) locates it in ``source`` for errors."""
    if not isinstance(raw, dict):
        raise SpecError(source, where, f"a rule is a mapping, got {quote(raw)}",
                        "write e.g. {requests: 'GET /item', metric: p99, bound: '< 50ms'}")
    unknown = sorted(set(raw) - RULE_FIELDS)
    if unknown:
        raise SpecError(source, where, f"unknown field {unknown[0]!r}", f"the fields are {', '.join(sorted(RULE_FIELDS))}")
    for needed in ("requests", "metric", "bound"):
        if needed not in raw:
            raise SpecError(source, where, f"'{needed}' is missing", "every rule names requests, a metric and a bound")
    requests = raw["requests"]
    requests = (requests,) if isinstance(requests, str) else tuple(str(r) for r in requests or ())
    if not requests or not all(r.strip() for r in requests):
        raise SpecError(source, where, "'requests' is empty", "name requests, a glob like 'GET /api/*', group:<name> or *")
    try:
        metric = parse_metric(raw["metric"])
        bound = parse_bound(raw["bound"], metric)
        window = check_window(raw.get("window", "whole" if metric.integrity else "steady"))
        if metric.integrity and window not in ("whole",) and not window.startswith("during:"):
            raise ValueError(f"{metric.text} counts records over the whole run or during:<fault>, not {window!r}")
        sustained = parse_duration(raw.get("sustained", DEFAULT_SUSTAINED_S))
    except ValueError as exc:
        raise SpecError(source, where, str(exc)) from exc
    if not isinstance(raw.get("abort", False), bool):
        raise SpecError(source, where, f"abort must be true or false, got {quote(raw['abort'])}")
    if metric.integrity and raw.get("abort"):
        raise SpecError(source, where, f"{metric.text} is known only after the load, so it cannot abort a drill",
                        "remove abort: true")
    title = str(raw.get("name") or f"{', '.join(requests)} {metric.text} {bound.text}")
    return Rule(id=str(raw.get("id") or _slug(title)), title=title, requests=requests, metric=metric, bound=bound,
                window=window, abort=bool(raw.get("abort", False)), sustained_s=sustained)


def parse_threshold(text: str) -> Rule:
    """``'SELECTOR: METRIC OP VALUE[UNIT] [in WINDOW]'``, e.g. ``'GET /item: p99 < 50ms in stage:peak'``."""
    match = _THRESHOLD.match(str(text))
    if not match:
        raise SpecError(THRESHOLD_FLAG, str(text)[:80], "not 'REQUESTS: METRIC BOUND'",
                        "write e.g. --threshold 'GET /api/products/[id]: p99 < 50ms' or '*: error_ratio < 1%'")
    requests = tuple(part.strip() for part in match.group("sel").split(","))
    raw = {"requests": list(requests), "metric": match.group("metric"), "bound": match.group("bound").strip(),
           "name": str(text).strip()} | ({"window": match.group("window")} if match.group("window") else {})
    return rule_from_dict(raw, THRESHOLD_FLAG, repr(str(text)[:80]))


def parse_section(raw: object, source: str) -> RuleSet:
    """A drill's ``slo:`` section or a rule file: a preset name, a list of rules, or a mapping of
    ``preset``, ``rules``, ``groups`` and ``recovery_window``."""
    if raw is None:
        return RuleSet()
    if isinstance(raw, str):
        raw = {"preset": raw}
    if isinstance(raw, list):
        raw = {"rules": raw}
    if not isinstance(raw, dict):
        raise SpecError(source, "slo", f"expected a preset name, a list of rules or a mapping, got {quote(raw)}",
                        "see docs/slo.md")
    unknown = sorted(set(raw) - SECTION_FIELDS)
    if unknown:
        raise SpecError(source, unknown[0], "unknown field", f"the fields are {', '.join(sorted(SECTION_FIELDS))}")
    base = RuleSet()
    if raw.get("preset") is not None:
        name = str(raw["preset"])
        if name not in PRESETS:
            raise SpecError(source, "preset", f"unknown preset {quote(name)}", f"the presets are {', '.join(PRESETS)}")
        base = preset(name)
    rules = raw.get("rules") or []
    if not isinstance(rules, list):
        raise SpecError(source, "rules", "must be a list of rules", "write rules: [- {requests: ..., metric: ..., bound: ...}]")
    parsed = tuple(rule_from_dict(r, source, _label(i, r)) for i, r in enumerate(rules))
    groups = raw.get("groups") or {}
    if not isinstance(groups, dict):
        raise SpecError(source, "groups", "must map a group name to request names", "write groups: {catalog: ['GET /api/products*']}")
    try:
        window = parse_duration(raw.get("recovery_window", base.recovery_window_s))
    except ValueError as exc:
        raise SpecError(source, "recovery_window", str(exc)) from exc
    merged_groups = dict(base.groups or {}) | {str(k): tuple(v if isinstance(v, list) else [v]) for k, v in groups.items()}
    return RuleSet(rules=unique_ids(base.rules + parsed), groups=merged_groups, recovery_window_s=window)


def unique_ids(rules: tuple[Rule, ...]) -> tuple[Rule, ...]:
    """Rule ids name JUnit test cases and score.json entries: a repeated id gets a suffix."""
    seen: dict[str, int] = {}
    result = []
    for rule in rules:
        count = seen.get(rule.id, 0)
        seen[rule.id] = count + 1
        result.append(rule if not count else Rule(**{**rule.__dict__, "id": f"{rule.id}_{count + 1}"}))
    return tuple(result)


def load_rule_file(path: Path | str) -> RuleSet:
    path = Path(path)
    if not path.is_file():
        raise SpecError(str(path), "", "no such rule file", "give the path of a YAML rule file (see docs/slo.md)")
    return parse_section(read_yaml(path), str(path))


def combine(*sets: RuleSet) -> RuleSet:
    rules, groups, window = (), {}, None
    for ruleset in sets:
        rules += ruleset.rules
        groups |= ruleset.groups or {}
        if ruleset.rules and window is None:
            window = ruleset.recovery_window_s
    return RuleSet(rules=unique_ids(rules), groups=groups, recovery_window_s=window or RuleSet().recovery_window_s)


def from_command_line(slo: str | None, thresholds: list[str] | None) -> RuleSet | None:
    """``--slo FILE|PRESET`` and ``--threshold`` flags; None when neither is given."""
    if not slo and not thresholds:
        return None
    base = RuleSet()
    if slo:
        base = parse_section(slo, "--slo") if slo in PRESETS else load_rule_file(slo)
    extra = RuleSet(rules=tuple(parse_threshold(t) for t in thresholds or ()))
    return combine(base, extra)
