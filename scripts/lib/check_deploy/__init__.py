"""Offline checks of Warden's deploy files; run by scripts/check-deploy with .tools/venv.

    python -m check_deploy --root DIR --tools DIR --permissions FILE [--self-test]

Every check reads the files under --root (the repository, or a broken copy in the
self-test): Dockerfile, docker-compose.yml, .env.example, policies/default.yaml and
deploy/. A check that finds a problem raises CheckFailed with a message that names the
file or the rendered object. --self-test breaks a copy of those files one way at a time
and asserts that the check meant to catch each breakage refuses it.

Layout:

- `common.py`: the files under --root, their Helm and kustomize renders, object helpers;
- `validate.py`: a-c, `helm lint --strict` and `kubernetes-validate --strict`;
- `rbac.py`: d, the executor's RBAC equal to `executor-service permissions`;
- `compose.py`: e, docker-compose.yml and the Dockerfile;
- `manifests.py`: e, policy copies, probes, security, replicas, PDB, documented variables,
  secret variables from Secrets;
- `checks.py`: the checks in the order they run;
- `selftest.py`: f, each check refuses its target when broken;
- `__main__.py`: the command line.
"""
