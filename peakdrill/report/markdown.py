"""report.md: the verdict banner and tables in GitHub-flavoured Markdown for CI summaries."""

from __future__ import annotations

from peakdrill.report.capacity import capacity_result
from peakdrill.report.score import Score

ICONS = {"PASS": "✅", "FAIL": "❌", "INCONCLUSIVE": "⚠️"}


def _cell(value) -> str:
    return str(value if value is not None else "–").replace("|", "\\|").replace("\n", " ")


def table(header: list[str], rows: list[list]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |",
             "| " + " | ".join("---:" if h.endswith(("ms", "Count", "Failures")) else "---" for h in header) + " |"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


def _first_ids(kind: dict) -> str:
    return "; ".join(f"{name}: {', '.join(kind[name + '_ids'])}" for name in ("lost", "duplicated", "phantom")
                     if kind.get(name + "_ids"))


def integrity_tables(document: dict) -> list[str]:
    kinds = document.get("kinds") or []
    out = ["", "### Data integrity", ""]
    out += table(["Kind", "Reconciler", "Acknowledged", "Stored", "Lost", "Duplicated", "Phantom", "First ids"],
                 [[k["kind"], k["reconciler"], k["acknowledged"], k["stored"], k["lost"], k["duplicated"], k["phantom"],
                   _first_ids(k)] if k.get("status") == "reconciled" else
                  [k["kind"], "INCONCLUSIVE", k["acknowledged"], "–", "–", "–", "–", k.get("reason", "")]
                  for k in kinds])
    windows = [(k["kind"], w) for k in kinds for w in k.get("windows") or []]
    if windows:
        out += ["", "Per fault window (from injection to removal plus its recovery target):", ""]
        out += table(["Fault", "Kind", "Acknowledged", "Lost", "Duplicated", "Phantom"],
                     [[w["fault"] or w["fault_id"], kind, w["acknowledged"], w["lost"], w["duplicated"], w["phantom"]]
                      for kind, w in windows])
    rounds = [(r["after"], k) for r in document.get("rounds") or [] for k in r["kinds"]]
    if rounds:
        out += ["", "Reconciled during the drill, after each fault's recovery window (acknowledgements until then):", ""]
        out += table(["After", "Kind", "Acknowledged", "Lost", "Duplicated", "Phantom"],
                     [[after, k["kind"], k["acknowledged"], k.get("lost", "–"), k.get("duplicated", "–"),
                       k.get("phantom", "–")] for after, k in rounds])
    return out


def render_markdown(score: Score) -> str:
    out = [f"## {ICONS[score.verdict]} peakdrill {score.verdict}: `{score.run_id}`", ""]
    if score.interrupted:
        out += [f"> **Run did not complete (status: {score.status}).** Verdicts use the data it left.", ""]
    out += [f"- {reason}" for reason in score.reasons]
    totals = score.totals
    out += ["", f"{totals['requests']:,} requests, {totals['failures']:,} failures, {totals['duration_s']:g} s", ""]
    out += table(["Verdict", "Check", "Measured", "Target", "Window"],
                  [[f"{ICONS[v.verdict]} {v.verdict}", v.title, v.measured_text, v.target_text, v.window]
                   for v in score.verdicts])
    if score.capacity:
        out += ["", "### Capacity search", ""]
        out += table(["Step", "Users", "Offered req/s", "Req/s", "Orders/s", "p95 ms", "Errors", "Result"],
                      [[s.step, s.users, s.offered_rps, f"{s.rps:g}", f"{s.orders_per_s:g}", f"{s.p95_ms:g}", f"{s.error_ratio:.2%}",
                        capacity_result(score.capacity, s)] for s in score.capacity.steps])
        out += ["", f"A step breaks when any of these SLO rules fails over it: {'; '.join(score.capacity.rules)}."]
    if score.integrity:
        out += integrity_tables(score.integrity)
    if score.faults:
        out += ["", "### Fault windows", ""]
        out += table(["Fault", "Injected by", "From", "To", "Overlaps", "Cache-read p99 during", "Recovery"],
                      [[f.fault or f.fault_id, f.provider, f"t={f.start_t:.0f}s",
                        "never removed" if f.end_t is None else f"t={f.end_t:.0f}s", ", ".join(f.overlaps) or "–",
                        "–" if f.cache_p99_during_ms is None else f"{f.cache_p99_during_ms:g} ms", f.recovery]
                       for f in score.faults])
    out += ["", "### Endpoints", ""]
    out += table(["Endpoint", "Count", "Failures", "p50 ms", "p95 ms", "p99 ms", "max ms"],
                  [[e.name, e.count, e.failures, f"{e.p50_ms:.1f}", f"{e.p95_ms:.1f}", f"{e.p99_ms:.1f}",
                    f"{e.max_ms:.1f}"] for e in score.endpoints])
    return "\n".join(out) + "\n"
