"""End-to-end test of the Python example against running Warden services.

Run by ``examples/python/run-e2e``, which starts the fake Kubernetes API server, the policy
service and the executor on a fresh Postgres database and passes their addresses in
FAKE_URL, POLICY_URL, EXECUTOR_URL, DATABASE_URL and the HMAC secret in JWT_SECRET (or its alias WARDEN_SECRET). Each
case asserts the HTTP outcome, the state of the fake cluster, and the audit row.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import unittest
from pathlib import Path

import requests

from warden_client import ExecutionFailed, NotAllowed, OutcomeUnknown, WardenClient, WardenError, secret_from_env

# The system invariant, the one the system test suites check too.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts" / "lib"))
import invariant  # noqa: E402

FAKE = os.environ["FAKE_URL"]
DATABASE_URL = os.environ["DATABASE_URL"]


def seed_pod(namespace: str, name: str) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": name}},
        "spec": {"containers": [{"name": "app", "image": "app:1"}]},
    }
    requests.post(f"{FAKE}/_fake/objects", json=pod, timeout=5).raise_for_status()


def pod_exists(namespace: str, name: str) -> bool:
    answer = requests.get(f"{FAKE}/api/v1/namespaces/{namespace}/pods/{name}", timeout=5)
    return answer.status_code == 200


def audit(audit_id: str) -> tuple[str, str, bool]:
    """(status, reasonCode, dryRun) of one audit row, read with psql."""
    out = subprocess.run(
        ["psql", DATABASE_URL, "-qAt", "-F", "|", "-c",
         f"SELECT status, coalesce(\"reasonCode\", ''), \"dryRun\" FROM action_audit_logs WHERE id = '{audit_id}'"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    status, reason, dry_run = out.split("|")
    return status, reason, dry_run == "t"


def wait_for_final(audit_id: str) -> tuple[str, str, bool]:
    for _ in range(100):
        row = audit(audit_id)
        if row[0] != "pending":
            return row
        time.sleep(0.1)
    return audit(audit_id)


def client(**overrides) -> WardenClient:
    settings = {"secret": secret_from_env(), **overrides}
    return WardenClient(os.environ["POLICY_URL"], os.environ["EXECUTOR_URL"], **settings)


class Flow(unittest.TestCase):
    def test_allowed_restart_runs_and_is_audited(self):
        seed_pod("default", "py-api-1")
        result = client().remediate("restart_pod", "pod:py-api-1", {"namespace": "default", "podName": "py-api-1"},
                                    {"severity": "critical"})
        self.assertTrue(result["success"])
        self.assertFalse(pod_exists("default", "py-api-1"))
        self.assertEqual(audit(result["auditId"]), ("succeeded", "", False))

    def test_dry_run_changes_nothing(self):
        seed_pod("default", "py-api-2")
        result = client().remediate("restart_pod", "default/pod/py-api-2", {"namespace": "default", "podName": "py-api-2"},
                                    {"severity": "high"}, dry_run=True)
        self.assertTrue(result["dryRun"])
        self.assertTrue(pod_exists("default", "py-api-2"))
        self.assertEqual(audit(result["auditId"]), ("succeeded", "", True))

    def test_denied_by_policy_never_reaches_the_executor(self):
        seed_pod("kube-system", "coredns-py")
        with self.assertRaises(NotAllowed) as caught:
            client().remediate("restart_pod", "kube-system/pod/coredns-py",
                               {"namespace": "kube-system", "podName": "coredns-py"}, {"severity": "critical"})
        self.assertEqual(caught.exception.decision["matchedRule"], "deny-system-namespaces")
        self.assertTrue(pod_exists("kube-system", "coredns-py"))

    def test_low_severity_needs_approval(self):
        with self.assertRaises(NotAllowed) as caught:
            client().remediate("restart_pod", "default/pod/whatever", {"namespace": "default", "podName": "whatever"},
                               {"severity": "medium"})
        self.assertEqual(caught.exception.decision["decision"], "require_approval")

    def test_replayed_decision_is_refused_with_the_first_audit_id(self):
        seed_pod("default", "py-api-3")
        c = client()
        params = {"namespace": "default", "podName": "py-api-3"}
        decision = c.evaluate("restart_pod", "default/pod/py-api-3", {"severity": "high"})
        first = c.execute("restart_pod", params, decision)
        with self.assertRaises(ExecutionFailed) as caught:
            c.execute("restart_pod", params, decision)
        self.assertEqual(caught.exception.status, 409)
        self.assertEqual(caught.exception.code, "replay")
        self.assertEqual(caught.exception.audit_id, first["auditId"])

    def test_wrong_secret_is_refused_and_audited(self):
        seed_pod("default", "py-api-4")
        with self.assertRaises(ExecutionFailed) as caught:
            client(secret="not-the-secret-0123456789abcdef").remediate(
                "restart_pod", "default/pod/py-api-4", {"namespace": "default", "podName": "py-api-4"},
                {"severity": "high"})
        self.assertEqual(caught.exception.status, 401)
        self.assertTrue(pod_exists("default", "py-api-4"))
        self.assertEqual(audit(caught.exception.audit_id)[:2], ("rejected", "bad_signature"))

    def test_a_missing_pod_is_a_clear_failure(self):
        with self.assertRaises(ExecutionFailed) as caught:
            client().remediate("restart_pod", "default/pod/py-gone", {"namespace": "default", "podName": "py-gone"},
                               {"severity": "high"})
        self.assertEqual(caught.exception.status, 404)
        self.assertEqual(caught.exception.code, "kube_not_found")
        self.assertEqual(wait_for_final(caught.exception.audit_id)[:2], ("failed", "kube_not_found"))

    def test_a_client_timeout_is_reported_as_unknown_and_not_retried(self):
        seed_pod("default", "py-slow")
        fault = {"method": "DELETE", "pathContains": "pods/py-slow", "delayMs": 1500, "times": 1}
        requests.post(f"{FAKE}/_fake/faults", json=fault, timeout=5).raise_for_status()
        with self.assertRaises(OutcomeUnknown):
            client(timeout=0.5).remediate("restart_pod", "default/pod/py-slow",
                                          {"namespace": "default", "podName": "py-slow"}, {"severity": "high"})
        # The executor finishes on its own; the pod is deleted exactly once.
        for _ in range(50):
            if not pod_exists("default", "py-slow"):
                break
            time.sleep(0.1)
        self.assertFalse(pod_exists("default", "py-slow"))
        deletes = [r for r in requests.get(f"{FAKE}/_fake/requests", timeout=5).json()
                   if r["method"] == "DELETE" and r["path"].endswith("/pods/py-slow")]
        self.assertEqual(len(deletes), 1)


class SecretFromEnv(unittest.TestCase):
    def test_jwt_secret_comes_first_and_warden_secret_is_its_alias(self):
        self.assertEqual(secret_from_env({"JWT_SECRET": "a", "WARDEN_SECRET": "b"}), "a")
        self.assertEqual(secret_from_env({"WARDEN_SECRET": "b"}), "b")
        self.assertEqual(secret_from_env({"JWT_SECRET": "", "WARDEN_SECRET": "b"}), "b")

    def test_neither_is_an_error_naming_jwt_secret(self):
        with self.assertRaisesRegex(WardenError, "JWT_SECRET"):
            secret_from_env({})


class Invariant(unittest.TestCase):
    def test_zz_mutations_equal_succeeded_rows_and_nothing_is_pending(self):
        # Target by target: mutations at the fake == succeeded non-dry-run rows, no pending
        # rows (given half a second to settle), no mutation retried.
        invariant.wait_no_pending(DATABASE_URL, 0.5)
        evidence = invariant.gather(DATABASE_URL, FAKE)
        self.assertEqual(invariant.problems(evidence), [])
        succeeded = [r for r in evidence.rows if r["status"] == "succeeded" and not r["dryRun"]]
        self.assertEqual(len(evidence.mutations), len(succeeded))


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2).result
    failed = len(result.failures) + len(result.errors)
    print(f"summary: {result.testsRun - failed} passed, {failed} failed")
    raise SystemExit(1 if failed or not result.wasSuccessful() else 0)
