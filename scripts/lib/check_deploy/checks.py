"""The list of checks, in the order they run, and the run of them all."""

from __future__ import annotations

import sys
import time
from typing import Callable

from .common import CheckFailed, Deploy
from .compose import check_compose, check_dockerfile
from .manifests import check_env_names, check_manifests, check_policy_copies, check_secret_env
from .rbac import check_rbac
from .validate import check_helm_lint, check_validate_helm, check_validate_kustomize


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
        ("secret-env", "secrets only from Secrets", check_secret_env),
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
