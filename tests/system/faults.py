"""Fault suite: Postgres stopped under load, the executor killed with SIGKILL mid-run, and a
Kubernetes API server that answers 500, 503, 504 or too late.

What must hold through all of it: nothing reaches the cluster without a `pending` audit row
written first and a final status after; a refused request (503 while the audit store is
down) leaves the cluster untouched; the executor recovers by itself; no failed call is
retried into a second action; no row stays `pending` (rows a crash interrupted are
reconciled to `unknown`/`interrupted`, which with EXECUTOR_KUBE_TIMEOUT_SECONDS=1 happens
for rows older than 63 s, at start-up and every 60 s).

Postgres is stopped with `pg_ctlcluster ... stop -m immediate` and always started again,
whatever happens (finally, atexit, SIGTERM/SIGINT).

    python3 tests/system/faults.py      # after building the binaries (tests/system/run)
"""

from __future__ import annotations

import collections
import signal
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402
from harness import (  # noqa: E402
    Outcome, Postgres, Stack, Suite, check, http_request, send_outcome, summarize, wait_until,
)

KUBE_TIMEOUT = 1  # seconds: interrupted rows are reconciled once older than 3 * 1 + 60 s
RECONCILE_AFTER = 3 * KUBE_TIMEOUT + 60
NS = "default"


class Load:
    """Sends prepared bodies from `workers` threads, `pause` seconds apart per worker."""

    def __init__(self, stack: Stack, bodies: list, workers: int = 4, pause: float = 0.0):
        self.stack = stack
        self.bodies = list(bodies)
        self.pause = pause
        self.outcomes: list[Outcome] = []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._work, daemon=True) for _ in range(workers)]

    def _work(self) -> None:
        while True:
            with self.lock:
                if not self.bodies:
                    return
                tag, body = self.bodies.pop(0)
            outcome = send_outcome(f"{self.stack.executor}/executor/execute", body, tag, timeout=20)
            with self.lock:
                self.outcomes.append(outcome)
            if self.pause:
                time.sleep(self.pause)

    def start(self) -> "Load":
        for t in self.threads:
            t.start()
        return self

    def done(self) -> int:
        with self.lock:
            return len(self.outcomes)

    def join(self, timeout: float = 120) -> list:
        deadline = time.monotonic() + timeout
        for t in self.threads:
            t.join(max(0.1, deadline - time.monotonic()))
        check(not any(t.is_alive() for t in self.threads), "the load did not finish")
        return self.outcomes


def prepare(stack: Stack, prefix: str, count: int) -> list:
    """Seeds `count` pods and returns (pod, signed body) pairs with fresh decisions."""
    names = [f"{prefix}-{i}" for i in range(count)]
    stack.seed_pods(NS, names)
    return [(name, stack.restart_body(NS, name)) for name in names]


def recovered(stack: Stack, name: str, timeout: float = 30) -> None:
    """The executor serves a normal request again (within `timeout`, without help)."""
    stack.seed_pods(NS, [name])
    body = stack.restart_body(NS, name)

    def ok():
        answer = stack.execute(body, timeout=10)
        if answer.status == 503:
            return None  # nothing ran; the same decision may be sent again
        check(answer.status == 200, f"after recovery: {answer}")
        return answer

    answer = wait_until("the executor to serve requests again", ok, timeout, 0.5)
    check(stack.wait_final(answer.json["auditId"])["status"] == "succeeded", "recovery row not succeeded")
    check(not stack.pod_exists(NS, name), f"{name} still exists")


def target_rows(stack: Stack, names: list) -> dict:
    rows = collections.defaultdict(list)
    quoted = ",".join(f"'{n}'" for n in names)
    for row in stack.rows(f'"targetName" IN ({quoted})'):
        rows[row["targetName"]].append(row)
    return rows


def deletes_of(stack: Stack, name: str) -> list:
    return [r for r in stack.fake_requests() if r["method"] == "DELETE" and r["path"].endswith(f"/pods/{name}")]


