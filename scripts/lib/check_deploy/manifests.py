"""e. The policy copies, the rendered manifests (probes, ports, security, replicas,
PDB), the variable names documented in .env.example, and secret variables taken from
Secrets only."""

from __future__ import annotations

import re

from .common import (
    Deploy,
    POLICY,
    POLICY_COPIES,
    Render,
    SERVICES,
    containers,
    fail,
    kind,
    labels_match,
    name,
    pod_spec,
    port_of,
    ref,
    service_deployments,
)
from .compose import compose_env, dockerfile_env_names


def configmap_policy(render: Render) -> tuple[str, str]:
    """The text of the policy file the policy Deployment mounts, from its ConfigMap."""
    dep = service_deployments(render)["policy-service"]
    c = containers(dep)[0]
    env = {e["name"]: e.get("value") for e in c.get("env") or []}
    policy_file = env.get("POLICY_FILE")
    if not policy_file:
        fail(f"{render.label}: the policy container sets no POLICY_FILE")
    directory, _, filename = policy_file.rpartition("/")
    mount = next((m for m in c.get("volumeMounts") or [] if m.get("mountPath") == directory), None)
    if not mount or mount.get("subPath"):
        fail(f"{render.label}: POLICY_FILE {policy_file}: its directory is not a volume mount "
             f"(a subPath mount would not see ConfigMap updates)")
    volume = next((v for v in pod_spec(dep).get("volumes") or [] if v.get("name") == mount["name"]), {})
    cm_name = (volume.get("configMap") or {}).get("name")
    cm = next((x for x in render.docs if kind(x) == "ConfigMap" and name(x) == cm_name), None)
    if not cm or filename not in (cm.get("data") or {}):
        fail(f"{render.label}: POLICY_FILE {policy_file} is not a key of a ConfigMap in the manifests")
    return cm_name, cm["data"][filename]


def check_policy_copies(d: Deploy) -> str:
    original = d.path(POLICY).read_bytes()
    for copy in POLICY_COPIES:
        if not d.path(copy).is_file():
            fail(f"{copy}: missing (copy {POLICY} there)")
        if d.path(copy).read_bytes() != original:
            fail(f"{copy} differs from {POLICY}: cp {POLICY} {copy}")
    for r in d.renders():
        cm, text = configmap_policy(r)
        if r.policy_is_default and text.rstrip("\n") != original.decode().rstrip("\n"):
            fail(f"{r.label}: ConfigMap {cm} does not hold {POLICY} as it is")
    return f"{len(POLICY_COPIES)} copies identical, ConfigMaps hold the policy"


