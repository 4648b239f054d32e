"""The Kubernetes permissions a drill's experiments need: a Role with those rules and no others.

Chaos Toolkit activities name a Python function; what that function does to the cluster is only
in its source. :data:`KUBERNETES_API` writes that down once, as data: for each
chaostoolkit-kubernetes (``chaosk8s``) function the experiments may call, the API calls it makes,
as (API group, resource, verbs). Every entry was read off chaostoolkit-kubernetes 0.39's source
(the call it makes is in the comment). A function not in the table stops the plan with the file,
the activity and the fix: nobody gets a Role that is too wide (or one that fails mid-drill)
because a function was guessed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from peakdrill.errors import SizingError, quote

APPS, CORE = "apps", ""

KUBERNETES_API: dict[str, tuple[tuple[str, str, tuple[str, ...]], ...]] = {
    # AppsV1Api.list_namespaced_deployment(field_selector=metadata.name=...)
    "chaosk8s.deployment.probes.deployment_available_and_healthy": ((APPS, "deployments", ("list",)),),
    "chaosk8s.deployment.probes.deployment_partially_available": ((APPS, "deployments", ("list",)),),
    # watch.Watch().stream(list_namespaced_deployment, ...)
    "chaosk8s.deployment.probes.deployment_fully_available": ((APPS, "deployments", ("list", "watch")),),
    "chaosk8s.deployment.probes.deployment_not_fully_available": ((APPS, "deployments", ("list", "watch")),),
    # AppsV1Api.patch_namespaced_deployment(body={"spec": {"replicas": n}})
    "chaosk8s.deployment.actions.scale_deployment": ((APPS, "deployments", ("patch",)),),
    # AppsV1Api.patch_namespaced_deployment (restartedAt annotation)
    "chaosk8s.deployment.actions.rollout_deployment": ((APPS, "deployments", ("patch",)),),
    # CoreV1Api.list_namespaced_pod, then delete_namespaced_pod per selected pod
    "chaosk8s.pod.actions.terminate_pods": ((CORE, "pods", ("list", "delete")),),
    # CoreV1Api.list_namespaced_pod
    "chaosk8s.pod.probes.count_pods": ((CORE, "pods", ("list",)),),
    "chaosk8s.pod.probes.count_min_pods": ((CORE, "pods", ("list",)),),
    "chaosk8s.pod.probes.pods_in_phase": ((CORE, "pods", ("list",)),),
    "chaosk8s.pod.probes.pods_not_in_phase": ((CORE, "pods", ("list",)),),
    "chaosk8s.pod.probes.all_pods_healthy": ((CORE, "pods", ("list",)),),
    # CoreV1Api.list_namespaced_pod, then read_namespaced_pod_log
    "chaosk8s.pod.probes.read_pod_logs": ((CORE, "pods", ("list",)), (CORE, "pods/log", ("get",))),
}

# Modules whose activities never call the Kubernetes API: peakdrill's own providers and controls
# (HTTP to the allowed target) and chaostoolkit-toxiproxy (HTTP to the Toxiproxy API).
NO_KUBERNETES_API = ("peakdrill.", "chaostoxi.")


@dataclass(frozen=True, slots=True, order=True)
class Rule:
    api_group: str
    resource: str
    verbs: tuple[str, ...]

    def as_policy_rule(self) -> dict:
        return {"apiGroups": [self.api_group], "resources": [self.resource], "verbs": list(self.verbs)}


def _providers(experiment: dict) -> Iterator[tuple[str, dict]]:
    """(where, provider) of every activity and control, where a dotted path into the experiment."""
    for section, activities in (("steady-state-hypothesis.probes", (experiment.get("steady-state-hypothesis") or {}).get("probes")),
                                ("method", experiment.get("method")), ("rollbacks", experiment.get("rollbacks"))):
        for index, activity in enumerate(activities or ()):
            if "provider" in activity:  # a "ref" entry repeats an activity already walked
                yield f"{section}.{index} ({activity.get('name', '?')})", activity["provider"]
    for index, control in enumerate(experiment.get("controls") or ()):
        yield f"controls.{index} ({control.get('name', '?')})", control.get("provider") or {}


def rules_for(experiments: dict[Path, dict]) -> tuple[Rule, ...]:
    """The rules the experiments' activities need, one per (group, resource), verbs merged and sorted."""
    verbs: dict[tuple[str, str], set[str]] = {}
    for path, experiment in experiments.items():
        for where, provider in _providers(experiment):
            if provider.get("type") != "python":
                continue  # http and process providers act outside the Kubernetes API
            module = str(provider.get("module", ""))
            if module.startswith(NO_KUBERNETES_API):
                continue
            function = f"{module}.{provider.get('func', '')}" if provider.get("func") else module
            if function not in KUBERNETES_API:
                raise SizingError(
                    f"{path}: {where}: peakdrill does not know which Kubernetes API permissions {quote(function)} needs, "
                    "so it cannot write a Role for it (fix: read the function's source and add its API group, resource "
                    "and verbs to KUBERNETES_API in peakdrill/sizing/rbac.py, or use a function listed there)")
            for group, resource, needed in KUBERNETES_API[function]:
                verbs.setdefault((group, resource), set()).update(needed)
    return tuple(sorted(Rule(group, resource, tuple(sorted(names))) for (group, resource), names in verbs.items()))
