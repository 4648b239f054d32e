"""Turn replayed traffic into an open-model profile: one stage per time bucket, arrival rates in
requests per second multiplied by the growth factor, and the endpoint mix the traffic had."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import yaml

from peakdrill.errors import SpecError
from peakdrill.replay.accesslog import Hit
from peakdrill.outputs import write_file
from peakdrill.spec.profile import MAX_STAGES, Profile, ThinkTime, profile_from_dict

# Users each stage holds per request/s of arrivals: each user serves at most one request per think
# time plus answer, so the pool covers the rate with the longest think time and a 1 s answer.
ANSWER_ALLOWANCE_S = 1.0


def per_bucket(hits: Iterable[Hit], bucket_s: float, source: str = "the access log") -> tuple[list[float], Counter, float]:
    """Counts per bucket (empty buckets included, aligned to multiples of the bucket), the endpoint
    counts, and when the first bucket starts."""
    by_bucket: Counter = Counter()
    endpoints: Counter = Counter()
    for hit in hits:
        by_bucket[math.floor(hit.ts / bucket_s)] += 1
        endpoints[hit.endpoint] += 1
    if not by_bucket:
        return [], endpoints, 0.0
    first, last = min(by_bucket), max(by_bucket)
    if last - first + 1 > MAX_STAGES:  # one stray line of another year must not make a million stages
        raise SpecError(source, "", f"the requests span {last - first + 1:,} buckets of {bucket_s:g}s, above the "
                        f"{MAX_STAGES:,} stages a profile may have", "use a wider --bucket or cut the log to the peak")
    return [float(by_bucket[b]) for b in range(first, last + 1)], endpoints, first * bucket_s


def build_profile(name: str, counts: list[float], *, bucket_s: float, growth: float, source: str, unit: str,
                  requests_per_unit: float = 1.0, endpoints: Counter | None = None,
                  think_time: ThinkTime = ThinkTime(), description: str = "") -> Profile:
    """``counts`` are per bucket, in ``unit``; ``requests_per_unit`` turns orders into requests."""
    if not counts or not any(counts):
        raise SpecError(source, "", "no requests to replay", "check the file and the excluded paths")
    total = sum((endpoints or {}).values())
    mix = {name_: round(count / total, 6) for name_, count in sorted((endpoints or {}).items(), key=lambda kv: -kv[1])}
    stages = []
    for index, count in enumerate(counts):
        rate = count * requests_per_unit * growth / bucket_s
        users = max(1, math.ceil(rate * (think_time.max + ANSWER_ALLOWANCE_S)))
        stages.append({"name": f"bucket-{index + 1:04d}", "duration": f"{bucket_s:g}s", "users": users,
                       "arrival_rate": round(rate, 4)})
    data = {
        "name": name,
        "description": description,
        "model": "open",
        "think_time": {"min": think_time.min, "max": think_time.max},
        "replay": {"source": source, "unit": unit, "growth": growth, "bucket": bucket_s, "counted": int(sum(counts)),
                   "endpoint_mix": mix},
        "stages": stages,
    }
    return profile_from_dict(data, source)


def write_profile(profile: Profile, path: Path) -> None:
    data = profile.model_dump(exclude_defaults=True, exclude={"stages"})
    data["model"] = profile.model
    data["stages"] = [stage.model_dump(exclude_none=True, exclude_defaults=True) | {"name": stage.name, "duration": f"{stage.duration:g}s"}
                      for stage in profile.stages]
    write_file(path, yaml.safe_dump(data, sort_keys=False, width=120))
