"""f. Self-test: each check refuses its target when broken."""

from __future__ import annotations

import re
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .checks import all_checks
from .common import CHART, CheckFailed, DEPLOY_FILES, Deploy


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
        Case("rbac", "missing events list, which list_events uses (kustomize)",
             edit(f"{KUST}/rbac.yaml", '  - apiGroups: [""]\n    resources: [events]\n    verbs: [list]\n', ""),
             r"used but not granted: core/events:list"),
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
        # e. secrets from Secrets
        Case("secret-env", "Helm webhook URLs inline instead of from the Secret",
             regex_edit(HELM_RULES, r"^(- name: EXECUTOR_APPROVAL_WEBHOOK_URLS\n)  valueFrom:\n(    .*\n){3}",
                        r'\1  value: {{ join "," $a.webhooks.urls | quote }}\n'),
             r"sets EXECUTOR_APPROVAL_WEBHOOK_URLS without a secretKeyRef"),
        Case("secret-env", "kustomize DATABASE_URL as a literal",
             regex_edit(f"{KUST}/executor-service.yaml",
                        r"^(            - name: DATABASE_URL\n)              valueFrom:\n(                .*\n){3}",
                        r"\1              value: postgres://warden:secret@postgres:5432/warden\n"),
             r"sets DATABASE_URL without a secretKeyRef"),
        # a, b. the approvals values: the schema (helm lint), and the chart's own `fail`s
        # on what a schema cannot say (helm template; helm lint only logs a `fail`)
        Case("helm-lint", "an operator's token instead of its SHA-256 (ci values)",
             edit(f"{CHART}/ci/full-values.yaml",
                  "tokenSha256: 2bd806c97f0e00af1a1fc3328fa763a9269723c8db8fac4f93af71db186d6e90",
                  "tokenSha256: alice-plain-token"),
             r"tokenSha256.*does not match pattern"),
        Case("helm-lint", "an operator without roles (ci values)",
             edit(f"{CHART}/ci/full-values.yaml", "roles: [operator]\n", "roles: []\n"),
             r"roles.*minItems"),
        Case("helm-lint", "a webhook URL that is not http(s) (ci values)",
             edit(f"{CHART}/ci/full-values.yaml", "- http://approvals-receiver", "- ftp://approvals-receiver"),
             r"webhooks/urls/1.*does not match pattern"),
        Case("validate-helm", "OIDC issuer without its audience (ci values)",
             regex_edit(f"{CHART}/ci/full-values.yaml", r"^    audience: warden\n", ""),
             r"approvals\.oidc: set all of issuer, audience and jwksUrl, or none"),
        Case("validate-helm", "two operators with one token (ci values)",
             edit(f"{CHART}/ci/full-values.yaml",
                  "81B637D8FCD2C6DA6359E6963113A1170DE795E4B725B84D1E0B4CFD9EC58CE9",
                  "2bd806c97f0e00af1a1fc3328fa763a9269723c8db8fac4f93af71db186d6e90"),
             r"alice and bob@example\.com have the same tokenSha256"),
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
