"""Warden's system invariant, checked from outside against the fake cluster and the audit log.

Used by the system test suites (`tests/system/harness.py`), the Python example's end-to-end
test and `bench/executor-load`. What holds after every run:

- no audit row is left `pending`;
- the read-only actions (`READ_ACTIONS`) change nothing: their rows are left out of the
  comparison below, and none of them is `unknown`;
- target by target, every `succeeded` non-dry-run row of a write matches one mutation recorded by the
  fake, and every mutation matches a `succeeded` row, or an `unknown` row (an outcome the
  executor could not know: a timeout, or a crash it reconciled) when `allow_unknown`;
  without `allow_unknown` there are no `unknown` rows at all;
- every row whose target was mutated went `pending` first and then to its final status
  (checked only when the database records status history, as the system suites' trigger
  does in `system_test_status_history`);
- no target saw more mutating requests than started attempts (nothing was retried);
- human approvals: the audit row of an approval request (`awaiting_approval`, then
  `approved`, `denied` or `expired`) is not a mutation and never an attempt; an `approved`
  request has exactly one started execution row naming it (`approvalId`), any other has
  none, and no execution names a request that does not exist (checked when the database
  has the approval columns).

As a command (prints one summary line, or the problems and exits 1):

    invariant.py --database-url URL --fake-url URL [--allow-unknown] [--pending-timeout S]

Only the Python standard library and `psql` are used.
"""

from __future__ import annotations

import argparse
import collections
import http.client
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Optional
from urllib.parse import urlsplit

HISTORY_TABLE = "system_test_status_history"
KIND_OF_TARGET = {"pod": "Pod", "deployment": "Deployment", "statefulset": "StatefulSet"}
RESOURCE_KIND = {"pods": "Pod", "deployments": "Deployment", "statefulsets": "StatefulSet"}
MUTATING_METHODS = ("DELETE", "PATCH", "PUT", "POST")
# The statuses of an approval request's own audit row: it consumed a decision, but what it
# asks for runs (if ever) as a row of its own.
APPROVAL_STATUSES = ("awaiting_approval", "approved", "denied", "expired")
APPROVAL_FINAL = ("approved", "denied", "expired")
# Audited like every action, but they send no mutating request and leave no mutation.
READ_ACTIONS = ("get_pod_logs", "get_workload_status", "list_events")


