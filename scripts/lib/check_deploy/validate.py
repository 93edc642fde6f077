"""a-c. `helm lint --strict`, and the renders through `kubernetes-validate --strict`."""

from __future__ import annotations

import concurrent.futures
import os
import subprocess

from .common import CHART, Deploy, KUBE_VERSIONS, Render, fail


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