def cases(suite: Suite, s: Stack) -> None:
    state: dict = {}

    # -- Postgres stops under load ------------------------------------------------------------

    def postgres_down():
        work = prepare(s, "pg", 160)
        load = Load(s, work, workers=4, pause=0.1).start()
        wait_until("40 requests answered before the fault", lambda: load.done() >= 40, 30, 0.02)
        Postgres.stop()
        stopped = time.monotonic()
        # Counted once Postgres is down: while the stop command runs the store still
        # answers, and requests then may complete normally.
        mutations_at_stop = len(s.mutations())
        try:
            time.sleep(3)
            # While the store is down, nothing new reaches the cluster (calls already past
            # their pending row may still land: at most one per worker).
            during = len(s.mutations()) - mutations_at_stop
            check(during <= 4, f"{during} mutations while the audit store was down")
        finally:
            Postgres.start()
        print(f"     Postgres was down {time.monotonic() - stopped:.1f}s", flush=True)
        outcomes = load.join()
        print(f"     answers: {summarize(outcomes)}", flush=True)
        check(all(o.status in (200, 503) for o in outcomes), f"unexpected answers: {summarize(outcomes)}")
        refused = [o for o in outcomes if o.status == 503]
        check(refused and all(o.code == "store_unavailable" for o in refused),
              "no 503 store_unavailable: the fault was not hit")
        check(any(o.status == 200 for o in outcomes[-20:]), "no success after Postgres came back")
        recovered(s, "pg-recovered")
        rows = target_rows(s, [o.tag for o in outcomes])
        for o in refused:
            check(s.pod_exists(NS, o.tag), f"{o.tag} was answered 503 but is gone")
            for row in rows.get(o.tag, []):
                check(row["status"] in ("rejected", "pending", "unknown"),
                      f"{o.tag} was answered 503 but its row is {row['status']}")
        for o in outcomes:
            if o.status == 200:
                row = s.wait_final(o.audit_id, timeout=60)  # finish is retried in the background
                check(row["status"] == "succeeded", f"{o.tag}: answered 200, row {row['status']}")
                check(not s.pod_exists(NS, o.tag), f"{o.tag}: answered 200 but still exists")
        ready = http_request(f"{s.executor}/readyz")
        check(ready.status == 200, f"/readyz after recovery: {ready}")

    suite.case("postgres: stopped for 3s under load -> 503s touch nothing, every 200 audited, recovers",
               postgres_down)

    # -- the executor is killed mid-run --------------------------------------------------------

    def kill_executor():
        work = prepare(s, "kill", 60)
        bodies = dict(work)
        # Each delete takes 0.5 s at the API server, so some are in flight at the kill. The
        # fake finishes them after the executor is gone, as a real API server would.
        s.inject({"method": "DELETE", "pathContains": "/pods/kill-", "delayMs": 500})
        load = Load(s, work, workers=4).start()

        def in_flight():
            flying = [r for r in s.fake_requests()
                      if r["method"] == "DELETE" and "/pods/kill-" in r["path"] and r["status"] is None]
            return flying if len(flying) >= 2 and load.done() >= 4 else None

        flying = wait_until("deletes in flight", in_flight, 30, 0.02)
        s.executors[0].stop(signal.SIGKILL)
        killed = time.monotonic()
        state["killed"] = killed
        outcomes = load.join()
        print(f"     killed with {len(flying)} deletes in flight; answers: {summarize(outcomes)}", flush=True)
        lost = [o for o in outcomes if o.status == 0 and "Refused" not in (o.error or "")]
        check(lost, "no request lost its answer to the kill")
        time.sleep(max(0.0, 5 - (time.monotonic() - killed)))  # see the timing note in main()
        s.start_executor(0)
        state["restarted"] = time.monotonic()
        s.clear_faults()
        recovered(s, "kill-recovered")
        # A request whose answer was lost may have run: sending it again must not run it twice.
        replays = []
        for o in lost:
            again = s.execute(bodies[o.tag])
            check(again.status in (200, 409), f"{o.tag} sent again: {again}")
            if again.status == 409:
                check(again.json["code"] == "replay", f"{o.tag}: {again}")
            replays.append(again.status)
        check(409 in replays, f"no interrupted decision was consumed: {replays}")
        wait_until("the delayed deletes to land", lambda: all(
            r["status"] is not None for r in s.fake_requests() if r["method"] == "DELETE"), 10)
        for o in lost:
            check(len(deletes_of(s, o.tag)) <= 1, f"{o.tag} was deleted more than once")
        pending = s.rows("status = 'pending'")
        state["interrupted"] = [r["id"] for r in pending]
        print(f"     {len(pending)} rows left pending by the kill (reconciled later)", flush=True)
        check(pending, "the kill left no pending row: nothing was interrupted")

    suite.case("kill -9: executor killed with deletes in flight -> restarts, no action twice", kill_executor)

    # -- the Kubernetes API server fails -------------------------------------------------------

    def failing(prefix: str, fault: dict, status: int, code: str, row_status: str, gone: bool):
        def run():
            names = [f"{prefix}-{i}" for i in range(3)]
            s.seed_pods(NS, names)
            s.inject({"method": "DELETE", "pathContains": f"/pods/{prefix}-", **fault})
            try:
                for name in names:
                    answer = s.execute(s.restart_body(NS, name), timeout=20)
                    check(answer.status == status and answer.json.get("code") == code,
                          f"{name}: expected {status} {code}, got {answer}")
                    row = s.wait_final(answer.json["auditId"])
                    check(row["status"] == row_status and row["reasonCode"] == code,
                          f"{name}: row {row['status']}/{row['reasonCode']}, expected {row_status}/{code}")
                if fault.get("delayMs"):
                    time.sleep(fault["delayMs"] / 1000 + 0.5)  # the late writes land
                for name in names:
                    check(len(deletes_of(s, name)) == 1, f"{name}: {len(deletes_of(s, name))} DELETEs (a retry?)")
                    check(s.pod_exists(NS, name) != gone, f"{name}: exists={not gone} expected")
            finally:
                s.clear_faults()
        return run

    suite.case("kube 500 -> 502 kube_error, row failed, one DELETE, pod untouched",
               failing("k500", {"status": 500}, 502, "kube_error", "failed", False))
    suite.case("kube 503 + Retry-After -> 503 kube_unavailable, row failed, not retried",
               failing("k503", {"status": 503, "retryAfterSeconds": 1}, 503, "kube_unavailable", "failed", False))
    suite.case("kube 429 on delete -> 429 kube_too_many_requests, row failed, not retried",
               failing("k429", {"status": 429, "retryAfterSeconds": 1}, 429, "kube_too_many_requests", "failed",
                       False))
    suite.case("kube 504 after the write landed -> 504 kube_timeout, row unknown, one DELETE",
               failing("k504", {"status": 504, "applyMutation": True}, 504, "kube_timeout", "unknown", True))
    suite.case(f"kube answers after 2.5s (deadline {KUBE_TIMEOUT}s) -> 504 kube_timeout, row unknown, "
               "one DELETE", failing("kslow", {"delayMs": 2500}, 504, "kube_timeout", "unknown", True))

    def scale_500():
        s.seed_deployment(NS, "fault-deploy", 2)
        s.inject({"method": "PATCH", "pathContains": "/deployments/fault-deploy/scale", "status": 500})
        try:
            decision = s.allowed("scale_deployment", f"{NS}/deployment/fault-deploy")
            params = {"namespace": NS, "deploymentName": "fault-deploy", "replicas": 4}
            body = harness.execute_body("scale_deployment", params, harness.ENGINE, decision, s.secret)
            answer = s.execute(body)
            check(answer.status == 502 and answer.json["code"] == "kube_error", f"{answer}")
            row = s.wait_final(answer.json["auditId"])
            check(row["status"] == "failed", f"row {row['status']}")
            patches = [r for r in s.fake_requests() if r["method"] == "PATCH" and "fault-deploy" in r["path"]]
            check(len(patches) == 1, f"{len(patches)} PATCHes")
            check(s.replicas(NS, "fault-deploy") == 2, "replicas changed")
        finally:
            s.clear_faults()

    suite.case("kube 500 on a scale PATCH -> 502, row failed, one PATCH, replicas unchanged", scale_500)
    suite.case("recovery: faults cleared -> a restart runs", lambda: recovered(s, "faults-recovered"))

    # -- nothing stays pending -----------------------------------------------------------------

    def reconciled():
        check("restarted" in state, "the kill case did not run")
        deadline = state["restarted"] + 60 + 20  # the executor's first housekeeping tick + slack
        remaining = deadline - time.monotonic()
        print(f"     waiting up to {remaining:.0f}s for the restarted executor to reconcile "
              f"rows older than {RECONCILE_AFTER}s", flush=True)
        wait_until("interrupted rows to be reconciled", lambda: s.sql(
            "SELECT count(*) FROM action_audit_logs WHERE status = 'pending'") == "0", max(remaining, 1), 1)
        ids = ",".join(f"'{i}'" for i in state["interrupted"])
        rows = s.rows(f"id IN ({ids})")
        check(all(r["status"] == "unknown" and r["reasonCode"] == "interrupted" for r in rows),
              f"interrupted rows: {[(r['status'], r['reasonCode']) for r in rows]}")

    suite.case("reconcile: rows the kill left pending become unknown/interrupted, none pending", reconciled)

    suite.case("invariant: every mutation has a pending-then-final row (succeeded, or unknown), no retries",
               lambda: print(f"     {s.check_invariant(allow_unknown=True)}"))


def main() -> int:
    Postgres.guard()
    # Timing: the restarted executor reconciles at start-up and then every 60 s rows older
    # than 63 s; the kill case restarts it 5 s after the kill, so its first periodic pass
    # (60 s later) already finds the interrupted rows old enough. The Postgres case runs
    # first so that whatever it leaves is old enough by then too.
    stack = Stack("faults", executor_env={
        "EXECUTOR_KUBE_TIMEOUT_SECONDS": str(KUBE_TIMEOUT),
        "EXECUTOR_REQUEST_TIMEOUT_SECONDS": "15",
    }, policy_env={"DECISION_TTL_SECONDS": "600"})
    try:
        return harness.main(Suite("faults"), stack, cases)
    finally:
        Postgres.ensure_running()


if __name__ == "__main__":
    sys.exit(main())
