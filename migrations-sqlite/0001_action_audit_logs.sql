-- The embedded (SQLite) audit store: the same table, columns and rules as the Postgres
-- store in migrations/, for `cargo run` and single-node trials. Differences are only of
-- type: uuids are text, JSON is text (valid JSON, checked), booleans are 0/1, and times are
-- fixed-width UTC text ('2026-01-02T03:04:05.123456Z'), so text order is time order.
--
-- The runbook query works as written apart from the time arithmetic, which SQLite spells
-- differently:
--   SELECT * FROM action_audit_logs
--   WHERE "requestedBy" = 'ai-engine'
--     AND "createdAt" > strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-1 hour')
--   ORDER BY "createdAt" DESC;
CREATE TABLE action_audit_logs (
    "id"             TEXT    PRIMARY KEY NOT NULL,
    "actionType"     TEXT,
    "actionParams"   TEXT    CHECK ("actionParams" IS NULL OR json_valid("actionParams")),
    "requestedBy"    TEXT,
    "decisionId"     TEXT,
    "policyVersion"  TEXT,
    "policyDecision" TEXT    CHECK ("policyDecision" IS NULL OR json_valid("policyDecision")),
    "status"         TEXT    NOT NULL
        CONSTRAINT action_audit_logs_status_check
        CHECK ("status" IN ('pending', 'succeeded', 'failed', 'rejected', 'unknown')),
    "reasonCode"     TEXT,
    "error"          TEXT,
    "result"         TEXT    CHECK ("result" IS NULL OR json_valid("result")),
    "dryRun"         INTEGER NOT NULL CHECK ("dryRun" IN (0, 1)),
    "clientIp"       TEXT,
    "requestId"      TEXT,
    "signatureForm"  TEXT,
    "namespace"      TEXT,
    "targetKind"     TEXT,
    "targetName"     TEXT,
    "budgetKey"      TEXT,
    "durationMs"     INTEGER,
    "createdAt"      TEXT    NOT NULL,
    "updatedAt"      TEXT    NOT NULL
);

-- Single use of a policy decision, exactly as on Postgres: the insert of the pending row is
-- the consumption; refusals and dry runs do not consume.
CREATE UNIQUE INDEX action_audit_logs_decision_once
    ON action_audit_logs ("decisionId")
    WHERE "status" <> 'rejected' AND NOT "dryRun";

CREATE INDEX action_audit_logs_requested_by_created_at
    ON action_audit_logs ("requestedBy", "createdAt" DESC);
CREATE INDEX action_audit_logs_created_at
    ON action_audit_logs ("createdAt" DESC, "id" DESC);
CREATE INDEX action_audit_logs_namespace_created_at
    ON action_audit_logs ("namespace", "createdAt" DESC);
CREATE INDEX action_audit_logs_action_type_created_at
    ON action_audit_logs ("actionType", "createdAt" DESC);
CREATE INDEX action_audit_logs_pending
    ON action_audit_logs ("createdAt")
    WHERE "status" = 'pending';

-- Rate budgets: one row per executed (non-dry-run) attempt that took a slot of a budget.
-- SQLite has one writer at a time, so `begin` counts the uses of the last ttl inside a
-- write transaction (BEGIN IMMEDIATE) and inserts its own: exact across the processes
-- sharing the file, without the slot rows the Postgres store needs for concurrency.
CREATE TABLE budget_uses (
    "budgetKey" TEXT NOT NULL,
    "usedAt"    TEXT NOT NULL,
    "auditId"   TEXT NOT NULL
);
CREATE INDEX budget_uses_key_used_at ON budget_uses ("budgetKey", "usedAt");
