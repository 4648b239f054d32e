"""The peakdrill guard: a Chaos Toolkit control that every experiment of experiments/ declares.

1. Argument checks before any fault. Each provider function ``f`` has a ``validate_f`` sibling
   taking the same arguments. The guard calls them (with the configuration substituted) from
   ``validate_control``, which both ``chaos validate`` and ``chaos run`` reach through chaoslib's
   ``ensure_experiment_is_valid``, and again from ``before_experiment_control``, which sees
   ``--var`` overrides and runs before the steady-state hypothesis. The message names the
   activity and the argument.
2. The abort condition of an experiment run alone (``chaos run``). During the method a thread
   scrapes the target's ``/metrics``; when the 5xx ratio or the p99 is past its bound for
   ``breaches`` checks in a row it interrupts the experiment the way Chaos Toolkit itself offers
   (SIGUSR1: stop now, rollbacks still play). Inside a drill the runner owns the one abort policy
   (the drill's abort rules, judged on the whole load's measurements), so the guard does not judge.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import sys
import threading
from typing import Any

from chaoslib import experiment as chaos_experiment
from chaoslib import substitute
from chaoslib.configuration import load_configuration
from chaoslib.exceptions import InterruptExecution, InvalidActivity
from chaoslib.exit import exit_gracefully

from peakdrill import events
from peakdrill.chaos import args, slo
from peakdrill.chaos.client import Target
from peakdrill.chaos.target import target
from peakdrill.errors import ChaosError, PeakdrillError

log = logging.getLogger("chaostoolkit")

PROVIDER_PACKAGE = "peakdrill.chaos."
MIN_REQUESTS = 10  # fewer requests in a check window say nothing about the error ratio
_watchers: list["AbortWatcher"] = []
_abort_reasons: list[str] = []


def check_activities(experiment: dict, configuration: dict, secrets: dict | None = None) -> None:
    """Run the ``validate_*`` sibling of every peakdrill activity of the experiment."""
    activities = ((experiment.get("steady-state-hypothesis") or {}).get("probes") or []) \
        + (experiment.get("method") or []) + (experiment.get("rollbacks") or [])
    for activity in activities:
        provider = activity.get("provider") or {}
        if provider.get("type") != "python" or not str(provider.get("module", "")).startswith(PROVIDER_PACKAGE):
            continue
        validator = getattr(importlib.import_module(provider["module"]), f"validate_{provider.get('func')}", None)
        if validator is None:
            continue
        arguments = substitute(dict(provider.get("arguments") or {}), configuration, secrets or {})
        try:
            validator(**arguments)
        except PeakdrillError as exc:
            raise InvalidActivity(f"{activity.get('type', 'activity')} {activity.get('name')!r} "
                                  f"({provider['module']}.{provider.get('func')}): {exc}") from exc


def _experiment_being_validated() -> dict | None:
    # chaoslib hands validate_control only the control; the experiment is a local of the
    # ensure_experiment_is_valid frame that called it (chaoslib offers no other way to reach it).
    target = inspect.unwrap(chaos_experiment.ensure_experiment_is_valid).__code__
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code is target:
            return frame.f_locals.get("experiment")
        frame = frame.f_back
    return None


def validate_guard_arguments(shop_dir: str = "", url: str = "", max_error_ratio: Any = 0.5, max_p99_ms: Any = 5000,
                             check_every_s: Any = 2, breaches: Any = 2, watch: Any = True) -> None:
    args.choice("watch", watch, (True, False))
    args.number("max_error_ratio", max_error_ratio, 0.0, 1.0, 0.5)
    args.number("max_p99_ms", max_p99_ms, 0.0, 600_000.0, 5000)
    args.duration(check_every_s, "check_every_s")
    args.whole("breaches", breaches, 1, 100, 2)


def validate_control(control: dict) -> None:
    experiment = _experiment_being_validated()
    if experiment is None:
        return
    configuration = load_configuration(experiment.get("configuration") or {})
    check_activities(experiment, configuration)
    arguments = substitute(dict((control.get("provider") or {}).get("arguments") or {}), configuration, {})
    try:
        validate_guard_arguments(**arguments)
    except (PeakdrillError, TypeError) as exc:
        raise InvalidActivity(f"control {control.get('name')!r}: {exc}") from exc


def before_experiment_control(context: dict, configuration: dict | None = None, secrets: dict | None = None,
                              **arguments: Any) -> None:
    try:
        check_activities(context, configuration or {}, secrets)
    except InvalidActivity as exc:
        raise InterruptExecution(f"not running: {exc}") from exc


class AbortWatcher(threading.Thread):
    def __init__(self, base: Target, max_error_ratio: float, max_p99_ms: float, check_every_s: float, breaches: int) -> None:
        super().__init__(daemon=True, name="peakdrill-abort-watcher")
        self.base, self.max_error_ratio, self.max_p99_ms = base, max_error_ratio, max_p99_ms
        self.check_every_s, self.breaches = check_every_s, breaches
        self.stopped = threading.Event()

    def _breach(self, figures: slo.Figures) -> str:
        if figures.requests < MIN_REQUESTS:
            return ""
        if figures.error_ratio > self.max_error_ratio:
            return f"5xx ratio {figures.error_ratio:.1%} > {self.max_error_ratio:.1%}"
        if figures.p99_ms is not None and figures.p99_ms > self.max_p99_ms:
            return f"p99 {figures.p99_ms:.0f} ms > {self.max_p99_ms:.0f} ms"
        return ""

    def run(self) -> None:
        try:
            before = slo.scrape(self.base)
        except ChaosError as exc:
            log.warning("abort watcher cannot read the target's metrics, not watching: %s", exc)
            return
        streak = 0
        while not self.stopped.wait(self.check_every_s):
            try:
                after = slo.scrape(self.base)
            except ChaosError as exc:
                log.warning("abort watcher: %s", exc)
                continue
            breach = self._breach(slo.figures(before, after))
            before = after
            streak = streak + 1 if breach else 0
            if streak >= self.breaches and not self.stopped.is_set():
                reason = f"abort condition: {breach} for {streak} checks of {self.check_every_s:g}s"
                _abort_reasons.append(reason)
                log.critical("%s; interrupting the experiment, rollbacks will play", reason)
                events.publish(events.Abort(reason=reason))
                exit_gracefully()
                return


def before_method_control(context: dict, shop_dir: str = ".peakdrill/shop", max_error_ratio: Any = 0.5,
                          max_p99_ms: Any = 5000, check_every_s: Any = 2, breaches: Any = 2, url: str = "",
                          watch: Any = True, configuration: dict | None = None, **others: Any) -> None:
    if not watch:  # a system without peakdrill's /metrics (experiments/generic/): no abort condition to judge
        return
    if events.in_a_run():  # a drill: its runner's abort rules decide, one policy for the whole run
        return
    watcher = AbortWatcher(target(shop_dir, url, configuration), float(max_error_ratio), float(max_p99_ms), float(check_every_s), int(breaches))
    _watchers.append(watcher)
    watcher.start()


def _stop_watching() -> None:
    while _watchers:
        _watchers.pop().stopped.set()


def after_method_control(context: Any, **others: Any) -> None:
    _stop_watching()


def before_rollback_control(context: Any, **others: Any) -> None:
    _stop_watching()  # a late abort signal must not cut the rollbacks short


def after_experiment_control(context: dict, state: dict | None = None, **others: Any) -> None:
    _stop_watching()
    if _abort_reasons and isinstance(state, dict):
        state["peakdrill_abort"] = "; ".join(_abort_reasons)  # the journal says why it was interrupted
    _abort_reasons.clear()


def cleanup_control() -> None:
    _stop_watching()
    _abort_reasons.clear()
