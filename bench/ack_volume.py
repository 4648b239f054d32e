"""What a million acknowledgements cost: recording, the master's file, and the verdict.

    .venv/bin/python bench/ack_volume.py --acks 1000000

Records N order acknowledgements (ids and idempotency-key refs shaped like the journeys') through
the same AckBook the load processes use, drained every 3 s-worth of acks as a worker report would
be, appended by the master's writer, then read back and judged against a system of record that
holds all but one of them and one twice (the oracle: exactly 1 lost and 1 duplicated). Prints the
time of each step, the file size and bytes per acknowledgement.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
import uuid
from pathlib import Path

from peakdrill.integrity.ack import AckBook
from peakdrill.rundir.acks import append_acks, iter_acks
from peakdrill.integrity.reconcilers.base import Stored
from peakdrill.integrity.verdict import collect, judge_kind


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--acks", type=int, default=1_000_000)
    parser.add_argument("--per-second", type=int, default=5_000, help="acknowledgements per second of the run")
    args = parser.parse_args()
    run_dir = Path(tempfile.mkdtemp(prefix="ack-volume-"))
    book = AckBook()
    book.enabled = True
    start_second = 1_800_000_000
    refs = [f"lt-order-{uuid.uuid4()}" for _ in range(args.acks)]

    began = time.perf_counter()
    for index, ref in enumerate(refs):
        book.ack("order", index + 1, ref=ref, at=start_second + index // args.per_second)
        if index % (3 * args.per_second) == 0:  # one worker report every 3 s
            append_acks(run_dir, "master-1", book.drain())
    append_acks(run_dir, "master-1", book.drain())
    recorded = time.perf_counter() - began

    size = sum(p.stat().st_size for p in (run_dir / "acks").glob("*.jsonl"))
    began = time.perf_counter()
    acks = collect(iter_acks(run_dir))["order"]
    read = time.perf_counter() - began

    rows = [(str(i + 1), ref) for i, ref in enumerate(refs) if i != 1234] + [("7", refs[6])]
    began = time.perf_counter()
    found = judge_kind("order", acks, Stored(tuple(rows)), [], 5)
    judged = time.perf_counter() - began
    assert (found["lost"], found["lost_ids"], found["duplicated"], found["duplicated_ids"]) == (1, ["1235"], 1, ["7"])
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{args.acks:,} acks: record+write {recorded:.1f} s, file {size / 1e6:.1f} MB ({size / args.acks:.0f} B/ack), "
          f"read {read:.1f} s, judge {judged:.1f} s, peak RSS {peak_mb:.0f} MB; verdict matches the oracle")


if __name__ == "__main__":
    main()