def check_manifests(d: Deploy) -> str:
    ports = d.bind_ports()
    for r in d.renders():
        deployments = service_deployments(r)
        for svc, dep in deployments.items():
            where = f"{r.label}: {ref(dep)}"
            port = ports[svc]
            ps = pod_spec(dep)
            pod_sc = ps.get("securityContext") or {}
            c = next(c for c in containers(dep)
                     if svc in [str(w) for w in (c.get("command") or []) + (c.get("args") or [])])
            sc = c.get("securityContext") or {}
            named = {p.get("name"): p.get("containerPort") for p in c.get("ports") or []}
            if port not in named.values():
                fail(f"{where}: no containerPort {port}")
            env = {e.get("name"): e.get("value") for e in c.get("env") or []}
            bind = SERVICES[svc]["bind"]
            if bind in env and port_of(env[bind]) != port:
                fail(f"{where}: {bind}={env[bind]} but the container port is {port}")
            for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
                get = (c.get(probe) or {}).get("httpGet") or {}
                if get.get("path") != path:
                    fail(f"{where}: {probe} must GET {path}, it GETs {get.get('path')!r}")
                p = get.get("port")
                if named.get(p, p) != port:
                    fail(f"{where}: {probe} port {p!r} is not the service's port {port}")
            if sc.get("readOnlyRootFilesystem") is not True:
                fail(f"{where}: readOnlyRootFilesystem is not true")
            if sc.get("allowPrivilegeEscalation") is not False:
                fail(f"{where}: allowPrivilegeEscalation is not false")
            if sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is not True:
                fail(f"{where}: runAsNonRoot is not true")
            if sc.get("runAsUser", pod_sc.get("runAsUser")) in (0, "0"):
                fail(f"{where}: runs as uid 0")
            if "ALL" not in ((sc.get("capabilities") or {}).get("drop") or []):
                fail(f"{where}: capabilities do not drop ALL")
            seccomp = (sc.get("seccompProfile") or pod_sc.get("seccompProfile") or {}).get("type")
            if seccomp != "RuntimeDefault":
                fail(f"{where}: seccompProfile is {seccomp!r}, expected RuntimeDefault")
            labels = ((dep["spec"].get("template") or {}).get("metadata") or {}).get("labels") or {}
            services = [s for s in r.docs if kind(s) == "Service"
                        and s["spec"].get("selector")
                        and all(labels.get(k) == v for k, v in s["spec"]["selector"].items())]
            if not services:
                fail(f"{where}: no Service selects its pods")
            for s in services:
                for sp in s["spec"].get("ports") or []:
                    t = sp.get("targetPort", sp.get("port"))
                    if named.get(t, t) != port:
                        fail(f"{r.label}: {ref(s)} targets port {t!r}, the container listens on {port}")
        ex = deployments["executor-service"]
        where = f"{r.label}: {ref(ex)}"
        if int(ex["spec"].get("replicas", 1)) < 2:
            fail(f"{where}: replicas {ex['spec'].get('replicas', 1)}, expected at least 2")
        labels = ex["spec"]["template"]["metadata"].get("labels") or {}
        pdbs = [p for p in r.docs if kind(p) == "PodDisruptionBudget"
                and labels_match(p["spec"].get("selector"), labels)]
        if not pdbs:
            fail(f"{where}: no PodDisruptionBudget selects the executor's pods")
        # The executor finds the policy service's JWKS through POLICY_URL.
        c = next(c for c in containers(ex) if "executor-service" in (c.get("command") or []))
        url = next((e.get("value") for e in c.get("env") or [] if e.get("name") == "POLICY_URL"), "")
        m = re.fullmatch(r"http://([a-z0-9-]+)(?:\.[a-z0-9.-]+)?:(\d+)", url or "")
        policy_services = {name(s): [p.get("port") for p in s["spec"].get("ports") or []]
                           for s in r.docs if kind(s) == "Service"}
        if not m or int(m.group(2)) not in policy_services.get(m.group(1), []):
            fail(f"{where}: POLICY_URL {url!r} is not a Service and port of the manifests")
    return f"probes, ports, securityContext, replicas and PDB in {len(d.renders())} renders"


# Variables holding a secret (a key, a password, a token, or a URL with a token in it,
# as Slack's webhook URLs are): the manifests take them from a Secret, never inline.
SECRET_VARS = ["JWT_SECRET", "EXECUTOR_CLIENT_SECRETS", "DATABASE_URL", "EXECUTOR_ADMIN_TOKEN",
               "POLICY_API_KEYS", "EXECUTOR_OPERATORS", "EXECUTOR_APPROVAL_WEBHOOK_URLS"]


def check_secret_env(d: Deploy) -> str:
    documented, _ = d.env_example()
    missing = [v for v in SECRET_VARS if v not in documented]
    if missing:
        fail(f"check-deploy is stale: {', '.join(missing)} no longer in .env.example")
    count = 0
    for r in d.renders():
        for dep in service_deployments(r).values():
            for c in containers(dep):
                for e in c.get("env") or []:
                    if e.get("name") not in SECRET_VARS:
                        continue
                    ref_ = (e.get("valueFrom") or {}).get("secretKeyRef") or {}
                    if "value" in e or not ref_.get("name") or not ref_.get("key"):
                        fail(f"{r.label}: {ref(dep)} sets {e.get('name')} without a "
                             f"secretKeyRef: a secret must come from a Secret, not the manifest")
                    count += 1
    return f"{count} secret settings from Secrets in {len(d.renders())} renders"


def check_env_names(d: Deploy) -> str:
    documented, _ = d.env_example()
    sources: dict[str, set] = {}
    compose = d.yaml("docker-compose.yml") or {}
    for svc in SERVICES:
        s = (compose.get("services") or {}).get(svc) or {}
        sources[f"docker-compose.yml ({svc})"] = set(compose_env(s, svc))
    sources["Dockerfile (ENV)"] = dockerfile_env_names(d)
    for r in d.renders():
        names = set()
        for dep in service_deployments(r).values():
            for c in containers(dep):
                if c.get("envFrom"):
                    fail(f"{r.label}: {ref(dep)} uses envFrom, whose names cannot be checked")
                names |= {e.get("name") for e in c.get("env") or []}
        sources[r.label] = names
    for where, names in sources.items():
        unknown = sorted(n for n in names if n not in documented)
        if unknown:
            fail(f"{where}: {', '.join(unknown)} not documented in .env.example (a typo, or "
                 f"a variable no service reads)")
    return f"{sum(len(n) for n in sources.values())} settings in {len(sources)} places documented"
