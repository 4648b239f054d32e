"""``peakdrill reconcile``: reconcile a recorded run again (its own integrity section, or another)."""

from __future__ import annotations

import argparse
from pathlib import Path

from peakdrill.cli import option
from peakdrill.errors import SpecError
from peakdrill.integrity.config import Integrity, load_integrity
from peakdrill.integrity.reconcile import reconcile
from peakdrill.integrity.reconcilers import Context
from peakdrill.rundir import META_FILE, RunDir
from peakdrill.safety import Allowlist

DESCRIPTION = """\
Ask the systems of record again what they hold for a recorded run's acknowledgements (acks/ in
the run directory) and write a new reconciliation.json; then `peakdrill report RUN_DIR` scores it.
The reconcilers are the run's own (its drill's integrity: section or its --integrity file, kept in
run.json) unless --integrity names another file. See docs/integrity.md.
"""

EPILOG = """\
examples:
  peakdrill reconcile reports/20261129-221500-demo && peakdrill report reports/20261129-221500-demo
  peakdrill reconcile reports/RUN --integrity perf/integrity.yaml

exit codes: 0 every kind reconciled with nothing lost, duplicated or phantom, 1 something was,
2 usage or input error, 3 a reconciler failed or timed out.
"""


def handle(args: argparse.Namespace) -> int:
    run_dir = Path(args.run_dir)
    meta = RunDir(run_dir).meta().raw  # says what is wrong with a directory that is not a run's
    if args.integrity:
        integrity, base = load_integrity(args.integrity), Path(args.integrity).resolve().parent
    elif meta.get("integrity"):
        # A command or a relative SQLite path of a drill's section is relative to the drill's folder.
        drill_file = (meta.get("drill") or {}).get("file")
        integrity, base = Integrity.model_validate(meta["integrity"]), Path(drill_file).parent if drill_file else Path.cwd()
    else:
        raise SpecError(str(run_dir / META_FILE), "integrity", "the run has no integrity section",
                        "pass --integrity FILE naming the reconcilers (docs/integrity.md)")
    target = meta.get("target") or {}
    context = Context(Allowlist(target.get("allowed_hosts") or ()), target.get("url"), float(meta.get("start_ts") or 0),
                      integrity.timeout, base)
    document = reconcile(run_dir, integrity, context)
    kinds = document["kinds"]
    for kind in kinds:
        if kind["status"] == "reconciled":
            found = ", ".join(f"{n} {kind[n]}" + (f" ({', '.join(kind[n + '_ids'])})" if kind[n] else "")
                              for n in ("lost", "duplicated", "phantom"))
            print(f"{kind['kind']}: {kind['acknowledged']} acknowledged, {kind['stored']} stored; {found}")
        else:
            print(f"{kind['kind']}: INCONCLUSIVE: {kind['reason']}")
    print(f"wrote {run_dir / 'reconciliation.json'}")
    if any(k["status"] != "reconciled" for k in kinds):
        return 3
    return 1 if any(k["lost"] or k["duplicated"] or k["phantom"] for k in kinds) else 0


def register(subparsers) -> None:
    parser = subparsers.add_parser("reconcile", help="reconcile a run's acknowledgements with the system of record",
                                   description=DESCRIPTION, epilog=EPILOG,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a run directory, e.g. reports/<run-id>")
    option(parser, "--integrity", metavar="FILE", help="the reconcilers to use instead of the run's own (YAML)")
    parser.set_defaults(handler=handle)
