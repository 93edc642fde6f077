"""Puts real approval requests and grants in the fuzzed executor's database, so that the
fuzzer's answers carry real records (votes, executions, grants) for the response schema
check, and so that the operations on one record have records to work on.

Drives the running stack like a client would: medium-severity restarts judged by the
policy service (rule `approve-medium-severity`, which needs an operator), signed with
JWT_SECRET and sent to the executor (202), then decided with the admin's bearer token:

- `approved`: approved with a namespace session grant, so it ran (an execution row), and a
  later restart in that namespace ran under the grant (a row with `grantId`);
- `denied`, and one approved with an object grant that is then revoked;
- two left `pending`: the fuzzed approve and deny work on them.

Prints shell assignments of the ids (SEED_APPROVED_ID, SEED_PENDING_APPROVE_ID,
SEED_PENDING_DENY_ID, SEED_GRANT_ID) for `tests/schemathesis/records.toml`.

    FAKE_URL=... POLICY_URL=... EXECUTOR_URL=... JWT_SECRET=... ADMIN_TOKEN=... seed.py

Only the Python standard library is used.
"""

from __future__ import annotations

import http.client
import json
import os
import sys
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "examples" / "python"))

from warden_client import sign  # noqa: E402 - the one signer, the example client's

ENGINE = "ai-engine"


def call(url: str, method: str = "GET", value=None, token: str = "") -> tuple:
    """(status, JSON) of one request, straight to the address."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        body = None if value is None else json.dumps(value).encode()
        conn.request(method, parts.path + (f"?{parts.query}" if parts.query else ""), body, headers)
        answer = conn.getresponse()
        raw = answer.read()
        return answer.status, (json.loads(raw) if raw else None)
    finally:
        conn.close()


def expect(what: str, got: tuple, status: int) -> dict:
    if got[0] != status:
        raise SystemExit(f"seed: {what}: expected {status}, got {got[0]} {got[1]}")
    return got[1]


class Seeder:
    def __init__(self) -> None:
        env = os.environ
        self.fake, self.policy, self.executor = env["FAKE_URL"], env["POLICY_URL"], env["EXECUTOR_URL"]
        self.secret, self.admin = env["JWT_SECRET"], env["ADMIN_TOKEN"]

    def restart(self, ns: str, pod: str) -> tuple:
        """Seeds `ns/pod` and asks to restart it on a medium-severity decision."""
        expect("seed pod", call(f"{self.fake}/_fake/objects", "POST", [{
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": pod, "namespace": ns},
            "spec": {"containers": [{"name": "app", "image": "app:1"}]}}]), 201)
        decision = expect("evaluate", call(f"{self.policy}/api/v1/policy/evaluate", "POST", {
            "action": "restart_pod", "resource": f"{ns}/pod/{pod}", "type": "self_healing",
            "context": {"userId": ENGINE, "metadata": {"severity": "medium", "confidence": 0.9}},
        }), 200)
        params = {"namespace": ns, "podName": pod}
        return call(f"{self.executor}/executor/execute", "POST", {
            "actionType": "restart_pod", "actionParams": params, "requestedBy": ENGINE,
            "policyDecision": decision, "signature": sign("restart_pod", params, ENGINE, self.secret),
        })

    def ask(self, ns: str, pod: str) -> str:
        return expect(f"execute {ns}/{pod}", self.restart(ns, pod), 202)["approvalId"]

    def decide(self, approval_id: str, verb: str, body: dict) -> dict:
        return expect(f"{verb} {approval_id}", call(f"{self.executor}/executor/approvals/{approval_id}/{verb}",
                                                    "POST", body, self.admin), 200)

    def run(self) -> dict:
        approved = self.ask("seeded", "approved-pod")
        answer = self.decide(approved, "approve", {"comment": "seed",
                                                   "grant": {"scope": "namespace", "ttlSeconds": 3600}})
        grant = answer["grant"]["id"]
        expect("restart under the grant", self.restart("seeded", "granted-pod"), 200)
        self.decide(self.ask("seeded-denied", "denied-pod"), "deny", {"comment": "seed"})
        revoked = self.decide(self.ask("seeded-revoked", "object-pod"), "approve",
                              {"grant": {"scope": "object", "ttlSeconds": 600}})["grant"]["id"]
        expect("revoke", call(f"{self.executor}/executor/grants/{revoked}", "DELETE", token=self.admin), 200)
        return {
            "SEED_APPROVED_ID": approved,
            "SEED_PENDING_APPROVE_ID": self.ask("seeded-pending", "approve-pod"),
            "SEED_PENDING_DENY_ID": self.ask("seeded-pending", "deny-pod"),
            "SEED_GRANT_ID": grant,
        }


def main() -> int:
    for key, value in Seeder().run().items():
        print(f"{key}={value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
