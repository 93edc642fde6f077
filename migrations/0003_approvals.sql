-- Human approvals: a require_approval decision becomes an approval request that people
-- approve or deny; the last needed approval runs the action once, through the same
-- write-ahead path as any execute (budget slot, pending row, cluster call, final row).
--
-- The audit row of the request itself (status awaiting_approval) consumes the decision like
-- a pending row does, and ends as approved, denied or expired. The execution is a row of its
-- own, with "approvalId" naming the request, "approvedBy" the people, and the single-use key
-- 'approval:<request id>' as its "decisionId": one request can start at most one execution,
-- whatever the number of executors. A run covered by a session grant names it in "grantId".
ALTER TABLE action_audit_logs DROP CONSTRAINT action_audit_logs_status_check;
ALTER TABLE action_audit_logs ADD CONSTRAINT action_audit_logs_status_check
    CHECK ("status" IN ('pending', 'succeeded', 'failed', 'rejected', 'unknown',
                        'awaiting_approval', 'approved', 'denied', 'expired'));
ALTER TABLE action_audit_logs ADD COLUMN "approvalId" uuid;
ALTER TABLE action_audit_logs ADD COLUMN "grantId" uuid;
-- The approvers' names, a JSON array, on the execution row.
ALTER TABLE action_audit_logs ADD COLUMN "approvedBy" jsonb;

CREATE INDEX action_audit_logs_approval ON action_audit_logs ("approvalId")
    WHERE "approvalId" IS NOT NULL;

-- One row per approval request. Everything about the action is copied from the verified
-- request, so the execution never depends on the client again.
CREATE TABLE approval_requests (
    "id"              uuid        PRIMARY KEY,
    "status"          text        NOT NULL
        CHECK ("status" IN ('pending', 'approved', 'denied', 'expired')),
    -- The awaiting_approval audit row.
    "auditId"         uuid        NOT NULL,
    "actionType"      text        NOT NULL,
    "actionParams"    jsonb       NOT NULL,
    "requestedBy"     text        NOT NULL,
    "namespace"       text        NOT NULL,
    "targetKind"      text        NOT NULL,
    "targetName"      text        NOT NULL,
    -- sha256 of the canonical {actionType, actionParams, requestedBy, target}: what people
    -- approve, checked again before the execution.
    "actionDigest"    text        NOT NULL,
    "decisionId"      text        NOT NULL,
    "policyVersion"   text        NOT NULL,
    "rule"            text        NOT NULL,
    -- The policy's reason as the client relayed it (informational).
    "reason"          text,
    "approversNeeded" integer     NOT NULL CHECK ("approversNeeded" BETWEEN 1 AND 10),
    "roles"           jsonb       NOT NULL,
    -- {scope, maxTtl} when approvers may grant a session.
    "session"         jsonb,
    "dryRun"          boolean     NOT NULL,
    "createdAt"       timestamptz NOT NULL,
    "expiresAt"       timestamptz NOT NULL,
    "decidedAt"       timestamptz,
    -- The execution's audit row, once approved.
    "executionId"     uuid,
    -- The session grant created with the approval, if any.
    "grantId"         uuid
);

CREATE INDEX approval_requests_created_at ON approval_requests ("createdAt" DESC, "id" DESC);
-- The sweeper's scan: only the pending requests, by expiry.
CREATE INDEX approval_requests_pending ON approval_requests ("expiresAt") WHERE "status" = 'pending';

-- Every approve and deny, kept after the request is decided or expired. One vote per person.
CREATE TABLE approval_votes (
    "approvalId" uuid        NOT NULL REFERENCES approval_requests ("id"),
    "approver"   text        NOT NULL,
    "vote"       text        NOT NULL CHECK ("vote" IN ('approve', 'deny')),
    "comment"    text,
    "method"     text        NOT NULL,
    "createdAt"  timestamptz NOT NULL,
    PRIMARY KEY ("approvalId", "approver")
);

-- Session grants: later require_approval decisions for the same requester and action inside
-- the scope run at once until "expiresAt", unless revoked.
CREATE TABLE approval_grants (
    "id"          uuid        PRIMARY KEY,
    "approvalId"  uuid        NOT NULL REFERENCES approval_requests ("id"),
    "requestedBy" text        NOT NULL,
    "actionType"  text        NOT NULL,
    "scope"       text        NOT NULL CHECK ("scope" IN ('object', 'kind', 'namespace')),
    "namespace"   text        NOT NULL,
    -- NULL when the scope is wider than a kind / an object.
    "targetKind"  text,
    "targetName"  text,
    "grantedBy"   text        NOT NULL,
    "description" text        NOT NULL,
    "createdAt"   timestamptz NOT NULL,
    "expiresAt"   timestamptz NOT NULL,
    "revokedAt"   timestamptz,
    "revokedBy"   text
);

CREATE INDEX approval_grants_lookup
    ON approval_grants ("requestedBy", "actionType", "namespace", "expiresAt")
    WHERE "revokedAt" IS NULL;
