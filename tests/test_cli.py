"""The CLI's promises, through the real ``peakdrill.cli.main``: one error boundary (a bug is exit 70
with its traceback in a file, never 1), the exit-code table, help and examples on every command,
and one meaning per PEAKDRILL_* variable."""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import peakdrill.replay.cli as profile_cli
import peakdrill.report.writer as report_writer
from peakdrill.cli import all_parsers, build_parser, main
from peakdrill.exitcodes import ExitCode, table

ROOT = Path(__file__).resolve().parent.parent
CRASH_LINE = re.compile(r"^peakdrill: internal error: this is a bug in peakdrill.*\(ZeroDivisionError: injected\); "
                        r"the full traceback is in (?P<path>\S+); please report it with that file$")


def _boom(*args, **kwargs):
    raise ZeroDivisionError("injected")


def _crash_file(stderr: str) -> Path:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    match = CRASH_LINE.match(lines[0])
    assert match, lines[0]
    return Path(match["path"])


def test_an_internal_error_is_exit_70_with_the_traceback_in_a_temp_file(monkeypatch, capsys):
    monkeypatch.setattr(profile_cli, "load_profile", _boom)
    assert main(["profile", "check", "loadtests/profiles/demo.yaml"]) == ExitCode.INTERNAL == 70
    crash = _crash_file(capsys.readouterr().err)
    try:
        text = crash.read_text(encoding="utf-8")
        assert "Traceback (most recent call last)" in text and "ZeroDivisionError: injected" in text
        assert "command: peakdrill profile check loadtests/profiles/demo.yaml" in text
    finally:
        crash.unlink()


