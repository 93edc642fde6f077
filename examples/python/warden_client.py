"""A small Warden client: ask the policy service, sign, execute, and handle what can go wrong.

This is the flow an AI engine follows (see the README):

1. ``POST /api/v1/policy/evaluate`` with the action, the resource and the incident's context;
2. if the decision allows it, sign ``{"actionType", "actionParams", "requestedBy"}`` with the
   shared secret (hex HMAC-SHA256 over ``json.dumps`` of that object, Python's default
   serialisation, which the executor accepts as is);
3. ``POST /executor/execute`` with the whole decision as ``policyDecision``.

What can go wrong, and what the client does about it:

- the policy denies or wants approval: nothing is sent to the executor (``NotAllowed``);
- 429 (over budget): wait ``Retry-After`` and try again with the same decision while it is
  valid (a budget refusal does not use it up);
- 503 (audit store down): nothing ran; retry with backoff;
- any other refusal or failure: raised as ``ExecutionFailed`` with the executor's ``code``;
- a timeout or lost connection after the request was sent: the action may or may not have
  run, so it is NOT retried (a retry could act twice); raised as ``OutcomeUnknown`` for a
  human or the audit log to settle.

The shared secret is the executor's ``JWT_SECRET``; ``secret_from_env`` reads it from there,
or from ``WARDEN_SECRET`` (an alias kept for scripts written before the name was settled)
when ``JWT_SECRET`` is unset.

Only the ``requests`` package is needed, and not even that for ``sign`` alone: the system
tests (standard library only) import it as the one implementation of the signature.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
from dataclasses import dataclass
from typing import Any, Optional

try:
    import requests
except ImportError:  # ``sign`` needs only the standard library; the client checks on use
    requests = None  # type: ignore[assignment]


class WardenError(Exception):
    """Base class of this client's errors."""


SECRET_VARIABLES = ("JWT_SECRET", "WARDEN_SECRET")


def secret_from_env(environ: Optional[dict] = None) -> str:
    """The HMAC secret: ``JWT_SECRET`` (the executor's name for it), else its alias
    ``WARDEN_SECRET``. Empty values count as unset."""
    environ = os.environ if environ is None else environ
    for name in SECRET_VARIABLES:
        value = environ.get(name)
        if value:
            return value
    raise WardenError("set JWT_SECRET to the executor's HMAC secret (WARDEN_SECRET is accepted as an alias)")


class NotAllowed(WardenError):
    """The policy service did not allow the action; nothing was executed."""

    def __init__(self, decision: dict):
        super().__init__(f"{decision['decision']}: {decision['reason']} (rule {decision.get('matchedRule')})")
        self.decision = decision


class ExecutionFailed(WardenError):
    """The executor refused the request or the action failed; its answer says why."""

    def __init__(self, status: int, body: dict):
        super().__init__(f"HTTP {status} {body.get('code')}: {body.get('error')}")
        self.status = status
        self.body = body
        self.code = body.get("code")
        self.audit_id = body.get("auditId")


class OutcomeUnknown(WardenError):
    """The request reached the executor but no answer came back: check the audit log."""


def sign(action_type: str, action_params: dict, requested_by: str, secret: str) -> str:
    """Hex HMAC-SHA256 over ``json.dumps`` of the signed members, in this order."""
    signed = {"actionType": action_type, "actionParams": action_params, "requestedBy": requested_by}
    return hmac.new(secret.encode(), json.dumps(signed).encode(), hashlib.sha256).hexdigest()