def psql(url: str, sql: str, timeout: float = 60.0) -> str:
    done = subprocess.run(["psql", url, "-qAtX", "-v", "ON_ERROR_STOP=1", "-c", sql],
                          capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise AssertionError(f"psql failed: {done.stderr.strip()} (sql: {sql[:200]})")
    return done.stdout.strip()


def query_json(url: str, sql: str) -> list:
    """Rows of `sql` as a list of dicts (column names as written in the query)."""
    return json.loads(psql(url, f"SELECT coalesce(json_agg(q), '[]'::json) FROM ({sql}) AS q"))


def get_json(url: str, timeout: float = 30.0):
    """The JSON body of a GET of `url` (straight to the address: no proxy applies)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        conn.request("GET", parts.path or "/")
        answer = conn.getresponse()
        body = answer.read()
        if answer.status != 200:
            raise AssertionError(f"GET {url} answered {answer.status}: {body[:200]!r}")
        return json.loads(body)
    finally:
        conn.close()


AUDIT_COLUMNS = '''id::text, status, "reasonCode", "dryRun", "actionType", "requestedBy",
                   namespace, "targetKind", "targetName", "decisionId", error, "clientIp", "requestId"'''
# Added by the approvals migration; read as NULL from a database made before it.
APPROVAL_COLUMNS = '''"approvalId"::text, "grantId"::text, "approvedBy"'''
NO_APPROVAL_COLUMNS = '''NULL::text AS "approvalId", NULL::text AS "grantId", NULL::jsonb AS "approvedBy"'''


def has_approval_columns(db_url: str) -> bool:
    return psql(db_url, "SELECT count(*) FROM information_schema.columns WHERE table_name = "
                        "'action_audit_logs' AND column_name = 'approvalId'") != "0"


def audit_rows(db_url: str, where: str = "TRUE") -> list:
    extra = APPROVAL_COLUMNS if has_approval_columns(db_url) else NO_APPROVAL_COLUMNS
    return query_json(db_url, f'SELECT {AUDIT_COLUMNS}, {extra} FROM action_audit_logs '
                              f'WHERE {where} ORDER BY "createdAt", id')


def status_history(db_url: str) -> Optional[dict]:
    """Every status each audit row took, in order; None if the database records none."""
    if psql(db_url, f"SELECT to_regclass('{HISTORY_TABLE}') IS NOT NULL") != "t":
        return None
    out = collections.defaultdict(list)
    for entry in query_json(db_url, f"SELECT id::text, status FROM {HISTORY_TABLE} ORDER BY seq"):
        out[entry["id"]].append(entry["status"])
    return out


def request_target(path: str) -> tuple:
    """(namespace, Kind, name) of a Kubernetes API path at the fake."""
    parts = path.strip("/").split("/")
    try:
        at = parts.index("namespaces")
        ns, resource, name = parts[at + 1], parts[at + 2], parts[at + 3]
    except (ValueError, IndexError):
        return ("", "", path)
    return (ns, RESOURCE_KIND.get(resource, resource), name)


def row_target(row: dict) -> tuple:
    return (row["namespace"], KIND_OF_TARGET.get(row["targetKind"] or "", row["targetKind"]), row["targetName"])


@dataclass
class Evidence:
    """What the check looks at: audit rows, the fake's mutations and requests, and the
    status history (None when not recorded)."""

    rows: list
    mutations: list
    requests: list
    history: Optional[dict]


def gather(db_url: str, fake_url: str) -> Evidence:
    return Evidence(audit_rows(db_url), get_json(f"{fake_url}/_fake/mutations"),
                    get_json(f"{fake_url}/_fake/requests"), status_history(db_url))


def problems(evidence: Evidence, allow_unknown: bool = False) -> list:
    """Every way `evidence` breaks the invariant (see the module docs); empty if none."""
    found = []
    pending = [r["id"] for r in evidence.rows if r["status"] == "pending"]
    if pending:
        found.append(f"{len(pending)} pending audit rows: {pending[:5]}")
    unknown_reads = [r["id"] for r in evidence.rows
                     if r["actionType"] in READ_ACTIONS and r["status"] == "unknown"]
    if unknown_reads:
        found.append(f"{len(unknown_reads)} read rows with an unknown outcome: {unknown_reads[:5]}")
    mutated = collections.Counter((m["namespace"], m["kind"], m["name"]) for m in evidence.mutations)
    live = writes(evidence.rows)
    succeeded = collections.Counter(row_target(r) for r in live if r["status"] == "succeeded")
    unknown = collections.Counter(row_target(r) for r in live if r["status"] == "unknown")
    missing = succeeded - mutated
    if missing:
        found.append(f"succeeded rows without a mutation at the fake: {dict(missing)}")
    unexplained = mutated - succeeded
    if allow_unknown:
        unexplained -= unknown
    if unexplained:
        found.append(f"mutations without a succeeded{' or unknown' if allow_unknown else ''} row: "
                     f"{dict(unexplained)}")
    if not allow_unknown and unknown:
        found.append(f"{sum(unknown.values())} unknown rows where none are allowed")
    by_target = collections.defaultdict(list)
    for r in live:
        by_target[row_target(r)].append(r)
    for target in mutated:
        started = [r for r in by_target.get(target, []) if is_attempt(r)]
        if not started:
            found.append(f"mutated {target} has no started audit row")
        if evidence.history is None:
            continue
        # Write-ahead: every row of a mutated target went pending, then final.
        for r in started:
            trail = evidence.history.get(r["id"], [])
            if len(trail) != 2 or trail[0] != "pending" or trail[1] == "pending":
                found.append(f"row {r['id']} of mutated {target} has status history {trail}")
    # No retries: mutating requests per target <= started attempts for that target.
    mutating = collections.Counter(request_target(q["path"]) for q in evidence.requests
                                   if q["method"] in MUTATING_METHODS and not q["dryRun"])
    for target, count in mutating.items():
        started = len([r for r in by_target.get(target, []) if is_attempt(r)])
        if count > started:
            found.append(f"{target}: {count} mutating requests for {started} started attempts")
    found.extend(approval_problems(evidence))
    return found


def is_attempt(row: dict) -> bool:
    """Whether `row` started an action: not refused, and not an approval request's row."""
    return row["status"] != "rejected" and row["status"] not in APPROVAL_STATUSES


def approval_problems(evidence: Evidence) -> list:
    """Approval requests against their executions (see the module docs)."""
    found = []
    requests = {r["approvalId"]: r for r in evidence.rows
                if r["status"] in APPROVAL_STATUSES and r.get("approvalId")}
    unnamed = [r["id"] for r in evidence.rows if r["status"] in APPROVAL_STATUSES and not r.get("approvalId")]
    if unnamed:
        found.append(f"approval request rows without an approvalId: {unnamed[:5]}")
    executions = collections.defaultdict(list)
    for r in evidence.rows:
        if r.get("approvalId") and is_attempt(r):
            executions[r["approvalId"]].append(r)
    for approval_id, runs in executions.items():
        if approval_id not in requests:
            found.append(f"execution rows {[r['id'] for r in runs]} name no approval request {approval_id}")
    for approval_id, request in requests.items():
        runs = executions.get(approval_id, [])
        if request["status"] == "approved" and len(runs) != 1:
            found.append(f"approved request {approval_id} has {len(runs)} executions")
        elif request["status"] != "approved" and runs:
            found.append(f"{request['status']} request {approval_id} has executions {[r['id'] for r in runs]}")
        for r in runs:
            if r["decisionId"] != f"approval:{approval_id}":
                found.append(f"execution {r['id']} of {approval_id} has decisionId {r['decisionId']!r}")
        if evidence.history is not None:
            trail = evidence.history.get(request["id"], [])
            final_ok = len(trail) == 2 and trail[1] in APPROVAL_FINAL
            if trail[:1] != ["awaiting_approval"] or not (len(trail) == 1 or final_ok):
                found.append(f"approval request row {request['id']} has status history {trail}")
    return found


def writes(rows: list) -> list:
    """The non-dry-run rows of actions that may change the cluster (not the reads, and not
    the declarative HTTP actions, whose target is a URL outside the cluster)."""
    return [r for r in rows if not r["dryRun"] and r["actionType"] not in READ_ACTIONS
            and r["targetKind"] != "url"]


def summary(evidence: Evidence, allow_unknown: bool = False) -> str:
    mutated = collections.Counter((m["namespace"], m["kind"], m["name"]) for m in evidence.mutations)
    live = writes(evidence.rows)
    succeeded = collections.Counter(row_target(r) for r in live if r["status"] == "succeeded")
    unknown = sum(1 for r in live if r["status"] == "unknown")
    explained = (f" + {sum((mutated - succeeded).values())} of {unknown} unknown"
                 if allow_unknown and unknown else "")
    approvals = collections.Counter(r["status"] for r in evidence.rows if r["status"] in APPROVAL_STATUSES)
    asked = (f", {sum(approvals.values())} approval requests ("
             + ", ".join(f"{approvals[s]} {s}" for s in APPROVAL_STATUSES if approvals[s]) + ")"
             if approvals else "")
    return (f"{len(evidence.mutations)} mutations = {sum(succeeded.values())} succeeded{explained}"
            f" non-dry-run write rows, 0 pending, {len(evidence.rows)} rows{asked}")


def wait_no_pending(db_url: str, timeout: float) -> None:
    """Waits up to `timeout` seconds for the executor to settle its pending rows (checked
    once more by `problems`)."""
    deadline = time.monotonic() + timeout
    while psql(db_url, "SELECT count(*) FROM action_audit_logs WHERE status = 'pending'") != "0":
        if time.monotonic() >= deadline:
            return
        time.sleep(0.25)


def check(db_url: str, fake_url: str, allow_unknown: bool = False, pending_timeout: float = 20.0) -> str:
    """Checks the invariant; raises AssertionError naming every problem, else returns a
    one-line summary."""
    wait_no_pending(db_url, pending_timeout)
    evidence = gather(db_url, fake_url)
    found = problems(evidence, allow_unknown)
    if found:
        raise AssertionError("invariant broken:\n     " + "\n     ".join(found))
    return summary(evidence, allow_unknown)


def main(argv: list) -> int:
    parser = argparse.ArgumentParser(prog="invariant.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--fake-url", required=True)
    parser.add_argument("--allow-unknown", action="store_true")
    parser.add_argument("--pending-timeout", type=float, default=20.0)
    args = parser.parse_args(argv)
    try:
        print(f"invariant: {check(args.database_url, args.fake_url, args.allow_unknown, args.pending_timeout)}")
    except AssertionError as err:
        print(err, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
