"""d. The executor's RBAC grants equal to what `executor-service permissions` prints."""

from __future__ import annotations

import json
from typing import Iterable

from .common import (
    Deploy,
    Render,
    fail,
    kind,
    name,
    namespace,
    pod_spec,
    ref,
    service_deployments,
)


def normalise(rules: Iterable[dict], where: str) -> set[tuple[str, str, str]]:
    """RBAC rules as (apiGroup, resource, verb) triples; wildcards and extras refused."""
    out = set()
    for rule in rules or []:
        for key in ("resourceNames", "nonResourceURLs"):
            if rule.get(key):
                fail(f"{where}: a rule with {key} ({rule[key]}): the executor uses none")
        groups, resources, verbs = (rule.get(k) or [] for k in ("apiGroups", "resources", "verbs"))
        if not (groups and resources and verbs):
            fail(f"{where}: incomplete rule {json.dumps(rule)}")
        for g in groups:
            for r in resources:
                for v in verbs:
                    if "*" in (g, v) or "*" in r:
                        fail(f"{where}: wildcard in rule {json.dumps(rule)}")
                    out.add((g, r, v))
    return out


def show(triples: Iterable[tuple[str, str, str]]) -> str:
    return ", ".join(f"{g or 'core'}/{r}:{v}" for g, r, v in sorted(triples))


def rbac_grants(render: Render) -> tuple[str, dict[str, set]]:
    """What the executor's ServiceAccount may do, per scope ('cluster' or a namespace)."""
    executor = service_deployments(render)["executor-service"]
    sa = pod_spec(executor).get("serviceAccountName")
    if not sa or sa == "default":
        fail(f"{render.label}: the executor Deployment names no ServiceAccount of its own")
    sa_ns = namespace(executor)
    if not any(kind(x) == "ServiceAccount" and name(x) == sa and namespace(x) == sa_ns
               for x in render.docs):
        fail(f"{render.label}: ServiceAccount {sa_ns}/{sa} is not in the manifests")

    roles = {}
    for x in render.docs:
        if kind(x) == "ClusterRole":
            if x.get("aggregationRule"):
                fail(f"{render.label}: {ref(x)} aggregates other roles")
            roles[("ClusterRole", None, name(x))] = x
        elif kind(x) == "Role":
            roles[("Role", namespace(x), name(x))] = x

    grants: dict[str, set] = {}
    used = set()
    for b in render.docs:
        if kind(b) not in ("RoleBinding", "ClusterRoleBinding"):
            continue
        where = f"{render.label}: {ref(b)}"
        subjects = b.get("subjects") or []
        for s in subjects:
            s_ns = s.get("namespace") or (namespace(b) if kind(b) == "RoleBinding" else None)
            if not (s.get("kind") == "ServiceAccount" and s.get("name") == sa and s_ns == sa_ns):
                fail(f"{where} binds {s.get('kind')} {s_ns + '/' if s_ns else ''}{s.get('name')}: "
                     f"only the executor's ServiceAccount {sa_ns}/{sa} may be bound")
        if not subjects:
            fail(f"{where} has no subjects")
        rr = b.get("roleRef") or {}
        if rr.get("kind") == "ClusterRole":
            key = ("ClusterRole", None, rr.get("name"))
        else:
            key = ("Role", namespace(b), rr.get("name"))
        if key not in roles:
            fail(f"{where} refers to {rr.get('kind')} {rr.get('name')}, which is not in the "
                 f"manifests (its rules cannot be checked)")
        used.add(key)
        scope = "cluster" if kind(b) == "ClusterRoleBinding" else f"namespace {namespace(b)}"
        grants.setdefault(scope, set()).update(
            normalise(roles[key].get("rules"), f"{render.label}: {key[0]} {key[2]}"))
    for key in roles:
        if key not in used:
            fail(f"{render.label}: {key[0]} {key[2]} is bound to nothing")
    if not grants:
        fail(f"{render.label}: no Role or ClusterRole is bound to the executor's "
             f"ServiceAccount {sa_ns}/{sa}")
    return f"{sa_ns}/{sa}", grants


def check_rbac(d: Deploy, expected_rules: list) -> str:
    expected = normalise(expected_rules, "executor-service permissions")
    scopes = 0
    for r in d.renders():
        sa, grants = rbac_grants(r)
        scopes += len(grants)
        for scope, got in sorted(grants.items()):
            extra, missing = got - expected, expected - got
            if extra or missing:
                fail(f"{r.label}: {sa} in {scope} does not match `executor-service permissions`:"
                     + (f"\n  granted but not used: {show(extra)}" if extra else "")
                     + (f"\n  used but not granted: {show(missing)}" if missing else ""))
    return f"{len(expected)} permissions, granted exactly in {scopes} scopes of {len(d.renders())} renders"
