-- The audit log: one row per execute attempt, written BEFORE the cluster is touched.
--
-- Columns are quoted camelCase because the operators' runbook queries them as written, e.g.
--   SELECT * FROM action_audit_logs
--   WHERE "requestedBy" = 'ai-engine' AND "createdAt" > NOW() - INTERVAL '1 hour'
--   ORDER BY "createdAt" DESC;
-- Everything a malformed request may lack is nullable: a refusal is audited too, with
-- whatever could be read from the request.
CREATE TABLE action_audit_logs (
    "id"             uuid        PRIMARY KEY,
    "actionType"     text,
    "actionParams"   jsonb,
    "requestedBy"    text,
    -- The decision token's jti: the single-use key (see action_audit_logs_decision_once).
    "decisionId"     text,
    "policyVersion"  text,
    -- The policy response as sent, without its token (a bearer credential).
    "policyDecision" jsonb,
    "status"         text        NOT NULL
        CONSTRAINT action_audit_logs_status_check
        CHECK ("status" IN ('pending', 'succeeded', 'failed', 'rejected', 'unknown')),
    -- Machine reason for refusals and failures (replay, budget_exhausted, interrupted, ...).
    "reasonCode"     text,
    "error"          text,
    "result"         jsonb,
    "dryRun"         boolean     NOT NULL,
    "clientIp"       text,
    "requestId"      text,
    "signatureForm"  text,
    "namespace"      text,
    "targetKind"     text,
    "targetName"     text,
    "budgetKey"      text,
    "durationMs"     bigint,
    -- clock_timestamp(), not now(): rows of one long transaction still get their own times,
    -- and the runbook orders by this column.
    "createdAt"      timestamptz NOT NULL DEFAULT clock_timestamp(),
    "updatedAt"      timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- Single use of a policy decision. The insert of the pending row IS the consumption: two
-- executors racing with one decision cannot both commit. Refusals never consume (a refused
-- attempt did nothing), and dry runs neither consume nor are blocked here (the executor
-- still treats a dry run of an already consumed decision as a replay, in the same statement
-- that inserts the row).
CREATE UNIQUE INDEX action_audit_logs_decision_once
    ON action_audit_logs ("decisionId")
    WHERE "status" <> 'rejected' AND NOT "dryRun";

-- The runbook query: one requester, newest first.
CREATE INDEX action_audit_logs_requested_by_created_at
    ON action_audit_logs ("requestedBy", "createdAt" DESC);

-- Time-ordered listing with keyset paging ("createdAt", "id") for the audit API and for
-- time-range queries without other filters.
CREATE INDEX action_audit_logs_created_at
    ON action_audit_logs ("createdAt" DESC, "id" DESC);

-- Audit API filters by namespace or action type, newest first.
CREATE INDEX action_audit_logs_namespace_created_at
    ON action_audit_logs ("namespace", "createdAt" DESC);
CREATE INDEX action_audit_logs_action_type_created_at
    ON action_audit_logs ("actionType", "createdAt" DESC);

-- Reconciliation of interrupted attempts scans only the (few) pending rows.
CREATE INDEX action_audit_logs_pending
    ON action_audit_logs ("createdAt")
    WHERE "status" = 'pending';
