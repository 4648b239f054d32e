"""``peakdrill chaos list|recover``: the faults left on a shop, and removing them.

Both read the fault ledger (``<shop-dir>/faults/*.json``), which records every injected fault
until it is removed, so they work after anything went wrong: a runner killed with -9, a dead-man
watchdog that was killed too or could not finish.
"""

from __future__ import annotations

import argparse
import time

from peakdrill.chaos import ledger, lifecycle
from peakdrill.options import option
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


def recover(args: argparse.Namespace) -> int:
    failed = 0
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
                                  epilog="examples:\n  peakdrill chaos list\n  peakdrill chaos recover --shop-dir .peakdrill/shop\n")
    commands = chaos.add_subparsers(dest="chaos_command", metavar="ACTION", required=True)
    for name, handler, text in (("list", list_faults, "print the faults recorded in the shop's fault ledger"),
                                ("recover", recover, "remove every recorded fault; exit 1 if one could not be removed")):
        command = commands.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".",
                                      epilog=f"examples:\n  peakdrill chaos {name}\n  peakdrill chaos {name} --shop-dir /tmp/shop\n")
        option(command, "--shop-dir", help="the shop whose faults to act on", default=DEFAULT_SHOP_DIR)
        command.set_defaults(handler=handler)
