"""Offline checks of Warden's deploy files; run by scripts/check-deploy with .tools/venv.

    check_deploy.py --root DIR --tools DIR --permissions FILE [--self-test]

Every check reads the files under --root (the repository, or a broken copy in the
self-test): Dockerfile, docker-compose.yml, .env.example, policies/default.yaml and
deploy/. A check that finds a problem raises CheckFailed with a message that names the
file or the rendered object. --self-test breaks a copy of those files one way at a time
and asserts that the check meant to catch each breakage refuses it.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import yaml

# Both ends of the range the chart declares (Chart.yaml kubeVersion >=1.25) that
# kubernetes-validate bundles schemas for: an API removed since 1.25 fails the newest.
KUBE_VERSIONS = os.environ.get("WARDEN_KUBE_VERSIONS", "1.25.0 1.37.0").split()

# The namespace Helm renders into; kustomize sets its own (warden).
RELEASE_NAMESPACE = "warden"

# The two services: their binary (the container command), listen variable and port.
SERVICES = {
    "policy-service": {"bind": "POLICY_BIND", "port": 3000},
    "executor-service": {"bind": "EXECUTOR_BIND", "port": 4000},
}

# Files of the repository the checks read; the self-test copies these.
DEPLOY_FILES = ["Dockerfile", ".dockerignore", "docker-compose.yml", ".env.example",
                "policies/default.yaml", "deploy"]

CHART = "deploy/helm/warden"
KUSTOMIZATIONS = ["deploy/kustomize", "deploy/kustomize-namespaced"]
POLICY = "policies/default.yaml"
POLICY_COPIES = [f"{CHART}/files/default.yaml", "deploy/kustomize/policies/default.yaml"]


class CheckFailed(Exception):
    """A deploy file is wrong; the message says which and why."""


def fail(message: str) -> None:
    raise CheckFailed(message)


# ---------------------------------------------------------------------------------------
# Reading the files and rendering the manifests
# ---------------------------------------------------------------------------------------

@dataclass
class Render:
    """One rendering of the Kubernetes manifests, e.g. the chart with one values file."""

    label: str
    text: str
    policy_is_default: bool  # the ConfigMap should hold policies/default.yaml as it is
    docs: list = field(default_factory=list)


class Deploy:
    """The deploy files under one root, with their renders (made once, on first use)."""

    def __init__(self, root: Path, tools: Path):
        self.root = root
        self.helm = tools / "bin" / "helm"
        self.kubectl = tools / "bin" / "kubectl"
        self.validator = tools / "venv" / "bin" / "kubernetes-validate"
        self._renders: list[Render] | None = None

    def path(self, rel: str) -> Path:
        return self.root / rel

    def read(self, rel: str) -> str:
        p = self.path(rel)
        if not p.is_file():
            fail(f"{rel}: missing")
        return p.read_text()

    def yaml(self, rel: str):
        try:
            return yaml.safe_load(self.read(rel))
        except yaml.YAMLError as e:
            fail(f"{rel}: not valid YAML: {e}")

    def run(self, args: list, what: str, stdin: str | None = None) -> str:
        proc = subprocess.run([str(a) for a in args], input=stdin, capture_output=True,
                              text=True, cwd=self.root)
        if proc.returncode != 0:
            fail(f"{what} failed (exit {proc.returncode}):\n{(proc.stdout + proc.stderr).strip()}")
        return proc.stdout

    def helm_values_files(self) -> list[Path]:
        return sorted(self.path(f"{CHART}/ci").glob("*.yaml"))

    def renders(self) -> list[Render]:
        if self._renders is None:
            renders = []
            values = [None] + self.helm_values_files()
            for v in values:
                args = [self.helm, "template", "warden", self.path(CHART),
                        "--namespace", RELEASE_NAMESPACE]
                label = "helm (default values)"
                if v is not None:
                    args += ["-f", v]
                    label = f"helm -f ci/{v.name}"
                custom_policy = v is not None and bool(
                    ((yaml.safe_load(v.read_text()) or {}).get("policy") or {}).get("rules"))
                renders.append(Render(label, self.run(args, f"helm template ({label})"),
                                      policy_is_default=not custom_policy))
            for k in KUSTOMIZATIONS:
                label = f"kubectl kustomize {k}"
                renders.append(Render(label, self.run([self.kubectl, "kustomize", self.path(k)], label),
                                      policy_is_default=True))
            for r in renders:
                try:
                    r.docs = [d for d in yaml.safe_load_all(r.text) if d]
                except yaml.YAMLError as e:
                    fail(f"{r.label}: output is not valid YAML: {e}")
            self._renders = renders
        return self._renders

    # .env.example --------------------------------------------------------------------

    def env_example(self) -> tuple[set[str], dict[str, str]]:
        """The documented names (lines `NAME=` and `# NAME=`) and the uncommented defaults."""
        names, defaults = set(), {}
        for line in self.read(".env.example").splitlines():
            m = re.match(r"^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$", line)
            if m:
                names.add(m.group(2))
                if not m.group(1):
                    defaults[m.group(2)] = m.group(3).strip()
        if not names:
            fail(".env.example: no variables found")
        return names, defaults

    def bind_ports(self) -> dict[str, int]:
        """The port of each service: 3000 and 4000, as the defaults in .env.example say."""
        _, defaults = self.env_example()
        ports = {}
        for service, spec in SERVICES.items():
            value = defaults.get(spec["bind"])
            if value is None:
                fail(f".env.example: no default for {spec['bind']}")
            port = port_of(value)
            if port != spec["port"]:
                fail(f".env.example: {spec['bind']}={value} but {service} listens on "
                     f"{spec['port']} in every deploy file")
            ports[service] = port
        return ports


def port_of(address: str) -> int | None:
    m = re.search(r":(\d+)$", str(address).strip())
    return int(m.group(1)) if m else None


# ---------------------------------------------------------------------------------------
# Kubernetes objects
# ---------------------------------------------------------------------------------------

def kind(doc: dict) -> str:
    return doc.get("kind", "")


def name(doc: dict) -> str:
    return (doc.get("metadata") or {}).get("name", "")


def namespace(doc: dict) -> str:
    return (doc.get("metadata") or {}).get("namespace") or RELEASE_NAMESPACE


def ref(doc: dict) -> str:
    return f"{kind(doc)} {name(doc)}"


def pod_spec(deployment: dict) -> dict:
    return ((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}


def containers(deployment: dict) -> list[dict]:
    return pod_spec(deployment).get("containers") or []


def service_deployments(render: Render) -> dict[str, dict]:
    """The Deployment running each service, found by the command of its container."""
    found: dict[str, list] = {s: [] for s in SERVICES}
    for doc in render.docs:
        if kind(doc) != "Deployment":
            continue
        for c in containers(doc):
            words = [str(w) for w in (c.get("command") or []) + (c.get("args") or [])]
            for service in SERVICES:
                if any(w == service or w.endswith("/" + service) for w in words):
                    found[service].append(doc)
    result = {}
    for service, docs in found.items():
        if len(docs) != 1:
            fail(f"{render.label}: {len(docs)} Deployments run {service} (expected one whose "
                 f"container command is {service})")
        result[service] = docs[0]
    return result


def labels_match(selector: dict, labels: dict) -> bool:
    match = (selector or {}).get("matchLabels") or {}
    if (selector or {}).get("matchExpressions"):
        return False  # not used by Warden's manifests; refuse rather than guess
    return bool(match) and all(labels.get(k) == v for k, v in match.items())


# ---------------------------------------------------------------------------------------
# a. helm lint
# ---------------------------------------------------------------------------------------

def check_helm_lint(d: Deploy) -> str:
    chart = d.path(CHART)
    d.run([d.helm, "lint", "--strict", chart], "helm lint --strict (default values)")
    for v in d.helm_values_files():
        d.run([d.helm, "lint", "--strict", chart, "-f", v], f"helm lint --strict -f ci/{v.name}")
    return f"{1 + len(d.helm_values_files())} values sets"


# ---------------------------------------------------------------------------------------
# b, c. kubernetes-validate --strict
# ---------------------------------------------------------------------------------------

def validate(d: Deploy, renders: list[Render]) -> str:
    jobs = [(r, v) for r in renders for v in KUBE_VERSIONS]

    def one(job):
        r, version = job
        proc = subprocess.run([str(d.validator), "--strict", "--quiet", "-k", version, "-"],
                              input=r.text, capture_output=True, text=True)
        out = (proc.stdout + proc.stderr).strip()
        # --quiet prints only warnings and failures. A warning is a kind or apiVersion
        # without a schema (a typo, or an API removed in that version): a failure here.
        return r, version, proc.returncode, out

    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        results = list(pool.map(one, jobs))
    for r, version, rc, out in results:
        if rc != 0 or out:
            fail(f"{r.label} | kubernetes-validate --strict -k {version}:\n{out}")
    return f"{len(renders)} renders x Kubernetes {', '.join(KUBE_VERSIONS)}"


def check_validate_helm(d: Deploy) -> str:
    return validate(d, [r for r in d.renders() if r.label.startswith("helm")])


def check_validate_kustomize(d: Deploy) -> str:
    return validate(d, [r for r in d.renders() if r.label.startswith("kubectl")])


# ---------------------------------------------------------------------------------------
# d. RBAC equality
# ---------------------------------------------------------------------------------------

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


# ---------------------------------------------------------------------------------------
# e. docker-compose.yml, Dockerfile, policy copies, manifests, variable names
# ---------------------------------------------------------------------------------------

def compose_env(service: dict, where: str) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        out = {}
        for item in env:
            k, _, v = str(item).partition("=")
            out[k] = v
        return out
    if not isinstance(env, dict):
        fail(f"{where}: environment is neither a mapping nor a list")
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def compose_container_ports(service: dict, where: str) -> list[int]:
    ports = []
    for p in service.get("ports") or []:
        if isinstance(p, dict):
            target = p.get("target")
        else:
            target = str(p).split("/")[0].rsplit(":", 1)[-1]
        try:
            ports.append(int(target))
        except (TypeError, ValueError):
            fail(f"{where}: cannot read the port mapping {p!r}")
    return ports


def check_compose(d: Deploy) -> str:
    rel = "docker-compose.yml"
    compose = d.yaml(rel) or {}
    services = compose.get("services") or {}
    ports = d.bind_ports()
    for required in ["postgres", *SERVICES]:
        if required not in services:
            fail(f"{rel}: no service {required}")

    pg = services["postgres"]
    if "pg_isready" not in json.dumps((pg.get("healthcheck") or {}).get("test", "")):
        fail(f"{rel}: postgres has no pg_isready healthcheck")

    for svc, spec in SERVICES.items():
        s = services[svc]
        where = f"{rel}: {svc}"
        port = ports[svc]
        command = s.get("command")
        words = command.split() if isinstance(command, str) else [str(w) for w in command or []]
        if svc not in words:
            fail(f"{where}: command {command!r} does not run {svc}")
        mapped = compose_container_ports(s, where)
        if mapped != [port]:
            fail(f"{where}: ports publish container port(s) {mapped}, expected [{port}] "
                 f"({spec['bind']} in .env.example)")
        env = compose_env(s, where)
        if spec["bind"] in env and port_of(env[spec["bind"]]) != port:
            fail(f"{where}: {spec['bind']}={env[spec['bind']]} does not listen on {port}")
        hc = s.get("healthcheck")
        if not hc or hc.get("disable"):
            fail(f"{where}: no healthcheck")
        test = hc.get("test")
        test = " ".join(str(t) for t in test) if isinstance(test, list) else str(test or "")
        m = re.search(r"https?://(?:127\.0\.0\.1|localhost|\[::1\]):(\d+)/readyz\b", test)
        if not m:
            fail(f"{where}: the healthcheck does not GET /readyz on the container ({test!r})")
        if int(m.group(1)) != port:
            fail(f"{where}: the healthcheck hits port {m.group(1)}, the service listens on {port}")
        env_file = s.get("env_file")
        if env_file is not None:
            files = env_file if isinstance(env_file, list) else [env_file]
            for f in files:
                if isinstance(f, str) or f.get("required", True):
                    fail(f"{where}: env_file {f!r} is required; use "
                         f"{{path: .env, required: false}} so that compose runs without .env")

    ex = services["executor-service"]
    where = f"{rel}: executor-service"
    deps = ex.get("depends_on")
    if not isinstance(deps, dict):
        fail(f"{where}: depends_on must be a mapping with conditions")
    for dep in ("postgres", "policy-service"):
        cond = (deps.get(dep) or {}).get("condition")
        if cond != "service_healthy":
            fail(f"{where}: depends_on {dep} with condition {cond!r}, expected service_healthy")
    env = compose_env(ex, where)
    if not re.match(r"^postgres(ql)?://[^@/]*@postgres:5432/", env.get("DATABASE_URL", "")):
        fail(f"{where}: DATABASE_URL does not point at the postgres service")
    if env.get("POLICY_URL") != f"http://policy-service:{ports['policy-service']}":
        fail(f"{where}: POLICY_URL={env.get('POLICY_URL')!r}, expected "
             f"http://policy-service:{ports['policy-service']}")
    if not re.fullmatch(r"\$\{JWT_SECRET:\?[^}]+\}", env.get("JWT_SECRET", "")):
        fail(f"{where}: JWT_SECRET must be required from .env: ${{JWT_SECRET:?message}}")
    return "services, ports, healthchecks, depends_on"


@dataclass
class Stage:
    base: str
    instructions: list  # (keyword, arguments)


def dockerfile_stages(text: str) -> list[Stage]:
    lines, buf = [], ""
    for raw in text.splitlines():
        if not buf and raw.lstrip().startswith("#"):
            continue
        if raw.rstrip().endswith("\\"):
            buf += raw.rstrip()[:-1] + " "
            continue
        buf += raw
        if buf.strip():
            lines.append(buf.strip())
        buf = ""
    if buf.strip():
        lines.append(buf.strip())
    stages: list[Stage] = []
    for line in lines:
        keyword, _, args = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            stages.append(Stage(args.strip(), []))
        elif stages:
            stages[-1].instructions.append((keyword, args.strip()))
    return stages


def check_dockerfile(d: Deploy) -> str:
    rel = "Dockerfile"
    stages = dockerfile_stages(d.read(rel))
    if len(stages) < 2:
        fail(f"{rel}: expected a multi-stage build (builder and runtime)")
    builds = [a for s in stages[:-1] for k, a in s.instructions if k == "RUN" and "cargo build" in a]
    if not builds:
        fail(f"{rel}: no `cargo build` in a builder stage")
    for flag in ("--release", "--locked", "-p policy-service", "-p executor-service"):
        if not any(re.search(re.escape(flag) + r"(\s|$)", b) for b in builds):
            fail(f"{rel}: cargo build lacks {flag}")
    final = stages[-1]
    users = [a for k, a in final.instructions if k == "USER"]
    if not users:
        fail(f"{rel}: the runtime stage sets no USER (it would run as root)")
    user = users[-1].split(":")[0]
    if not user.isdigit() or int(user) == 0:
        fail(f"{rel}: USER {users[-1]} must be a numeric non-root uid (runAsNonRoot needs one)")
    exposed = {int(p.split("/")[0]) for k, a in final.instructions if k == "EXPOSE"
               for p in a.split()}
    for svc, port in d.bind_ports().items():
        if port not in exposed:
            fail(f"{rel}: does not EXPOSE {port} ({svc})")
    for k, a in final.instructions:
        if k == "ENTRYPOINT" and any(s in a for s in SERVICES):
            fail(f"{rel}: ENTRYPOINT {a} fixes the service; leave the choice to CMD")
    copies = " ".join(a for k, a in final.instructions if k == "COPY" and "--from=" in a)
    if not copies:
        fail(f"{rel}: the runtime stage copies nothing from the builder")
    return f"non-root USER {users[-1]}, EXPOSE {sorted(exposed)}, builds both services"


def dockerfile_env_names(d: Deploy) -> set[str]:
    names = set()
    for k, a in dockerfile_stages(d.read("Dockerfile"))[-1].instructions:
        if k == "ENV":
            names |= set(re.findall(r"(?:^|\s)([A-Za-z_][A-Za-z0-9_]*)=", a))
            if "=" not in a:
                names.add(a.split()[0])
    return names


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


# ---------------------------------------------------------------------------------------
# Running the checks
# ---------------------------------------------------------------------------------------

def all_checks(expected_rules: list) -> list[tuple[str, str, Callable[[Deploy], str]]]:
    """(key, title, check), in the order they run."""
    return [
        ("helm-lint", "helm lint --strict", check_helm_lint),
        ("validate-helm", "helm template | kubernetes-validate --strict", check_validate_helm),
        ("validate-kustomize", "kubectl kustomize | kubernetes-validate --strict",
         check_validate_kustomize),
        ("rbac", "executor RBAC = executor-service permissions",
         lambda d: check_rbac(d, expected_rules)),
        ("compose", "docker-compose.yml", check_compose),
        ("dockerfile", "Dockerfile", check_dockerfile),
        ("policy-copies", "policy copies", check_policy_copies),
        ("manifests", "probes, ports, security, replicas, PDB", check_manifests),
        ("env-names", "variable names documented in .env.example", check_env_names),
    ]


def run_checks(d: Deploy, expected_rules: list) -> None:
    checks = all_checks(expected_rules)
    for _, title, check in checks:
        start = time.monotonic()
        try:
            detail = check(d)
        except CheckFailed as e:
            print(f"check-deploy: FAILED: {title}\n  {e}", file=sys.stderr)
            sys.exit(1)
        print(f"  ✓ {title}: {detail} ({time.monotonic() - start:.1f}s)", flush=True)
    print(f"check-deploy: {len(checks)} passed, 0 failed")


# ---------------------------------------------------------------------------------------
# f. Self-test: each check refuses its target when broken
# ---------------------------------------------------------------------------------------

def edit(rel: str, old: str, new: str, count: int = 1) -> Callable[[Path], None]:
    """A breakage: replace `old` by `new` in one file of the copy (old must be there)."""
    def apply(root: Path) -> None:
        p = root / rel
        text = p.read_text()
        if old not in text:
            raise RuntimeError(f"self-test is stale: {rel} no longer contains {old!r}")
        p.write_text(text.replace(old, new, count))
    return apply


def regex_edit(rel: str, pattern: str, new: str, count: int = 1) -> Callable[[Path], None]:
    """A breakage by regular expression (multi-line mode): `count` matches replaced."""
    def apply(root: Path) -> None:
        p = root / rel
        text, n = re.subn(pattern, new, p.read_text(), count=count, flags=re.M)
        if n != count:
            raise RuntimeError(f"self-test is stale: {rel} does not match {pattern!r}")
        p.write_text(text)
    return apply


def append(rel: str, text: str) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        with open(root / rel, "a") as f:
            f.write(text)
    return apply


HELM_RULES = f"{CHART}/templates/_helpers.tpl"
HELM_EXECUTOR = f"{CHART}/templates/executor-deployment.yaml"
KUST = "deploy/kustomize"


@dataclass
class Case:
    check: str  # the key of the check that must refuse it
    what: str
    breakage: Callable[[Path], None]
    expect: str  # a regular expression the refusal must match: refused for this reason


def self_test_cases() -> list[Case]:
    return [
        # d. RBAC
        Case("rbac", "extra verb list (Helm Role)",
             edit(HELM_RULES, "resources: [pods]\n  verbs: [delete]", "resources: [pods]\n  verbs: [delete, list]"),
             r"granted but not used: core/pods:list"),
        Case("rbac", "missing pods/eviction create (Helm)",
             edit(HELM_RULES, '- apiGroups: [""]\n  resources: [pods/eviction]\n  verbs: [create]\n', ""),
             r"used but not granted: core/pods/eviction:create"),
        Case("rbac", "extra resource statefulsets (kustomize)",
             edit(f"{KUST}/rbac.yaml", "resources: [deployments]", "resources: [deployments, statefulsets]"),
             r"granted but not used: apps/statefulsets:patch"),
        Case("rbac", "wildcard resource (kustomize ClusterRole)",
             edit(f"{KUST}/rbac.yaml", "resources: [deployments]", 'resources: ["*"]'),
             r"wildcard"),
        Case("rbac", "binding also grants system:authenticated",
             append(f"{KUST}/rbac.yaml", "  - kind: Group\n    name: system:authenticated\n"
                    "    apiGroup: rbac.authorization.k8s.io\n"),
             r"binds Group system:authenticated"),
        Case("rbac", "executor bound to cluster-admin",
             edit(f"{KUST}/rbac.yaml", "  kind: ClusterRole\n  name: warden-executor\nsubjects",
                  "  kind: ClusterRole\n  name: cluster-admin\nsubjects"),
             r"ClusterRole cluster-admin, which is not in the manifests"),
        Case("rbac", "Role left without its RoleBinding (Helm)",
             edit(f"{CHART}/templates/rbac.yaml", "kind: RoleBinding", "kind: RoleBindingX"),
             r"bound to nothing"),
        # b, c. kubernetes-validate --strict
        Case("validate-helm", "unknown field in the executor Deployment (Helm)",
             edit(HELM_EXECUTOR, "  replicas: {{", "  replica: 1\n  replicas: {{"),
             r"'replica' was unexpected"),
        Case("validate-helm", "PodDisruptionBudget on the removed policy/v1beta1 (Helm)",
             edit(f"{CHART}/templates/poddisruptionbudgets.yaml", "apiVersion: policy/v1", "apiVersion: policy/v1beta1"),
             r"Couldn't find schema"),
        Case("validate-kustomize", "unknown container field (kustomize)",
             edit(f"{KUST}/executor-service.yaml", "          readinessProbe:", "          readinessprobe:"),
             r"'readinessprobe' was unexpected"),
        Case("validate-kustomize", "string where an integer belongs (kustomize)",
             edit(f"{KUST}/executor-service.yaml", "containerPort: 4000", 'containerPort: "4000"'),
             r"is not of type 'integer'"),
        # a. helm lint
        Case("helm-lint", "Chart.yaml without a version",
             regex_edit(f"{CHART}/Chart.yaml", r"^version: .*\n", ""),
             r"version is required"),
        Case("helm-lint", "rbac.scope outside the values schema",
             edit(f"{CHART}/values.yaml", "scope: namespaces", "scope: everywhere"),
             r"rbac/scope"),
        Case("helm-lint", "template syntax error",
             edit(f"{CHART}/templates/services.yaml", "{{- include", "{{- inclde"),
             r"parse error|function \"inclde\" not defined"),
        # e. docker-compose.yml
        Case("compose", "container port 3000 published as 3001",
             edit("docker-compose.yml", "127.0.0.1:3000:3000", "127.0.0.1:3000:3001"),
             r"expected \[3000\]"),
        Case("compose", "executor healthcheck removed",
             regex_edit("docker-compose.yml", r"(?s)(executor-service:.*?)    healthcheck:\n(      .*\n)+", r"\1"),
             r"executor-service: no healthcheck"),
        Case("compose", "healthcheck on /healthz instead of /readyz",
             edit("docker-compose.yml", "4000/readyz", "4000/healthz"),
             r"does not GET /readyz"),
        Case("compose", "policy healthcheck on port 4000",
             edit("docker-compose.yml", "127.0.0.1:3000/readyz", "127.0.0.1:4000/readyz"),
             r"hits port 4000"),
        Case("compose", "executor depends_on postgres service_started",
             edit("docker-compose.yml", "      postgres:\n        condition: service_healthy",
                  "      postgres:\n        condition: service_started"),
             r"depends_on postgres with condition 'service_started'"),
        Case("compose", "env_file .env required",
             edit("docker-compose.yml", "required: false", "required: true"),
             r"env_file"),
        Case("compose", "JWT_SECRET with a default instead of required",
             edit("docker-compose.yml", "${JWT_SECRET:?", "${JWT_SECRET:-"),
             r"JWT_SECRET must be required"),
        Case("compose", "postgres service renamed db",
             edit("docker-compose.yml", "\n  postgres:\n", "\n  db:\n"),
             r"no service postgres"),
        Case("compose", ".env.example moves POLICY_BIND to 3100",
             edit(".env.example", "POLICY_BIND=0.0.0.0:3000", "POLICY_BIND=0.0.0.0:3100"),
             r"POLICY_BIND=0\.0\.0\.0:3100"),
        # e. variable names
        Case("env-names", "compose POLICY_URL renamed POLICY_ENDPOINT",
             edit("docker-compose.yml", "      POLICY_URL:", "      POLICY_ENDPOINT:"),
             r"POLICY_ENDPOINT not documented"),
        Case("env-names", "Helm env EXECUTOR_DRYRUN (typo)",
             edit(HELM_EXECUTOR, "- name: EXECUTOR_DRY_RUN", "- name: EXECUTOR_DRYRUN"),
             r"EXECUTOR_DRYRUN not documented"),
        Case("env-names", "kustomize env DATABASE_URI",
             edit(f"{KUST}/executor-service.yaml", "- name: DATABASE_URL", "- name: DATABASE_URI"),
             r"DATABASE_URI not documented"),
        Case("env-names", "Dockerfile ENV POLICY_PATH",
             edit("Dockerfile", "ENV POLICY_FILE=", "ENV POLICY_PATH="),
             r"POLICY_PATH not documented"),
        # e. Dockerfile
        Case("dockerfile", "USER removed",
             regex_edit("Dockerfile", r"^USER .*\n", ""),
             r"sets no USER"),
        Case("dockerfile", "USER 0",
             regex_edit("Dockerfile", r"^USER .*$", "USER 0"),
             r"USER 0 must be"),
        Case("dockerfile", "EXPOSE 4000 removed",
             regex_edit("Dockerfile", r"^EXPOSE 3000 4000$", "EXPOSE 3000"),
             r"does not EXPOSE 4000"),
        Case("dockerfile", "only policy-service built",
             edit("Dockerfile", " -p executor-service", ""),
             r"lacks -p executor-service"),
        # e. policy copies
        Case("policy-copies", "chart copy edited",
             append(f"{CHART}/files/default.yaml", "# local edit\n"),
             r"files/default\.yaml differs"),
        Case("policy-copies", "kustomize copy edited",
             append(f"{KUST}/policies/default.yaml", "# local edit\n"),
             r"kustomize/policies/default\.yaml differs"),
        # e. manifests
        Case("manifests", "readiness probe on /healthz (kustomize)",
             edit(f"{KUST}/policy-service.yaml", "path: /readyz", "path: /healthz"),
             r"readinessProbe must GET /readyz"),
        Case("manifests", "liveness probe on port 3000 (Helm executor)",
             edit(HELM_EXECUTOR, "livenessProbe:\n            httpGet: {path: /healthz, port: http}",
                  "livenessProbe:\n            httpGet: {path: /healthz, port: 3000}"),
             r"livenessProbe port 3000"),
        Case("manifests", "executor replicas 1 (Helm values)",
             edit(f"{CHART}/values.yaml", "live in Postgres.\n  replicaCount: 2",
                  "live in Postgres.\n  replicaCount: 1"),
             r"warden-executor: replicas 1"),
        Case("manifests", "executor PDB removed (kustomize)",
             regex_edit(f"{KUST}/poddisruptionbudgets.yaml", r"(?s)---\n.*", ""),
             r"no PodDisruptionBudget"),
        Case("manifests", "readOnlyRootFilesystem false (Helm values)",
             edit(f"{CHART}/values.yaml", "readOnlyRootFilesystem: true", "readOnlyRootFilesystem: false"),
             r"readOnlyRootFilesystem is not true"),
        Case("manifests", "runAsNonRoot removed (kustomize executor)",
             regex_edit(f"{KUST}/executor-service.yaml", r"^ +runAsNonRoot: true\n", "", count=2),
             r"runAsNonRoot is not true"),
        Case("manifests", "POLICY_URL names no Service (kustomize)",
             edit(f"{KUST}/executor-service.yaml", "http://warden-policy:3000", "http://policy:3000"),
             r"POLICY_URL 'http://policy:3000'"),
    ]


def copy_tree(src: Path, dst: Path) -> None:
    for rel in DEPLOY_FILES:
        s = src / rel
        if s.is_dir():
            shutil.copytree(s, dst / rel)
        elif s.exists():
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(s, dst / rel)


def summary(e: CheckFailed, width: int = 100) -> str:
    """The gist of a failure in one line: its first line, and the tool's first error."""
    lines = [l.strip() for l in str(e).strip().splitlines() if l.strip()]
    text = lines[0]
    if text.endswith(":") and len(lines) > 1:
        detail = next((l for l in lines[1:] if "ERROR" in l or "error" in l.lower()), lines[1])
        text = f"{text} {detail}"
    return text if len(text) <= width else text[: width - 1] + "…"