def test_an_internal_error_with_a_run_directory_leaves_crash_txt_there(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(report_writer, "load_for_rules", _boom)
    run_dir = tmp_path / "20261121-231500-demo"
    run_dir.mkdir()
    assert main(["report", str(run_dir)]) == 70
    assert _crash_file(capsys.readouterr().err) == run_dir / "crash.txt"
    assert "ZeroDivisionError: injected" in (run_dir / "crash.txt").read_text(encoding="utf-8")


def test_the_installed_command_exits_70_not_1(tmp_path):
    """The process exit code a CI gate sees, through the console script's own entry point."""
    code = ("import sys, peakdrill.replay.cli as c\n"
            "c.load_profile = lambda *a: 1 / 0\n"
            "from peakdrill.cli import main\n"
            "sys.exit(main(['profile', 'check', 'x.yaml']))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=tmp_path,
                          env=dict(os.environ, TMPDIR=str(tmp_path)))
    assert done.returncode == 70, done.stderr
    assert "ZeroDivisionError" in Path(re.search(r"traceback is in (\S+);", done.stderr)[1]).read_text(encoding="utf-8")


def test_a_usage_error_stays_2_and_help_is_0(capsys):
    with pytest.raises(SystemExit) as usage:
        main(["drill"])
    assert usage.value.code == 2
    with pytest.raises(SystemExit) as helped:
        main(["--help"])
    assert helped.value.code == 0
    assert table() in capsys.readouterr().out


def _commands() -> list[argparse.ArgumentParser]:
    return all_parsers(build_parser())


def test_every_command_has_a_description_examples_and_the_exit_code_table():
    parsers = _commands()
    assert len(parsers) >= 19  # peakdrill, 9 commands, 9 actions of shop, profile and chaos
    for parser in parsers:
        help_text = parser.format_help()
        assert parser.description, parser.prog
        assert "examples" in help_text, parser.prog
        assert table() in help_text, parser.prog
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for code in ExitCode:
        assert f"| {int(code)} | {code.meaning} |" in readme, code


def _options() -> list[tuple[str, argparse.Action]]:
    found = []
    for parser in _commands():
        for action in parser._actions:
            if action.option_strings and not isinstance(action, (argparse._HelpAction, argparse._VersionAction)):
                found.append((parser.prog, action))
    return found


# Variables several commands read, each meaning the same thing everywhere (dest -> meaning).
SHARED = {
    "PEAKDRILL_SHOP_DIR": "the reference shop's state directory",
    "PEAKDRILL_HOST": "the target base URL the load goes to",
    "PEAKDRILL_ALLOW_HOST": "hosts the load may also reach",
    "PEAKDRILL_SCALE": "multiplier of a profile's users and rates",
    "PEAKDRILL_WORKERS": "Locust worker processes",
    "PEAKDRILL_REPORTS_DIR": "where run directories are created",
    "PEAKDRILL_NO_PROGRESS": "no live progress lines",
    "PEAKDRILL_METRICS_PORT": "port of the run's Prometheus metrics (docs/live.md)",
    "PEAKDRILL_METRICS_HOST": "interface of the run's Prometheus metrics",
    "PEAKDRILL_WEB": "serve the live report page",
    "PEAKDRILL_WEB_PORT": "port of the live report page",
    "PEAKDRILL_WEB_HOST": "interface of the live report page",
    "PEAKDRILL_NO_REPORT": "record only, no report",
    "PEAKDRILL_LOCUSTFILE": "the journeys' locustfile",
    "PEAKDRILL_ENDPOINTS": "the target's endpoint map",
    "PEAKDRILL_PROFILE_OUTPUT": "the replayed profile to write",
    "PEAKDRILL_GROWTH": "growth of a replayed profile",
    "PEAKDRILL_BUCKET": "replay bucket width",
    "PEAKDRILL_NAME": "replayed profile's name",
    "PEAKDRILL_THINK_MIN": "replayed profile's think time",
    "PEAKDRILL_THINK_MAX": "replayed profile's think time",
    "PEAKDRILL_SLO": "the SLO rule file or preset a run is scored by",
    "PEAKDRILL_THRESHOLD": "extra SLO rules, k6 style",
    "PEAKDRILL_INTEGRITY": "the data-integrity file naming the reconcilers (docs/integrity.md)",
    "PEAKDRILL_WORKER": "be Locust worker processes of a master elsewhere",
    "PEAKDRILL_MASTER_HOST": "(worker) the master's address",
    "PEAKDRILL_MASTER_BIND_HOST": "(master) the interface workers connect to",
    "PEAKDRILL_MASTER_PORT": "the master's port",
    "PEAKDRILL_WAIT_FOR_WORKERS": "(master) seconds to wait for every worker",
    "PEAKDRILL_START_AT": "the UTC instant every master starts the load",
}


def test_every_option_has_one_variable_with_one_meaning():
    by_env: dict[str, set[str]] = {}
    for prog, action in _options():
        env = getattr(action, "env", None)
        assert env and env.startswith("PEAKDRILL_"), f"{prog} {action.option_strings} has no PEAKDRILL_* variable"
        assert f"[env {env}" in action.help, (prog, action.option_strings)
        by_env.setdefault(env, set()).add(f"{prog.split()[1] if ' ' in prog else prog}:{action.dest}")
    for env, uses in by_env.items():
        dests = {use.split(":")[1] for use in uses}
        assert len(dests) == 1, f"{env} is read as {sorted(uses)}"
        commands = {use.split(":")[0] for use in uses}
        assert len(commands) == 1 or env in SHARED, f"{env} is read by {sorted(commands)}: give each its own name"
    experiment_keys = set(re.findall(r"key: (PEAKDRILL_[A-Z0-9_]+)", "".join(
        path.read_text(encoding="utf-8") for path in (ROOT / "experiments").rglob("*.yaml"))))
    clashes = (experiment_keys & set(by_env)) - {"PEAKDRILL_SHOP_DIR"}
    assert not clashes, f"experiment variables also read as options: {sorted(clashes)}"
    # Variables peakdrill sets for the processes it starts (Locust, pods) that are also options must
    # mean the same there: the profile's scale, the endpoint map, the calibration path, the start time.
    internal = {name for path in [*(ROOT / "peakdrill").rglob("*.py"), *(ROOT / "loadtests").rglob("*.py")]
                if not path.name.endswith("cli.py") and path != ROOT / "peakdrill" / "options.py"  # where options are made
                for name in re.findall(r'"(PEAKDRILL_[A-Z0-9_]+)"', path.read_text(encoding="utf-8"))}
    same_meaning = {"PEAKDRILL_SCALE", "PEAKDRILL_ENDPOINTS", "PEAKDRILL_CALIBRATE_PATH", "PEAKDRILL_START_AT"}
    assert internal & set(by_env) <= same_meaning, sorted(internal & set(by_env) - same_meaning)


def test_flags_and_lists_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("PEAKDRILL_NO_REPORT", "yes")
    monkeypatch.setenv("PEAKDRILL_ALLOW_HOST", "shop.staging.svc, 10.0.0.5")
    args = build_parser().parse_args(["drill", "d.yaml", "--allow-host", "extra.svc"])
    assert args.no_report is True
    assert args.allow_host == ["shop.staging.svc", "10.0.0.5", "extra.svc"]
    monkeypatch.setenv("PEAKDRILL_NO_REPORT", "0")
    assert build_parser().parse_args(["drill", "d.yaml"]).no_report is False
