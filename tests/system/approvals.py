"""Approvals suite: human approvals on the real binaries, three executors on one Postgres.

A `require_approval` decision of the real policy service (medium severity, rule
`approve-medium-severity` of the default policy) makes the executor answer 202 with an
approval request; operators (static tokens of EXECUTOR_OPERATORS) approve or deny it over
HTTP, on any executor. The policy is the default one with two rules of this suite in front
(namespace `dual`: two approvers; namespace `brief`: expires after 2 s). A local webhook
receiver (a thread) gets every notification. Each case checks the HTTP answer, the audit
rows in Postgres and what the fake cluster saw:

- approve -> exactly one deletion; the request's row `awaiting_approval` -> `approved`, the
  execution its own row (`approvalId`, `approvedBy`, `decisionId` = `approval:<id>`);
- 20 operators approving one request at once over 3 executors -> one execution;
- two approvers: the same person twice -> 409, a second person -> runs;
- self-approval and a missing role -> 403; deny -> nothing runs; expiry; replay;
- session grants (namespace scope, revocation, TTL; deny decisions stay denied);
- webhooks with retries, no secret in any message, the delivery counter;
- the requester polling its request with its HMAC secret;
- the system invariant (approval rows are not mutations; one execution per approval).

    python3 tests/system/approvals.py      # after building the binaries (tests/system/run)
"""

from __future__ import annotations

import collections
import hashlib
import hmac
import json
import re
import secrets
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402
from harness import (  # noqa: E402
    ENGINE, Answer, Stack, Suite, check, execute_body, http_request, post_json, race, token_parts,
    wait_until,
)

EXECUTORS = 3
NS = "approvals"          # the default policy's approve-medium-severity rule
DUAL_NS = "dual"          # this suite's rule: two approvers
BRIEF_NS = "brief"        # this suite's rule: expires after 2 s
RACERS = 20
OTHER_CLIENT = "engine-b"  # a second requester, with a secret of its own
PUBLIC_URL = "https://warden.example.test"
APPROVAL_AUDIENCE = "warden-executor-approval"
APPROVAL_STATUSES = ("awaiting_approval", "approved", "denied", "expired")

# Operators and their bearer tokens; the executors only see the tokens' SHA-256.
OPERATORS = {
    "alice": "operator", "bob": "operator", "carol": "operator",
    **{f"op-{i:02}": "operator" for i in range(1, RACERS + 1)},
    ENGINE: "operator",  # a person named like the requester: never approves its requests
    "viewer": "viewer",
}
TOKENS = {name: secrets.token_hex(24) for name in OPERATORS}
OTHER_SECRET = secrets.token_hex(32)

SUITE_RULES = f"""\
  # -- added by tests/system/approvals.py, in front of the default rules ---------------
  - id: approve-two-people
    effect: require_approval
    reason: Changes in namespace {DUAL_NS} need two operators
    match:
      actions: [restart_pod, scale_deployment]
      resources: [{DUAL_NS}]
      subjects: {{roles: [service]}}
    when: metadata.severity == medium
    approval: {{approvers: 2, roles: [operator], expires: 15m}}

  - id: approve-briefly
    effect: require_approval
    reason: Requests in namespace {BRIEF_NS} wait two seconds at most
    match:
      actions: [restart_pod, scale_deployment]
      resources: [{BRIEF_NS}]
      subjects: {{roles: [service]}}
    when: metadata.severity == medium
    approval: {{approvers: 1, roles: [operator], expires: 2s}}

"""


def suite_policy(path: Path) -> Path:
    """The default policy with this suite's rules first among the rules (the first matching
    require_approval rule wins)."""
    text = (harness.ROOT / "policies" / "default.yaml").read_text()
    check(text.count("\nrules:\n") == 1, "policies/default.yaml has no single `rules:` line")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text.replace("\nrules:\n", "\nrules:\n" + SUITE_RULES, 1))
    return path


