"""Integrity rules (``lost``, ``duplicated``, ``phantom``) judged from ``reconciliation.json``.

A rule selects acknowledgement kinds (``order``, a glob, ``*``); its figure is the sum over them,
over the whole run or one fault's window. A kind whose reconciler failed or timed out, or a run
without a reconciliation, makes the rule INCONCLUSIVE, never PASS.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from peakdrill.report.verdict import FAIL, INCONCLUSIVE, PASS, Verdict
from peakdrill.slo.model import Rule, holds
from peakdrill.slo.select import select

NO_RECONCILIATION = ("no reconciliation.json: the run had no integrity: section (or --integrity FILE), or it "
                     "ended before reconciling; run `peakdrill reconcile RUN_DIR --integrity FILE` (docs/integrity.md)")


def _names(window: dict) -> set[str]:
    experiment = str(window.get("experiment") or "")
    path = PurePosixPath(experiment)
    return {str(window.get("fault") or ""), str(window.get("fault_id") or ""), experiment, path.name, path.stem} - {""}


def _ids(kinds: list[dict], key: str) -> str:
    named = [f"{k['kind']} {i}" for k in kinds for i in k.get(key, [])][:5]
    return ", ".join(named)


def integrity_verdict(rule: Rule, document: dict | None) -> Verdict:
    target, op, metric = rule.bound.value, rule.bound.op, rule.metric.kind

    def verdict(word: str, detail: str, measured: float | None = None) -> Verdict:
        text = "no data" if measured is None else f"{measured:g}"
        return Verdict(rule.id, rule.title, word, measured, target, "", op, rule.window, detail, text)

    if document is None:
        return verdict(INCONCLUSIVE, NO_RECONCILIATION)
    kinds = document.get("kinds") or []
    chosen = select(rule.requests, [k["kind"] for k in kinds], {})
    selected = [k for k in kinds if k["kind"] in chosen]
    if not selected:
        return verdict(INCONCLUSIVE, f"no reconciled kind matches {', '.join(rule.requests)}; the reconciled kinds "
                                     f"are {', '.join(k['kind'] for k in kinds) or 'none'}")
    unknown = [k for k in selected if k.get("status") != "reconciled"]
    if unknown:
        return verdict(INCONCLUSIVE, "; ".join(f"{k['kind']}: {k.get('reason', 'not reconciled')}" for k in unknown))
    if rule.window == "whole":
        parts = selected
        acknowledged = sum(k["acknowledged"] for k in selected)
    else:
        name = rule.window[len("during:"):]
        parts = [w | {"kind": k["kind"]} for k in selected for w in k.get("windows", []) if name in _names(w)]
        if not parts:
            return verdict(INCONCLUSIVE, f"no fault {name!r} in this run's reconciliation")
        acknowledged = sum(w["acknowledged"] for w in parts)
    measured = float(sum(p[metric] for p in parts))
    detail = f"{acknowledged} acknowledged {'/'.join(k['kind'] for k in selected)}; {metric}: {measured:g}"
    if measured:
        detail += f" (first: {_ids(parts, metric + '_ids')})"
    return verdict(PASS if holds(op, measured, target) else FAIL, detail, measured)
