"""The dead-man watchdog: ``python -m peakdrill.chaos.deadman <ledger-file>``.

Started detached (own session) for every injected fault. It removes the fault when the process
that injected it dies, or at the record's deadline, whichever comes first, unless the record has
been deleted first (the fault was removed normally: the watchdog is disarmed and exits).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from peakdrill.chaos import ledger, lifecycle
from peakdrill.shop import procs

POLL_S = 0.25
RETRY_S = 1.0
MAX_ATTEMPTS = 60


def _say(message: str) -> None:
    print(f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} deadman pid {os.getpid()}: {message}", flush=True)


def watch(path: Path) -> int:
    while True:
        record = ledger.read(path)
        if record is None:
            return 0
        owner_gone = not procs.alive(record.owner_pid, record.owner_create_time)
        if owner_gone or time.time() >= record.deadline:
            break
        time.sleep(POLL_S)
    why = f"its injector (pid {record.owner_pid}) died" if owner_gone else "its deadline passed"
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            lifecycle.remove(record.shop_dir, record.fault_id, by="dead-man")
            _say(f"removed {record.fault_id} ({record.target}): {why}")
            return 0
        except Exception as exc:  # noqa: BLE001 - keep trying; recover can still act on the record
            _say(f"attempt {attempt} to remove {record.fault_id} failed: {exc}")
            time.sleep(RETRY_S)
    return 1


if __name__ == "__main__":
    sys.exit(watch(Path(sys.argv[1])))
