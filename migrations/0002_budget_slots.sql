-- Rate budgets that are exact across executor processes without a global lock.
--
-- A budget "at most max uses per ttl" is max rows (slots 0..max-1) per key. Taking a slot
-- stamps it with the time of use; a slot can be taken again only once its last use is at
-- least ttl old. So any window of length ttl holds at most one use per slot, i.e. at most
-- max uses, whatever the number of executors; and concurrent takers lock different rows
-- (FOR UPDATE SKIP LOCKED) instead of queueing on one counter.
--
-- Rows are created on demand by the executor (INSERT ... ON CONFLICT DO NOTHING) for each
-- (key, max) it uses; slots at or above the current max are ignored, so lowering max needs
-- no cleanup and raising it just adds rows.
CREATE TABLE budget_slots (
    "budgetKey" text        NOT NULL,
    "slot"      integer     NOT NULL,
    -- '-infinity': never used, so free under any ttl.
    "usedAt"    timestamptz NOT NULL DEFAULT '-infinity',
    -- The audit row that took the slot last. No foreign key: it would add a lookup to every
    -- take, and audit rows are never deleted by the executor anyway.
    "auditId"   uuid,
    PRIMARY KEY ("budgetKey", "slot")
);

-- Finds the least recently used slot of a key without sorting all its rows.
CREATE INDEX budget_slots_key_used_at ON budget_slots ("budgetKey", "usedAt");
