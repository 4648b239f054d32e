"""The fault window of any Chaos Toolkit experiment, read from its journal.

peakdrill's own provider publishes precise ``fault_injected``/``fault_removed`` events as it acts;
an experiment built from other providers (Chaos Toolkit's ``process`` and ``http``, an extension
such as chaostoolkit-kubernetes) publishes nothing. Its fault window is then taken from the
journal chaoslib keeps:

- activities the author marks with ``x-peakdrill-fault: true`` (in the method or the rollbacks):
  from the start of the first marked one to the end of the last;
- otherwise from the start of the first method *action* (probes only look) to the end of the
  rollbacks, or of the method when there are none.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

MARK = "x-peakdrill-fault"


@dataclass(frozen=True, slots=True)
class JournalFault:
    name: str  # the first fault activity's name
    provider: str  # e.g. "process:kill", "http:http://127.0.0.1:8080/x", "python:chaosk8s.pod.actions.terminate_pods"
    inject_ts: float
    remove_ts: float | None  # None: the journal shows no end (the run was cut short)
    removed_by: str  # "rollback" or "method"


def _ts(text: object) -> float | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp()


def provider_of(activity: dict) -> str:
    provider = activity.get("provider") or {}
    kind = str(provider.get("type", "?"))
    detail = {"process": provider.get("path"), "http": provider.get("url"),
              "python": f"{provider.get('module', '?')}.{provider.get('func', '?')}"}.get(kind)
    return f"{kind}:{detail}" if detail else kind


def is_peakdrill(activity: dict) -> bool:
    """peakdrill's own provider records its faults itself, more precisely than a journal can."""
    provider = activity.get("provider") or {}
    return provider.get("type") == "python" and str(provider.get("module", "")).startswith("peakdrill.")


def _runs(journal: dict, key: str) -> list[dict]:
    return [run for run in journal.get(key) or [] if isinstance(run, dict) and isinstance(run.get("activity"), dict)]


def journal_fault(journal: dict) -> JournalFault | None:
    """The experiment's fault window, or None when it changed nothing (or only through peakdrill's provider)."""
    method, rollbacks = _runs(journal, "run"), _runs(journal, "rollbacks")
    marked = [run for run in method + rollbacks if run["activity"].get(MARK) is True]
    if marked:
        first, last, by = marked[0], marked[-1], "rollback" if marked[-1] in rollbacks else "method"
    else:
        actions = [run for run in method if run["activity"].get("type") == "action"]
        if not actions or any(is_peakdrill(run["activity"]) for run in method + rollbacks):
            return None
        first = actions[0]
        last, by = (rollbacks[-1], "rollback") if rollbacks else (method[-1], "method")
    inject = _ts(first.get("start"))
    if inject is None:
        return None
    return JournalFault(name=str(first["activity"].get("name", "fault")), provider=provider_of(first["activity"]),
                        inject_ts=inject, remove_ts=_ts(last.get("end")), removed_by=by)
