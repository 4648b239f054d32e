"""Turn a calibration into a sizing for N concurrent users: ``peakdrill plan``.

The arithmetic, each step with the limit it respects:

- a user sends one request per think time, so N users send N / think requests per second;
- one worker is one Locust process on one core, planned at ``cpu_target`` (70%) so it stays clear
  of the 90% where Locust's own timings stop being trustworthy: it carries
  ``requests_per_cpu_second * cpu_target * think`` users, but never more than the 20,000 users per
  process the keep-alive fix is built for, nor more connections than one source address has
  ephemeral ports towards the target;
- a worker's memory is its base RSS plus memory per user times its users, with a margin;
- a worker's descriptors are one socket per user plus a reserve;
- one master coordinates at most ``workers_per_master`` workers (a Locust master saturates
  somewhere past a few hundred), so a bigger run is sharded across masters; every master writes
  its own per-second histograms into the same run directory, and those merge exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from peakdrill.errors import SizingError
from peakdrill.loadgen.keepalive import FD_RESERVE, USERS_PER_PROCESS_TARGET
from peakdrill.sizing.calibration import Calibration
from peakdrill.spec.limits import MAX_USERS

# Linux's default net.ipv4.ip_local_port_range is 32768-60999: the ports one source address can
# use towards one destination address and port.
EPHEMERAL_PORTS = 60999 - 32768 + 1
MIB = 1024 * 1024
MAX_MASTERS = 1_000


def require(checks: list[tuple[bool, str]]) -> None:
    """Raise the message of the first failed check: one bad value, one clear fix."""
    for ok, message in checks:
        if not ok:
            raise SizingError(message)


@dataclass(frozen=True, slots=True)
class PlanRequest:
    users: int
    think_time_s: float
    cpu_target_percent: float = 70.0
    max_users_per_worker: int = USERS_PER_PROCESS_TARGET
    workers_per_master: int = 200
    targets: int = 1  # distinct destination address:port pairs the load is spread over
    memory_margin: float = 1.3

    def __post_init__(self) -> None:
        require([
            (1 <= self.users <= MAX_USERS, f"--users {self.users!r} must be 1 to {MAX_USERS:,}; e.g. --users 1000000"),
            (self.think_time_s > 0, f"--think-time {self.think_time_s!r} must be above 0 seconds; use your profile's mean think time, e.g. 10"),
            (0 < self.cpu_target_percent <= 90, f"--cpu-target {self.cpu_target_percent!r} must be in (0, 90] percent: past 90 Locust's timings include its own queueing; e.g. 70"),
            (self.max_users_per_worker >= 1, f"--max-users-per-worker {self.max_users_per_worker!r} must be at least 1"),
            (self.workers_per_master >= 1, f"--workers-per-master {self.workers_per_master!r} must be at least 1; e.g. 200"),
            (self.targets >= 1, f"--targets {self.targets!r} must be at least 1 (destination address:port pairs)"),
            (self.memory_margin >= 1, f"memory margin {self.memory_margin!r} must be at least 1"),
        ])


@dataclass(frozen=True, slots=True)
class Shard:
    index: int
    workers: int
    users: int


@dataclass(frozen=True, slots=True)
class Sizing:
    request: PlanRequest
    calibration: Calibration
    users_per_worker: int
    limited_by: str
    workers: int
    total_rps: float
    rps_per_worker: float
    memory_per_worker_bytes: int
    fds_per_worker: int
    source_addresses: int
    shards: tuple[Shard, ...]

    @property
    def cores(self) -> int:
        return self.workers  # one Locust worker is one single-threaded process

    @property
    def masters(self) -> int:
        return len(self.shards)

    @property
    def memory_total_bytes(self) -> int:
        return self.workers * self.memory_per_worker_bytes


def _users_per_worker(request: PlanRequest, calibration: Calibration) -> tuple[int, str]:
    by_cpu = calibration.requests_per_cpu_second * request.cpu_target_percent / 100 * request.think_time_s
    limits = {
        f"CPU ({request.cpu_target_percent:g}% of a core)": int(by_cpu),
        "keep-alive users per process": request.max_users_per_worker,
        "ephemeral ports per source address": EPHEMERAL_PORTS * request.targets,
    }
    reason = min(limits, key=limits.get)
    if limits[reason] < 1:
        raise SizingError(f"a worker carries less than one user at --think-time {request.think_time_s:g}s and "
                          f"{calibration.requests_per_cpu_second:g} requests per CPU-second; check the calibration")
    return min(limits[reason], request.users), reason


def _shards(workers: int, users: int, per_master: int) -> tuple[Shard, ...]:
    count = math.ceil(workers / per_master)
    sizes = [workers // count + (i < workers % count) for i in range(count)]
    shards, before = [], 0
    for index, size in enumerate(sizes):
        # Users follow workers, so every shard runs the users per worker the sizing was made for.
        shards.append(Shard(index=index, workers=size,
                            users=users * (before + size) // workers - users * before // workers))
        before += size
    return tuple(shards)


def plan(request: PlanRequest, calibration: Calibration) -> Sizing:
    users_per_worker, limited_by = _users_per_worker(request, calibration)
    workers = math.ceil(request.users / users_per_worker)
    masters = math.ceil(workers / request.workers_per_master)
    if masters > MAX_MASTERS:
        raise SizingError(f"{request.users:,} users need {workers:,} workers in {masters:,} Locust masters, above the "
                          f"{MAX_MASTERS:,} masters a plan lists; raise --workers-per-master or --max-users-per-worker")
    memory = (calibration.base_rss_bytes + users_per_worker * calibration.memory_per_user_bytes) * request.memory_margin
    total_rps = request.users / request.think_time_s
    return Sizing(
        request=request, calibration=calibration, users_per_worker=users_per_worker, limited_by=limited_by,
        workers=workers, total_rps=total_rps, rps_per_worker=users_per_worker / request.think_time_s,
        memory_per_worker_bytes=math.ceil(memory / (64 * MIB)) * 64 * MIB,
        fds_per_worker=users_per_worker + FD_RESERVE,
        source_addresses=math.ceil(request.users / (EPHEMERAL_PORTS * request.targets)),
        shards=_shards(workers, request.users, request.workers_per_master),
    )


def table(sizing: Sizing) -> str:
    request, calibration = sizing.request, sizing.calibration
    rows = [
        ("concurrent users", f"{request.users:,}", f"think time {request.think_time_s:g}s"),
        ("requests/s (total)", f"{sizing.total_rps:,.0f}", "users / think time"),
        ("calibration", calibration.source, f"{calibration.requests_per_cpu_second:,.0f} req per CPU-s, "
                                            f"{calibration.memory_per_user_bytes / 1024:,.1f} KiB per user"),
        ("users per worker", f"{sizing.users_per_worker:,}", f"limited by {sizing.limited_by}"),
        ("requests/s per worker", f"{sizing.rps_per_worker:,.0f}", ""),
        ("workers", f"{sizing.workers:,}", "one Locust process each"),
        ("cores", f"{sizing.cores:,}", "1 per worker (request = limit)"),
        ("memory per worker", f"{sizing.memory_per_worker_bytes / MIB:,.0f} MiB",
         f"base RSS + users x memory/user, x{request.memory_margin:g}"),
        ("memory (total)", f"{sizing.memory_total_bytes / MIB / 1024:,.1f} GiB", ""),
        ("file descriptors per worker", f"{sizing.fds_per_worker:,}", f"1 socket per user + {FD_RESERVE:,}; nofile hard limit"),
        ("ephemeral ports per source address", f"{sizing.users_per_worker:,} of {EPHEMERAL_PORTS:,}",
         f"per worker pod towards each of {request.targets} target address:port"),
        ("source addresses (minimum)", f"{sizing.source_addresses:,}", "users / ephemeral ports per (source, target) pair"),
        ("Locust masters (shards)", f"{sizing.masters:,}", f"at most {request.workers_per_master} workers each"),
    ]
    rows += [(f"  shard {shard.index}", f"{shard.workers:,} workers", f"{shard.users:,} users") for shard in sizing.shards]
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    return "\n".join(f"{a:<{widths[0]}}  {b:>{widths[1]}}  {c}".rstrip() for a, b, c in rows)
