-- Human approvals, as on Postgres (migrations/0003_approvals.sql explains the model): new
-- audit statuses and columns, the requests, their votes and the session grants.
--
-- SQLite cannot change a CHECK constraint in place, so the audit table is rebuilt with the
-- new status list and columns, its rows copied and its indexes recreated.
CREATE TABLE action_audit_logs_v2 (
    "id"             TEXT    PRIMARY KEY NOT NULL,
    "actionType"     TEXT,
    "actionParams"   TEXT    CHECK ("actionParams" IS NULL OR json_valid("actionParams")),
    "requestedBy"    TEXT,
    "decisionId"     TEXT,
    "policyVersion"  TEXT,
    "policyDecision" TEXT    CHECK ("policyDecision" IS NULL OR json_valid("policyDecision")),
    "status"         TEXT    NOT NULL
        CONSTRAINT action_audit_logs_status_check
        CHECK ("status" IN ('pending', 'succeeded', 'failed', 'rejected', 'unknown',
                            'awaiting_approval', 'approved', 'denied', 'expired')),
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
    "updatedAt"      TEXT    NOT NULL,
    "approvalId"     TEXT,
    "grantId"        TEXT,
    "approvedBy"     TEXT    CHECK ("approvedBy" IS NULL OR json_valid("approvedBy"))
);

INSERT INTO action_audit_logs_v2 ("id", "actionType", "actionParams", "requestedBy", "decisionId", "policyVersion", "policyDecision", "status", "reasonCode", "error", "result", "dryRun", "clientIp", "requestId", "signatureForm", "namespace", "targetKind", "targetName", "budgetKey", "durationMs", "createdAt", "updatedAt")
SELECT "id", "actionType", "actionParams", "requestedBy", "decisionId", "policyVersion", "policyDecision", "status", "reasonCode", "error", "result", "dryRun", "clientIp", "requestId", "signatureForm", "namespace", "targetKind", "targetName", "budgetKey", "durationMs", "createdAt", "updatedAt" FROM action_audit_logs;

DROP TABLE action_audit_logs;
ALTER TABLE action_audit_logs_v2 RENAME TO action_audit_logs;

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
CREATE INDEX action_audit_logs_approval ON action_audit_logs ("approvalId")
    WHERE "approvalId" IS NOT NULL;

CREATE TABLE approval_requests (
    "id"              TEXT    PRIMARY KEY NOT NULL,
    "status"          TEXT    NOT NULL
        CHECK ("status" IN ('pending', 'approved', 'denied', 'expired')),
    "auditId"         TEXT    NOT NULL,
    "actionType"      TEXT    NOT NULL,
    "actionParams"    TEXT    NOT NULL CHECK (json_valid("actionParams")),
    "requestedBy"     TEXT    NOT NULL,
    "namespace"       TEXT    NOT NULL,
    "targetKind"      TEXT    NOT NULL,
    "targetName"      TEXT    NOT NULL,
    "actionDigest"    TEXT    NOT NULL,
    "decisionId"      TEXT    NOT NULL,
    "policyVersion"   TEXT    NOT NULL,
    "rule"            TEXT    NOT NULL,
    "reason"          TEXT,
    "approversNeeded" INTEGER NOT NULL CHECK ("approversNeeded" BETWEEN 1 AND 10),
    "roles"           TEXT    NOT NULL CHECK (json_valid("roles")),
    "session"         TEXT    CHECK ("session" IS NULL OR json_valid("session")),
    "dryRun"          INTEGER NOT NULL CHECK ("dryRun" IN (0, 1)),
    "createdAt"       TEXT    NOT NULL,
    "expiresAt"       TEXT    NOT NULL,
    "decidedAt"       TEXT,
    "executionId"     TEXT,
    "grantId"         TEXT
);
CREATE INDEX approval_requests_created_at ON approval_requests ("createdAt" DESC, "id" DESC);
CREATE INDEX approval_requests_pending ON approval_requests ("expiresAt") WHERE "status" = 'pending';

CREATE TABLE approval_votes (
    "approvalId" TEXT NOT NULL REFERENCES approval_requests ("id"),
    "approver"   TEXT NOT NULL,
    "vote"       TEXT NOT NULL CHECK ("vote" IN ('approve', 'deny')),
    "comment"    TEXT,
    "method"     TEXT NOT NULL,
    "createdAt"  TEXT NOT NULL,
    PRIMARY KEY ("approvalId", "approver")
);

CREATE TABLE approval_grants (
    "id"          TEXT PRIMARY KEY NOT NULL,
    "approvalId"  TEXT NOT NULL REFERENCES approval_requests ("id"),
    "requestedBy" TEXT NOT NULL,
    "actionType"  TEXT NOT NULL,
    "scope"       TEXT NOT NULL CHECK ("scope" IN ('object', 'kind', 'namespace')),
    "namespace"   TEXT NOT NULL,
    "targetKind"  TEXT,
    "targetName"  TEXT,
    "grantedBy"   TEXT NOT NULL,
    "description" TEXT NOT NULL,
    "createdAt"   TEXT NOT NULL,
    "expiresAt"   TEXT NOT NULL,
    "revokedAt"   TEXT,
    "revokedBy"   TEXT
);
CREATE INDEX approval_grants_lookup
    ON approval_grants ("requestedBy", "actionType", "namespace", "expiresAt")
    WHERE "revokedAt" IS NULL;
