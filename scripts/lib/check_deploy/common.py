"""Shared by every check: the repository's deploy files, their renders, and
helpers for Kubernetes objects."""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

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
