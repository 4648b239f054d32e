"""Rules checked against what a run will have, before it starts: a glob that matches nothing in the
endpoint map, an unknown group or a stage the profile does not have is a typo, not an empty window."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from peakdrill.errors import SpecError, quote
from peakdrill.slo.model import RuleSet
from peakdrill.slo.select import EVERYTHING, GROUP_PREFIX, select


def check_rules(ruleset: RuleSet, source: str, groups: Mapping[str, Iterable[str]],
                names: Iterable[str] | None = None, stages: Iterable[str] | None = None,
                kinds: Iterable[str] | None = None) -> None:
    """``names``: the request names the target's endpoint map gives (None: unknown, globs are not
    checked); ``stages``: the profile's stage names; ``kinds``: the acknowledgement kinds the run
    reconciles (None: unknown, integrity rules are not checked)."""
    known = None if names is None else list(names)
    for index, rule in enumerate(ruleset.rules):
        where = f"rules[{index}] ({rule.title[:60]})"
        if rule.metric.integrity and kinds is not None and not select(rule.requests, list(kinds), {}):
            raise SpecError(source, where, f"{rule.metric.text} of {quote(', '.join(rule.requests))}: no such kind is "
                                           f"reconciled (reconciled: {', '.join(kinds) or 'none'})",
                            "name a kind of the integrity: section (or --integrity FILE), see docs/integrity.md")
        # Integrity rules select kinds of acknowledgement, which no endpoint map names.
        for selector in () if rule.metric.integrity else rule.requests:
            if selector.startswith(GROUP_PREFIX):
                group = selector[len(GROUP_PREFIX):]
                if group not in groups:
                    raise SpecError(source, where, f"unknown group {quote(group)}",
                                    f"the groups are {', '.join(sorted(groups)) or 'none'}; define it under groups:")
            elif selector != EVERYTHING and ("*" in selector or "?" in selector) and known is not None:
                if not select([selector], known, groups):
                    raise SpecError(source, where, f"{quote(selector)} matches nothing in the endpoint map",
                                    f"its request names are {', '.join(sorted(known))[:200]}")
        if stages is not None and rule.window.startswith("stage:"):
            stage_names = list(stages)
            if rule.window[len("stage:"):] not in stage_names:
                raise SpecError(source, where, f"window {quote(rule.window)}: the profile has no such stage",
                                f"its stages are {', '.join(stage_names)}")
