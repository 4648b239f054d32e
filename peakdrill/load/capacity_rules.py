"""The SLO rules a capacity search judges each step by, and the judgement of one step.

The rules are the ones given with ``--slo``/``--threshold`` plus the shorthands ``--p95-ms`` and
``--error-ratio`` (each a rule over every request); with none of these, the shorthands' defaults.
A step is its own window: every rule is measured over the step's judged seconds (whatever window
it names for a drill), except recovery rules and data-integrity rules, which have nothing to say
about one step of load.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from peakdrill.histograms import Bucket, merge_buckets
from peakdrill.slo.model import RuleSet, Rule, measure
from peakdrill.slo.parse import combine, parse_section, parse_threshold
from peakdrill.slo.select import select

DEFAULT_P95_MS = 500.0
DEFAULT_ERROR_RATIO = 0.01


def step_rules(given: RuleSet | None, p95_ms: float | None, error_ratio: float | None) -> RuleSet:
    """``--slo``/``--threshold`` rules plus the shorthands; the shorthands' defaults when nothing is given."""
    if given is None or not given.rules:
        p95_ms = DEFAULT_P95_MS if p95_ms is None else p95_ms
        error_ratio = DEFAULT_ERROR_RATIO if error_ratio is None else error_ratio
    shorthands = ([f"*: p95 <= {p95_ms:g}ms"] if p95_ms is not None else []) + (
        [f"*: error_ratio <= {error_ratio * 100:g}%"] if error_ratio is not None else [])
    return combine(RuleSet(rules=tuple(parse_threshold(text) for text in shorthands)), given or RuleSet())


def judged(ruleset: RuleSet) -> tuple[Rule, ...]:
    return tuple(rule for rule in ruleset.scored if not rule.metric.integrity)


def rules_from_meta(raw: object) -> RuleSet:
    """The step rules run.json's ``capacity.rules`` stores (as ``RuleSet.to_dict`` wrote them)."""
    return parse_section(raw, "run.json capacity.rules")


@dataclass(frozen=True)
class StepJudgement:
    broken_by: tuple[str, ...]  # the rules the step broke, by name
    inconclusive: tuple[str, ...]  # the rules with no requests in the step
    why: str


def judge_rules(ruleset: RuleSet, buckets: Mapping[str, Bucket], seconds: int, groups: Mapping[str, Iterable[str]],
                excluded: Iterable[str]) -> StepJudgement:
    """Every rule over one step's merged buckets by request name. ``excluded`` names (pseudo-endpoints)
    are left out of globs and ``*`` but a rule that names them exactly gets them."""
    excluded = set(excluded)
    names = [name for name in buckets if name not in excluded]
    groups = dict(groups) | dict(ruleset.groups or {})
    broken, missing, breaks, gaps = [], [], [], []
    for rule in judged(ruleset):
        chosen = select(rule.requests, names, groups) | (set(rule.requests) & excluded & set(buckets))
        bucket = merge_buckets(buckets[name] for name in chosen)
        if not bucket.count:
            missing.append(rule.title)
            gaps.append(f"no requests for rule '{rule.title}' in this step: its judgement is inconclusive")
            continue
        value = measure(rule.metric, bucket, seconds)
        if not rule.bound.holds(value):
            shown = rule.bound.display(value)
            broken.append(rule.title)
            breaks.append(f"rule '{rule.title}': {rule.metric.text} "
                          f"{round(shown, 3):g}{rule.bound.unit} (needs {rule.bound.text})")
    return StepJudgement(tuple(broken), tuple(missing), "; ".join(breaks + gaps))