@dataclass
class WardenClient:
    """Talks to one policy service and one executor on behalf of one requester."""

    policy_url: str
    executor_url: str
    secret: str
    requested_by: str = "ai-engine"
    api_key: Optional[str] = None
    timeout: float = 10.0
    max_attempts: int = 3

    def __post_init__(self) -> None:
        if requests is None:
            raise ImportError("WardenClient needs the requests package (pip install requests)")

    def evaluate(self, action: str, resource: str, metadata: dict, request_type: str = "self_healing",
                 params: Optional[dict] = None) -> dict:
        """Asks the policy service; returns the decision (allowed or not). With ``params`` (the
        ``actionParams`` to execute with) the decision is bound to exactly those."""
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        answer = requests.post(
            f"{self.policy_url}/api/v1/policy/evaluate",
            json={
                "action": action,
                "resource": resource,
                "type": request_type,
                "context": {"userId": self.requested_by, "metadata": metadata},
                **({"params": params} if params is not None else {}),
            },
            headers=headers,
            timeout=self.timeout,
        )
        if answer.status_code != 200:
            raise ExecutionFailed(answer.status_code, answer.json())
        return answer.json()

    def execute(self, action: str, params: dict, decision: dict, dry_run: bool = False) -> dict:
        """Runs an allowed decision; returns the executor's answer (with ``auditId``)."""
        if not decision.get("allowed"):
            raise NotAllowed(decision)
        body: dict[str, Any] = {
            "actionType": action,
            "actionParams": params,
            "requestedBy": self.requested_by,
            "policyDecision": decision,
            "signature": sign(action, params, self.requested_by, self.secret),
        }
        if dry_run:
            body["dryRun"] = True
        for attempt in range(1, self.max_attempts + 1):
            try:
                answer = requests.post(f"{self.executor_url}/executor/execute", json=body, timeout=self.timeout)
            except requests.ConnectionError as err:
                if _never_sent(err):
                    if attempt == self.max_attempts:
                        raise ExecutionFailed(0, {"code": "unreachable", "error": str(err)}) from err
                    time.sleep(0.5 * attempt)
                    continue
                raise OutcomeUnknown(f"connection lost after sending {action}: {err}") from err
            except requests.Timeout as err:
                raise OutcomeUnknown(f"no answer to {action} within {self.timeout}s: {err}") from err
            payload = answer.json()
            if answer.status_code == 200:
                return payload
            retryable = answer.status_code in (429, 503) and payload.get("code") != "replay"
            if retryable and attempt < self.max_attempts:
                time.sleep(min(float(answer.headers.get("Retry-After", attempt)), 30.0))
                continue
            raise ExecutionFailed(answer.status_code, payload)
        raise AssertionError("unreachable")

    def remediate(self, action: str, resource: str, params: dict, metadata: dict, dry_run: bool = False) -> dict:
        """The whole flow: evaluate, then execute if allowed."""
        decision = self.evaluate(action, resource, metadata, params=params)
        return self.execute(action, params, decision, dry_run=dry_run)


def _never_sent(err: requests.ConnectionError) -> bool:
    """Whether the connection failed before the request could have been received."""
    text = str(err)
    return "Connection refused" in text or "NewConnectionError" in text


if __name__ == "__main__":
    import argparse
    import os
    import sys

    parser = argparse.ArgumentParser(description="Restart a pod through Warden (the secret comes from JWT_SECRET, or its alias WARDEN_SECRET).")
    parser.add_argument("--policy-url", default="http://127.0.0.1:3000")
    parser.add_argument("--executor-url", default="http://127.0.0.1:4000")
    parser.add_argument("--namespace", default="default")
    parser.add_argument("--pod", default="api-pod-12345")
    parser.add_argument("--severity", default="high")
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args()
    try:
        secret = secret_from_env()
    except WardenError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    client = WardenClient(args.policy_url, args.executor_url, secret)
    try:
        result = client.remediate(
            "restart_pod",
            f"{args.namespace}/pod/{args.pod}",
            {"namespace": args.namespace, "podName": args.pod},
            {"severity": args.severity},
            dry_run=args.dry_run,
        )
    except NotAllowed as err:
        print(f"not allowed: {err}")
        sys.exit(3)
    except OutcomeUnknown as err:
        print(f"outcome unknown, check the audit log: {err}")
        sys.exit(4)
    except ExecutionFailed as err:
        print(f"failed: {err} (audit {err.audit_id})")
        sys.exit(1)
    print(json.dumps(result, indent=2))