# ---------------------------------------------------------------------------------------
# The webhook receiver
# ---------------------------------------------------------------------------------------


class Receiver:
    """A webhook receiver on 127.0.0.1 in a thread. It records every POST, answers 500 to
    the first `n` POSTs about a target named with `fail_first`, and 200 to all others."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.posts: list = []  # {"body": bytes, "json": Any, "status": int, "at": float}
        self.failing: dict = {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    message = json.loads(body)
                except ValueError:
                    message = None
                status = receiver.answer_for(message)
                with receiver.lock:
                    receiver.posts.append({"body": body, "json": message, "status": status,
                                           "at": time.monotonic(),
                                           "type": self.headers.get("Content-Type")})
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/warden"

    def start(self) -> "Receiver":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def fail_first(self, target: str, n: int) -> None:
        with self.lock:
            self.failing[target] = n

    def answer_for(self, message: Any) -> int:
        target = ((message or {}).get("approval") or {}).get("targetName")
        with self.lock:
            if self.failing.get(target, 0) > 0:
                self.failing[target] -= 1
                return 500
        return 200

    def about(self, target: str, event: Optional[str] = None) -> list:
        with self.lock:
            return [p for p in self.posts if isinstance(p["json"], dict)
                    and (p["json"].get("approval") or {}).get("targetName") == target
                    and (event is None or p["json"].get("event") == event)]

    def all_posts(self) -> list:
        with self.lock:
            return list(self.posts)


# ---------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------


def medium(s: Stack, action: str, resource: str, user: str = ENGINE, role: Optional[str] = None) -> dict:
    """A require_approval decision of the policy service, with its token checked."""
    decision = s.evaluate(action, resource, user, severity="medium", role=role)
    check(decision.get("decision") == "require_approval" and decision.get("allowed") is False,
          f"{action} on {resource} for {user} did not need approval: {decision}")
    check(bool(decision.get("token")) and decision.get("approval"), f"no token or approval: {decision}")
    _, claims = token_parts(decision["token"])
    check(claims.get("aud") == APPROVAL_AUDIENCE and claims.get("apr") == decision["approval"],
          f"approval token claims: {claims}")
    return decision


def restart(s: Stack, ns: str, pod: str, decision: Optional[dict] = None, user: str = ENGINE,
            secret: Optional[str] = None, role: Optional[str] = None) -> bytes:
    """A signed restart of `ns/pod` on a fresh require_approval decision (or `decision`)."""
    if decision is None:
        decision = medium(s, "restart_pod", f"{ns}/pod/{pod}", user, role)
    return execute_body("restart_pod", {"namespace": ns, "podName": pod}, user, decision,
                        secret or s.secret)


def awaiting(answer: Answer) -> dict:
    """Checks a 202 `awaiting_approval` answer; returns its JSON."""
    body = answer.json
    check(answer.status == 202, f"expected 202 awaiting_approval, got {answer}")
    check(body.get("success") is False and body.get("status") == "awaiting_approval"
          and body.get("code") == "approval_required", f"202 body: {body}")
    check(all(body.get(k) for k in ("approvalId", "auditId", "expiresAt")), f"202 body lacks ids: {body}")
    return body


def ask(s: Stack, ns: str, pod: str, index: int = 0, **kwargs: Any) -> dict:
    """Seeds `ns/pod`, asks to restart it, checks the 202 and that nothing ran."""
    s.seed_pods(ns, [pod])
    body = awaiting(s.execute(restart(s, ns, pod, **kwargs), index))
    row = s.row(body["auditId"])
    check(row["status"] == "awaiting_approval" and row["approvalId"] == body["approvalId"],
          f"request row: {row}")
    check(s.pod_exists(ns, pod), f"{ns}/{pod} is gone before any approval")
    return body


def bearer(who: str) -> dict:
    return {"Authorization": f"Bearer {TOKENS[who]}"}


def approve(s: Stack, approval_id: str, who: str, index: int = 0, body: Optional[dict] = None,
            headers: Optional[dict] = None) -> Answer:
    return post_json(f"{s.executor_url(index)}/executor/approvals/{approval_id}/approve",
                     body if body is not None else {"comment": f"looked at it ({who})"},
                     headers=headers if headers is not None else bearer(who), timeout=30)


def deny(s: Stack, approval_id: str, who: str, comment: Optional[str] = "not now", index: int = 0) -> Answer:
    return post_json(f"{s.executor_url(index)}/executor/approvals/{approval_id}/deny",
                     {} if comment is None else {"comment": comment}, headers=bearer(who))


def get(s: Stack, path: str, who: Optional[str] = "alice", index: int = 0,
        headers: Optional[dict] = None) -> Answer:
    return http_request(f"{s.executor_url(index)}{path}", "GET",
                        headers={**(bearer(who) if who else {}), **(headers or {})})


def refused(answer: Answer, status: int, code: str) -> dict:
    check(answer.status == status and answer.json.get("code") == code,
          f"expected {status} {code}, got {answer}")
    return answer.json


def executions(s: Stack, approval_id: str) -> list:
    """The execution rows of an approval request (not the request's own row)."""
    return [r for r in s.rows(f"\"approvalId\" = '{approval_id}'") if r["status"] not in APPROVAL_STATUSES]


def request_row(s: Stack, approval_id: str) -> dict:
    found = [r for r in s.rows(f"\"approvalId\" = '{approval_id}'") if r["status"] in APPROVAL_STATUSES]
    check(len(found) == 1, f"{len(found)} request rows for approval {approval_id}")
    return found[0]


def deletions(s: Stack, ns: str, pod: str) -> int:
    return len([m for m in s.mutations() if (m["namespace"], m["name"]) == (ns, pod)])


def votes(s: Stack, approval_id: str) -> list:
    return s.sql(f"SELECT approver || ':' || vote FROM approval_votes WHERE \"approvalId\" = "
                 f"'{approval_id}' ORDER BY \"createdAt\"").split()


def ran_once(s: Stack, ns: str, pod: str, approval_id: str, approved_by: list) -> dict:
    """Checks that the approval ran exactly once and left the rows it must; returns the
    execution row."""
    check(not s.pod_exists(ns, pod) and deletions(s, ns, pod) == 1,
          f"{ns}/{pod}: {deletions(s, ns, pod)} deletions")
    runs = executions(s, approval_id)
    check(len(runs) == 1, f"{len(runs)} execution rows: {runs}")
    run = runs[0]
    check(run["status"] == "succeeded" and run["decisionId"] == f"approval:{approval_id}"
          and run["approvedBy"] == approved_by and run["requestedBy"] in (ENGINE, OTHER_CLIENT),
          f"execution row: {run}")
    asked = request_row(s, approval_id)
    check(asked["status"] == "approved", f"request row: {asked}")
    history = s.history()
    trails = (history.get(asked["id"]), history.get(run["id"]))
    check(trails == (["awaiting_approval", "approved"], ["pending", "succeeded"]),
          f"status histories of the request and execution rows: {trails}")
    return run


def requester_headers(path: str, client: str, secret: str, ts: Optional[int] = None) -> dict:
    """The headers a requester reads its own request with: HMAC of `GET\\n<path>\\n<ts>`."""
    ts = int(time.time()) if ts is None else ts
    signature = hmac.new(secret.encode(), f"GET\n{path}\n{ts}".encode(), hashlib.sha256).hexdigest()
    return {"X-Warden-Client": client, "X-Warden-Timestamp": str(ts), "X-Warden-Signature": signature}


def metric(s: Stack, name: str) -> float:
    """The sum of a metric over every executor and label set."""
    total = 0.0
    pattern = re.compile(rf"^{re.escape(name)}(\{{[^}}]*\}})? (\S+)$")
    for i in range(EXECUTORS):
        answer = http_request(f"{s.executor_url(i)}/metrics")
        check(answer.status == 200, f"/metrics of executor {i}: {answer}")
        for line in answer.raw.decode().splitlines():
            found = pattern.match(line)
            if found:
                total += float(found.group(2))
    return total


# ---------------------------------------------------------------------------------------
# The cases
# ---------------------------------------------------------------------------------------


def cases(suite: Suite, s: Stack, hooks: Receiver) -> None:
    shared: dict = {}

    def approve_one():
        decision = medium(s, "restart_pod", f"{NS}/pod/approve-me")
        check(decision["matchedRule"] == "approve-medium-severity"
              and decision["approval"]["approvers"] == 1 and decision["approval"]["roles"] == ["operator"],
              f"decision: {decision}")
        s.seed_pods(NS, ["approve-me"])
        body = restart(s, NS, "approve-me", decision)
        shared["approved_body"] = body
        asked = awaiting(s.execute(body, 0))
        aid = asked["approvalId"]
        check(s.pod_exists(NS, "approve-me") and deletions(s, NS, "approve-me") == 0, "ran before approval")
        shown = get(s, f"/executor/approvals/{aid}", index=1).json
        check(shown["status"] == "pending" and shown["approvals"] == 0 and shown["auditId"] == asked["auditId"]
              and shown["requestedBy"] == ENGINE and shown["targetName"] == "approve-me", f"GET: {shown}")
        pending = get(s, f"/executor/approvals?status=pending&requestedBy={ENGINE}&namespace={NS}").json
        check(aid in [a["id"] for a in pending["approvals"]], f"not listed as pending: {pending}")

        answer = approve(s, aid, "alice", index=2)
        check(answer.status == 200, f"approve: {answer}")
        out = answer.json
        check(out["execution"]["success"] is True and out["approval"]["status"] == "approved"
              and out["approval"]["approvals"] == 1 and out["grant"] is None, f"approve answer: {out}")
        run = ran_once(s, NS, "approve-me", aid, ["alice"])
        check(out["execution"]["auditId"] == run["id"], "the answer names another execution row")
        check(votes(s, aid) == ["alice:approve"], f"votes: {votes(s, aid)}")
        approved = get(s, f"/executor/approvals?status=approved&namespace={NS}").json
        listed = [a for a in approved["approvals"] if a["id"] == aid]
        check(len(listed) == 1 and listed[0]["execution"]["id"] == run["id"], f"approved list: {approved}")

    suite.case("approve: medium-severity restart -> 202, one operator approves -> exactly one deletion",
               approve_one)

    def approval_race():
        aid = ask(s, NS, "raced")["approvalId"]
        racers = [f"op-{i:02}" for i in range(1, RACERS + 1)]
        answers = race([lambda i=i, who=who: (who, approve(s, aid, who, index=i % EXECUTORS))
                        for i, who in enumerate(racers)], RACERS)
        tally = collections.Counter((a.status, a.json.get("code")) for _, a in answers)
        print(f"     answers: {dict(tally)}", flush=True)
        won = [(who, a) for who, a in answers if a.status == 200]
        check(len(won) == 1 and won[0][1].json["execution"]["success"] is True, f"answers: {dict(tally)}")
        check(tally[(409, "approval_decided")] == RACERS - 1, f"answers: {dict(tally)}")
        ran_once(s, NS, "raced", aid, [won[0][0]])
        check(votes(s, aid) == [f"{won[0][0]}:approve"], f"votes: {votes(s, aid)}")

    suite.case(f"race: {RACERS} operators approve one request at once over {EXECUTORS} executors "
               "-> one execution, 19 x 409", approval_race)

    def two_approvers():
        asked = ask(s, DUAL_NS, "twice")
        aid = asked["approvalId"]
        check("2 people" in asked["error"], f"202 error text: {asked['error']}")
        first = approve(s, aid, "alice", index=0)
        check(first.status == 200 and first.json["execution"] is None
              and first.json["approval"]["status"] == "pending" and first.json["approval"]["approvals"] == 1,
              f"first approval: {first}")
        check(s.pod_exists(DUAL_NS, "twice") and not executions(s, aid), "ran after one approval of two")
        refused(approve(s, aid, "alice", index=1), 409, "already_voted")
        check(votes(s, aid) == ["alice:approve"], f"votes: {votes(s, aid)}")
        second = approve(s, aid, "bob", index=2)
        check(second.status == 200 and second.json["execution"]["success"] is True
              and second.json["approval"]["status"] == "approved", f"second approval: {second}")
        ran_once(s, DUAL_NS, "twice", aid, ["alice", "bob"])

    suite.case("two approvers: one approval runs nothing, the same person again -> 409 already_voted, "
               "a second person -> runs", two_approvers)

    def not_theirs():
        aid = ask(s, NS, "self-approved")["approvalId"]
        refused(approve(s, aid, ENGINE), 403, "self_approval")
        refused(deny(s, aid, ENGINE), 403, "self_approval")
        refused(approve(s, aid, "viewer", index=1), 403, "missing_role")
        refused(deny(s, aid, "viewer", index=2), 403, "missing_role")
        # A client's HMAC secret is never a person's token.
        refused(approve(s, aid, "x", headers={"Authorization": f"Bearer {s.secret}"}),
                401, "invalid_credentials")
        refused(approve(s, aid, "x", headers={}), 401, "unauthenticated")
        check(votes(s, aid) == [] and get(s, f"/executor/approvals/{aid}").json["status"] == "pending",
              "a refused vote was recorded")
        check(s.pod_exists(NS, "self-approved") and not executions(s, aid), "a refused vote ran the action")
        shared["pending_id"] = aid

    suite.case("refusals: self-approval -> 403 self_approval, wrong role -> 403 missing_role, "
               "a client secret -> 401", not_theirs)

    def denied():
        aid = ask(s, NS, "denied")["approvalId"]
        refused(deny(s, aid, "bob", comment=None), 400, "invalid_json")
        answer = deny(s, aid, "bob", comment="the pod is fine", index=1)
        check(answer.status == 200 and answer.json["approval"]["status"] == "denied"
              and answer.json["execution"] is None, f"deny: {answer}")
        refused(approve(s, aid, "alice", index=2), 409, "approval_decided")
        refused(deny(s, aid, "carol"), 409, "approval_decided")
        check(request_row(s, aid)["status"] == "denied", "request row not denied")
        check(s.pod_exists(NS, "denied") and deletions(s, NS, "denied") == 0 and not executions(s, aid),
              "a denied request ran")
        check(votes(s, aid) == ["bob:deny"], f"votes: {votes(s, aid)}")

    suite.case("deny: nothing runs, row denied; a later approve -> 409 approval_decided", denied)

    def expiry():
        asked = ask(s, BRIEF_NS, "brief", index=1)
        aid = asked["approvalId"]
        wait_until("the request to expire",
                   lambda: get(s, f"/executor/approvals/{aid}").json["status"] == "expired",
                   timeout=15, interval=0.25)
        check(request_row(s, aid)["status"] == "expired", "request row not expired")
        answer = approve(s, aid, "alice", index=2)
        check(answer.status == 409 and answer.json.get("code") in ("approval_decided", "approval_expired"),
              f"approve after expiry: {answer}")
        check(s.pod_exists(BRIEF_NS, "brief") and not executions(s, aid), "an expired request ran")

    suite.case("expiry: `expires: 2s`, sweeper every 1s -> expired (row too); a later approve -> 409", expiry)

    def replay():
        s.seed_pods(NS, ["replayed"])
        body = restart(s, NS, "replayed")
        aid = awaiting(s.execute(body, 0))["approvalId"]
        for i in range(EXECUTORS):
            refused(s.execute(body, i), 409, "replay")
        refused(s.execute(shared["approved_body"], 1), 409, "replay")
        count = s.sql("SELECT count(*) FROM approval_requests WHERE \"targetName\" = 'replayed'")
        check(count == "1", f"{count} approval requests for one decision")
        rows = [r for r in s.rows("\"targetName\" = 'replayed'") if r["status"] == "rejected"]
        check(len(rows) == EXECUTORS and all(r["reasonCode"] == "replay" for r in rows), f"replay rows: {rows}")
        check(s.pod_exists(NS, "replayed") and not executions(s, aid), "a replay ran")

    suite.case("replay: the same execute body again (every executor, and an approved one) -> 409 replay",
               replay)

    def grants():
        gns, other_ns = "granted", "elsewhere"
        aid = ask(s, gns, "g-1")["approvalId"]
        refused(approve(s, aid, "alice", body={"grant": {"scope": "namespace", "ttlSeconds": 7200}}),
                400, "invalid_json")  # over the rule's maxTtl of 1h
        answer = approve(s, aid, "alice", index=1, body={"comment": "let it handle the rest",
                                                        "grant": {"scope": "namespace", "ttlSeconds": 60}})
        check(answer.status == 200 and answer.json["execution"]["success"] is True, f"approve: {answer}")
        grant = answer.json["grant"]
        check(grant and grant["scope"] == "namespace" and grant["namespace"] == gns
              and grant["requestedBy"] == ENGINE and grant["grantedBy"] == "alice", f"grant: {grant}")
        ran_once(s, gns, "g-1", aid, ["alice"])

        s.seed_pods(gns, ["g-2", "g-3"])
        covered = s.execute(restart(s, gns, "g-2"), 2)
        check(covered.status == 200 and covered.json.get("success") is True
              and covered.json.get("grantId") == grant["id"], f"under the grant: {covered}")
        row = s.row(covered.json["auditId"])
        check(row["status"] == "succeeded" and row["grantId"] == grant["id"], f"grant run row: {row}")
        check(not s.pod_exists(gns, "g-2") and deletions(s, gns, "g-2") == 1, "g-2 not deleted once")
        check(s.sql("SELECT count(*) FROM approval_requests WHERE \"targetName\" = 'g-2'") == "0",
              "an approval request for a covered action")

        ask(s, other_ns, "e-1", index=1)  # another namespace
        ask(s, gns, "g-3", user=OTHER_CLIENT, secret=OTHER_SECRET, role="service")  # another requester
        s.seed_deployment(gns, "web", 2)  # another action
        scale = medium(s, "scale_deployment", f"{gns}/deployment/web")
        awaiting(s.execute(execute_body("scale_deployment", {"namespace": gns, "deploymentName": "web",
                                                             "replicas": 3}, ENGINE, scale, s.secret)))
        check(s.replicas(gns, "web") == 2, "the scale ran under a restart grant")
        # A deny decision carries no token: no grant makes it run, in a system namespace or
        # in the grant's own; nor does the grant's namespace's token carried elsewhere.
        seq = s.last_request_seq()
        for resource, severity in (("kube-system/pod/coredns-1", "medium"), (f"{gns}/pod/g-3", "low")):
            decision = s.evaluate("restart_pod", resource, severity=severity)
            check(decision["decision"] == "deny" and not decision.get("token"), f"not a deny: {decision}")
            ns, _, pod = resource.split("/")
            audit_id = refused(s.execute(restart(s, ns, pod, decision)), 403, "token_missing")["auditId"]
            check(s.row(audit_id)["status"] == "rejected", f"deny row: {s.row(audit_id)}")
        borrowed = medium(s, "restart_pod", f"{gns}/pod/g-3")
        refused(s.execute(restart(s, "kube-system", "coredns-1", borrowed)), 403, "token_binding")
        check(not [r for r in s.requests_since(seq) if r["method"] != "GET"], "the fake saw a mutation")
        check(s.pod_exists(gns, "g-3"), "g-3 is gone")

        active = get(s, "/executor/grants?active=true").json["grants"]
        check([g["id"] for g in active if g["id"] == grant["id"]] and all(g["active"] for g in active),
              f"active grants: {active}")
        revoked = http_request(f"{s.executor_url(1)}/executor/grants/{grant['id']}", "DELETE",
                               headers=bearer("bob"))
        check(revoked.status == 200 and revoked.json["active"] is False and revoked.json["revokedBy"] == "bob",
              f"revoke: {revoked}")
        refused(http_request(f"{s.executor_url(2)}/executor/grants/{grant['id']}", "DELETE",
                             headers=bearer("bob")), 409, "grant_inactive")
        check(grant["id"] not in [g["id"] for g in get(s, "/executor/grants?active=true").json["grants"]],
              "a revoked grant is listed as active")
        ask(s, gns, "g-3", index=2)  # revoked: asks again, on every executor
        check(s.pod_exists(gns, "g-3") and deletions(s, gns, "g-3") == 0, "g-3 was restarted")

    suite.case("grants: a namespace grant runs the next restart at once (200, grantId); other "
               "namespace, requester or action -> 202; deny stays 403; revoked -> 202", grants)

    def grant_ttl():
        ttl = 4
        aid = ask(s, "short", "t-1")["approvalId"]
        answer = approve(s, aid, "carol", body={"grant": {"scope": "namespace", "ttlSeconds": ttl}})
        check(answer.status == 200 and answer.json["grant"], f"approve: {answer}")
        began = time.monotonic()
        s.seed_pods("short", ["t-2", "t-3"])
        inside = s.execute(restart(s, "short", "t-2"), 1)
        check(time.monotonic() - began < ttl, "too slow to test the TTL")
        check(inside.status == 200 and inside.json.get("grantId") == answer.json["grant"]["id"],
              f"inside the TTL: {inside}")
        time.sleep(max(0.0, ttl + 1.0 - (time.monotonic() - began)))
        ask(s, "short", "t-3", index=2)

    suite.case("grants: a 4 s grant covers a restart at once, and nothing after it expires", grant_ttl)

    def webhooks():
        hooks.fail_first("hooked", 2)
        aid = ask(s, NS, "hooked", index=1)["approvalId"]
        created = wait_until("approval.created delivered", lambda: [
            p for p in hooks.about("hooked", "approval.created") if p["status"] == 200], timeout=20)
        posts = hooks.about("hooked", "approval.created")
        check([p["status"] for p in posts] == [500, 500, 200], f"attempts: {[p['status'] for p in posts]}")
        check(len({p["body"] for p in posts}) == 1, "the retries sent different bodies")
        message = created[0]["json"]
        check(message["approval"]["approvalId"] == aid and message["text"]
              and message["url"] == f"{PUBLIC_URL}/executor/approvals/{aid}"
              and created[0]["type"] == "application/json", f"created message: {message}")
        check(approve(s, aid, "alice", index=2).status == 200, "approve failed")
        approved = wait_until("approval.approved delivered", lambda: hooks.about("hooked", "approval.approved"),
                              timeout=20)
        message = approved[0]["json"]
        check(message["approval"]["decidedBy"] == ["alice"]
              and message["approval"]["executionStatus"] == "succeeded", f"approved message: {message}")
        # The other cases' requests were announced and decided too.
        for target, event in (("denied", "approval.denied"), ("brief", "approval.expired"),
                              ("approve-me", "approval.approved")):
            check(hooks.about(target, event), f"no {event} message about {target}")
        everything = hooks.all_posts()
        keys = [s.secret, OTHER_SECRET, *TOKENS.values(), *(hashlib.sha256(t.encode()).hexdigest()
                                                           for t in TOKENS.values())]
        for post in everything:
            check(isinstance(post["json"], dict) and post["json"].get("event", "").startswith("approval."),
                  f"not an approval message: {post['body'][:200]!r}")
            check(not any(k.encode() in post["body"] for k in keys), "a secret or token in a message")
            check(b"eyJ" not in post["body"], "a JWT in a message")
        def counted():
            # Each executor counts what it delivered: together, every 200 the receiver gave.
            delivered = metric(s, "warden_executor_approval_notifications_total")
            accepted = len([p for p in hooks.all_posts() if p["status"] == 200])
            return (delivered, accepted) if delivered == accepted else None

        delivered = wait_until("the delivery counter to match the receiver", counted, timeout=10)
        check(metric(s, "warden_executor_approval_notification_failures_total") == 0, "notifications given up")
        print(f"     {len(everything)} POSTs, {delivered[0]:.0f} messages delivered", flush=True)

    suite.case("webhooks: created (500, 500, 200) then approved; no secret in any message; "
               "notifications_total counts them", webhooks)

    def polling():
        aid = shared.get("pending_id") or ask(s, NS, "polled")["approvalId"]
        path = f"/executor/approvals/{aid}"
        own = get(s, path, who=None, index=1, headers=requester_headers(path, ENGINE, s.secret))
        check(own.status == 200 and own.json["id"] == aid and own.json["status"] == "pending", f"own: {own}")
        forged = requester_headers(path, ENGINE, secrets.token_hex(32))
        refused(get(s, path, who=None, headers=forged), 401, "bad_signature")
        stale = requester_headers(path, ENGINE, s.secret, ts=int(time.time()) - 600)
        refused(get(s, path, who=None, headers=stale), 401, "bad_signature")
        # A signature is for one path: one made for the list does not read a request.
        elsewhere = requester_headers("/executor/approvals", ENGINE, s.secret)
        refused(get(s, path, who=None, headers=elsewhere), 401, "bad_signature")
        # Another client signs correctly with its own secret, but the request is not its own.
        refused(get(s, path, who=None, headers=requester_headers(path, OTHER_CLIENT, OTHER_SECRET)),
                404, "approval_not_found")
        refused(get(s, path, who=None, headers=requester_headers(path, ENGINE, OTHER_SECRET)),
                401, "bad_signature")
        # Reading is all a requester may do.
        refused(get(s, "/executor/approvals", who=None,
                    headers=requester_headers("/executor/approvals", ENGINE, s.secret)), 401, "unauthenticated")
        refused(get(s, path, who=None), 401, "unauthenticated")
        check(votes(s, aid) == [], "a read voted")

    suite.case("requester polling: GET signed with the HMAC secret -> 200 own; forged, stale, "
               "another's -> 401/404", polling)

    suite.case("invariant: mutations == succeeded rows, approval rows are no mutations, one "
               "execution per approval, write-ahead, no retries",
               lambda: print(f"     {s.check_invariant()}"))


def main() -> int:
    hooks = Receiver().start()
    policy = suite_policy(harness.LOG_ROOT / "approvals.policy.yaml")
    operators = ",".join(f"{name}:{role}:{hashlib.sha256(TOKENS[name].encode()).hexdigest()}"
                         for name, role in OPERATORS.items())
    stack = Stack("approvals", executors=EXECUTORS, policy_file=policy, executor_env={
        "EXECUTOR_OPERATORS": operators,
        "EXECUTOR_CLIENT_SECRETS": f"{OTHER_CLIENT}={OTHER_SECRET}",
        "EXECUTOR_APPROVAL_WEBHOOK_URLS": hooks.url,
        "EXECUTOR_PUBLIC_URL": PUBLIC_URL,
        "EXECUTOR_WEBHOOK_RETRIES": "3",
        "EXECUTOR_WEBHOOK_TIMEOUT_SECONDS": "5",
        "EXECUTOR_APPROVAL_SWEEP_SECONDS": "1",
        "EXECUTOR_KUBE_TIMEOUT_SECONDS": "10",
    })
    try:
        return harness.main(Suite("approvals"), stack, lambda suite, s: cases(suite, s, hooks))
    finally:
        hooks.stop()


if __name__ == "__main__":
    sys.exit(main())