def self_test(root: Path, tools: Path, expected_rules: list) -> None:
    checks = {key: (title, check) for key, title, check in all_checks(expected_rules)}
    cases = self_test_cases()
    failures = 0
    with tempfile.TemporaryDirectory(prefix="warden-deploy-self-test-") as tmp:
        pristine = Path(tmp) / "pristine"
        copy_tree(root, pristine)
        # The copy must pass, so that each refusal below comes from its breakage alone.
        d = Deploy(pristine, tools)
        for key, (title, check) in checks.items():
            try:
                check(d)
            except CheckFailed as e:
                print(f"check-deploy --self-test: the unbroken copy fails {title}:\n  {e}",
                      file=sys.stderr)
                sys.exit(1)
        print("  the unbroken copy passes every check", flush=True)
        for i, case in enumerate(cases):
            broken = Path(tmp) / f"case-{i}"
            copy_tree(root, broken)
            case.breakage(broken)
            try:
                checks[case.check][1](Deploy(broken, tools))
            except CheckFailed as e:
                if re.search(case.expect, str(e)):
                    print(f"  {case.check}: {case.what} → refused ✓", flush=True)
                else:
                    failures += 1
                    print(f"  {case.check}: {case.what} → refused for another reason ✗\n"
                          f"    expected /{case.expect}/, got: {summary(e, 300)}", flush=True)
            else:
                failures += 1
                print(f"  {case.check}: {case.what} → NOT refused ✗", flush=True)
            shutil.rmtree(broken)
    if failures:
        print(f"check-deploy --self-test: {failures} of {len(cases)} breakages not refused as "
              f"they should be", file=sys.stderr)
        sys.exit(1)
    print(f"check-deploy --self-test: {len(cases)} passed, 0 failed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--tools", type=Path, required=True)
    parser.add_argument("--permissions", type=Path, required=True,
                        help="JSON printed by `executor-service permissions`")
    parser.add_argument("--self-test", action="store_true")
    args = parser.parse_args()
    try:
        expected = json.loads(args.permissions.read_text())
    except (OSError, json.JSONDecodeError) as e:
        sys.exit(f"check-deploy: cannot read the executor's permissions: {e}")
    if not isinstance(expected, list) or not expected:
        sys.exit("check-deploy: `executor-service permissions` printed no rules")
    root, tools = args.root.resolve(), args.tools.resolve()
    if args.self_test:
        self_test(root, tools, expected)
    else:
        run_checks(Deploy(root, tools), expected)


if __name__ == "__main__":
    main()
