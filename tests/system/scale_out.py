"""Scale-out suite: three executor processes on one Postgres.

- 300 signed, allowed restarts of 300 different pods, sent at once and spread over the
  three executors, against a restart budget of 5 (RATE_LIMIT_RESTART_MAX=5): exactly 5
  run, 295 are refused 429 `budget_exhausted` (with Retry-After) and audited, and exactly
  5 pods are deleted.
- 100 copies of one decision (a scale, whose budget is separate) sent at once over the
  three executors from 100 connections: exactly one runs; 99 are 409 `replay` naming it.

    python3 tests/system/scale_out.py      # after building the binaries (tests/system/run)
"""

from __future__ import annotations

import collections
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402
from harness import ENGINE, Stack, Suite, check, execute_body, race, send_outcome, summarize  # noqa: E402

EXECUTORS = 3
BUDGET = 5
RACERS = 300
REPLAYS = 100
NS = "default"


def cases(suite: Suite, s: Stack) -> None:
    def budget_race():
        names = [f"race-{i}" for i in range(RACERS)]
        s.seed_pods(NS, names)
        bodies = [(name, s.restart_body(NS, name)) for name in names]  # 300 distinct decisions
        jobs = [lambda i=i, name=name, body=body: send_outcome(
            f"{s.executor_url(i % EXECUTORS)}/executor/execute", body, name) for i, (name, body) in enumerate(bodies)]
        outcomes = race(jobs, 30)
        print(f"     answers: {summarize(outcomes)}", flush=True)
        ran = [o for o in outcomes if o.status == 200]
        over = [o for o in outcomes if o.status == 429 and o.code == "budget_exhausted"]
        check(len(ran) == BUDGET, f"{len(ran)} executions for a budget of {BUDGET}")
        check(len(over) == RACERS - BUDGET, f"answers: {summarize(outcomes)}")
        check(all(o.retry_after and int(o.retry_after) >= 1 for o in over), "a 429 without Retry-After")
        by_executor = collections.Counter(names.index(o.tag) % EXECUTORS for o in outcomes)
        check(len(by_executor) == EXECUTORS, f"requests did not reach every executor: {by_executor}")
        deleted = [n for n in names if not s.pod_exists(NS, n)]
        check(sorted(deleted) == sorted(o.tag for o in ran), f"deleted {deleted}, ran {[o.tag for o in ran]}")
        rows = s.rows("\"actionType\" = 'restart_pod'")
        statuses = collections.Counter((r["status"], r["reasonCode"]) for r in rows)
        check(statuses == {("succeeded", None): BUDGET, ("rejected", "budget_exhausted"): RACERS - BUDGET},
              f"audit rows: {dict(statuses)}")
        slots = s.sql("SELECT count(*) FROM budget_slots WHERE \"budgetKey\" = 'restart' "
                      "AND \"usedAt\" > now() - interval '1 hour'")
        check(slots == str(BUDGET), f"{slots} budget slots used")

    suite.case(f"budget: {RACERS} racing restarts over {EXECUTORS} executors, budget {BUDGET} "
               f"-> exactly {BUDGET} run", budget_race)

    def spread_replays():
        s.seed_deployment(NS, "replayed", 2)
        decision = s.allowed("scale_deployment", f"{NS}/deployment/replayed")
        params = {"namespace": NS, "deploymentName": "replayed", "replicas": 3}
        body = execute_body("scale_deployment", params, ENGINE, decision, s.secret)
        jobs = [lambda i=i: send_outcome(f"{s.executor_url(i % EXECUTORS)}/executor/execute", body, i)
                for i in range(REPLAYS)]
        outcomes = race(jobs, REPLAYS)  # one thread, one connection each
        print(f"     answers: {summarize(outcomes)}", flush=True)
        ran = [o for o in outcomes if o.status == 200]
        replays = [o for o in outcomes if o.status == 409 and o.code == "replay"]
        check(len(ran) == 1 and len(replays) == REPLAYS - 1, f"answers: {summarize(outcomes)}")
        check(all(o.audit_id == ran[0].audit_id for o in replays), "a replay names another attempt")
        check(s.replicas(NS, "replayed") == 3, "replicas not 3")
        scales = [m for m in s.mutations() if m["name"] == "replayed"]
        check(len(scales) == 1, f"{len(scales)} scale mutations")
        rows = s.rows(f"\"decisionId\" = '{s.row(ran[0].audit_id)['decisionId']}'")
        statuses = collections.Counter((r["status"], r["reasonCode"]) for r in rows)
        check(statuses == {("succeeded", None): 1, ("rejected", "replay"): REPLAYS - 1}, f"rows: {dict(statuses)}")

    suite.case(f"replay: {REPLAYS} copies of one decision over {EXECUTORS} executors -> exactly one runs",
               spread_replays)

    suite.case("invariant: mutations == succeeded rows, nothing pending, write-ahead, no retries",
               lambda: print(f"     {s.check_invariant()}"))


def main() -> int:
    stack = Stack("scale-out", executors=EXECUTORS, executor_env={
        "RATE_LIMIT_RESTART_MAX": str(BUDGET),
        "RATE_LIMIT_RESTART_TTL": "300",
        "EXECUTOR_KUBE_TIMEOUT_SECONDS": "10",
    })
    return harness.main(Suite("scale-out"), stack, cases)


if __name__ == "__main__":
    sys.exit(main())
