"""``peakdrill chaos list|recover``: the faults left on a shop, and removing them.

Both read the fault ledger (``<shop-dir>/faults/*.json``), which records every injected fault
until it is removed, so they work after anything went wrong: a runner killed with -9, a dead-man
watchdog that was killed too or could not finish.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from peakdrill.chaos import ledger, lifecycle
from peakdrill.options import option
from peakdrill.run import pending
from peakdrill.errors import PeakdrillError
from peakdrill.shop.supervisor import DEFAULT_SHOP_DIR


def _describe(record: ledger.FaultRecord) -> str:
    age = time.time() - record.injected_at
    due = record.deadline - time.time()
    return (f"{record.fault_id}: {record.fault} on {record.target}, injected {age:.0f}s ago by pid {record.owner_pid}, "
            f"dead-man pid {record.watchdog_pid} " + (f"due in {due:.0f}s" if due > 0 else f"overdue by {-due:.0f}s"))


def list_faults(args: argparse.Namespace) -> int:
    records = ledger.active(args.shop_dir)
    for record in records:
        print(_describe(record))
    if not records:
        print(f"no faults recorded for the shop in '{args.shop_dir}'")
    return 0


def _recover_run(run_dir: Path) -> int:
    """Play the rollbacks an experiment of the drill in ``run_dir`` still owes (any provider)."""
    owing, running = pending.pending(run_dir)
    for item in running:
        print(f"{item.name}: its process is still running; it plays its own rollbacks")
    failed = 0
    for item in owing:
        try:
            runs = pending.play(item)
        except Exception as exc:  # noqa: BLE001 - report it and go on with the others
            failed += 1
            print(f"could not play the rollbacks of {item.name}: {type(exc).__name__}: {exc}")
            continue
        print(f"{item.name}: played {len(runs)} rollback(s): " + ", ".join(f"{r['activity'].get('name')} {r.get('status')}" for r in runs))
    if not owing and not running:
        print(f"nothing left: no experiment of the run in '{run_dir}' owes rollbacks")
    return failed


def recover(args: argparse.Namespace) -> int:
    failed = _recover_run(Path(args.run_dir)) if args.run_dir else 0
    records = ledger.active(args.shop_dir)
    for record in records:
        try:
            removed = lifecycle.remove(args.shop_dir, record.fault_id, by="recover")
        except PeakdrillError as exc:
            failed += 1
            print(f"could not remove {record.fault_id}: {exc}")
            continue
        print(f"removed {_describe(record)}" if removed else f"{record.fault_id}: already removed meanwhile")
    if not records:
        print(f"nothing left: no faults recorded for the shop in '{args.shop_dir}'")
    return 1 if failed else 0


def register(subparsers: argparse._SubParsersAction) -> None:
    chaos = subparsers.add_parser("chaos", help="faults left behind by experiments: list them, remove them",
                                  description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                  epilog="examples:\n  peakdrill chaos list\n  peakdrill chaos recover --shop-dir .peakdrill/shop\n"
                                         "  peakdrill chaos recover --run-dir reports/20261129-demo\n")
    commands = chaos.add_subparsers(dest="chaos_command", metavar="ACTION", required=True)
    for name, handler, text in (("list", list_faults, "print the faults recorded in the shop's fault ledger"),
                                ("recover", recover, "remove every recorded fault; exit 1 if one could not be removed")):
        command = commands.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".",
                                      epilog=f"examples:\n  peakdrill chaos {name}\n  peakdrill chaos {name} --shop-dir /tmp/shop\n")
        option(command, "--shop-dir", help="the shop whose faults to act on", default=DEFAULT_SHOP_DIR)
        if name == "recover":
            option(command, "--run-dir", help="also play the rollbacks that the experiments of this drill run still owe "
                                              "(any provider: their runner and process were killed)", default="",
                   env="PEAKDRILL_RECOVER_RUN_DIR")  # PEAKDRILL_RUN_DIR is Locust's, inside a drill
        command.set_defaults(handler=handler)
