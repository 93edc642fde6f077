//! [`ApprovalStore`](super::ApprovalStore) written once for both stores: every statement
//! is built with the [`Dialect`] of the store, and the one step that differs, taking a
//! budget slot and committing the execution's pending row inside the vote's transaction,
//! is the store's [`TakeSlot`].

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Pool, QueryBuilder, Row, Type};
use uuid::Uuid;

use super::approval_rows::{
    insert_approval, insert_attempt, insert_grant, push_opt_text, push_uuids,
};
use super::approvals::{
    ApprovalCounts, ApprovalQuery, ApprovalRecord, ApprovalStatus, Ballot, GrantLookup,
    GrantRecord, NewApproval, Requested, Revoked, Vote, VoteConflict, VoteKind, Voted,
};
use super::shared::{Dialect, bounded_store, decode_error};
use super::{Attempt, AuditStatus, Begin, Budget, StoreError};

/// A boxed, sendable future (what [`TakeSlot`] returns).
pub(super) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The store's `begin` inside a transaction it does not own.
pub(super) trait TakeSlot<DB: Dialect>: Sync {
    /// Checks single use, takes a slot of `budget` and inserts the pending row of
    /// `attempt`, on `conn` (inside the caller's transaction).
    fn take<'c>(
        &'c self,
        conn: &'c mut DB::Connection,
        attempt: &'c Attempt,
        budget: &'c Budget,
    ) -> BoxFuture<'c, Result<Begin, sqlx::Error>>;

    /// The attempt as the store can keep it (Postgres replaces U+0000).
    fn storable(&self, attempt: &Attempt) -> Attempt {
        attempt.clone()
    }

    /// Whatever the store needs before a vote may take a slot of `budget`, outside the
    /// vote's transaction (Postgres creates the budget's slot rows).
    fn prepare_vote<'a>(&'a self, _budget: &'a Budget) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async { Ok(()) })
    }
}

/// Columns of `approval_requests`, in the order [`Sql::approval`] reads them.
const APPROVAL_COLUMNS: &str = r#""id", "status", "auditId", "actionType", "actionParams",
    "requestedBy", "namespace", "targetKind", "targetName", "actionDigest", "decisionId",
    "policyVersion", "rule", "reason", CAST("approversNeeded" AS BIGINT) AS "approversNeeded",
    "roles", "session", "dryRun", "createdAt", "expiresAt", "decidedAt", "executionId",
    "grantId""#;

/// Columns of `approval_grants`.
const GRANT_COLUMNS: &str = r#""id", "approvalId", "requestedBy", "actionType", "scope",
    "namespace", "targetKind", "targetName", "grantedBy", "description", "createdAt",
    "expiresAt", "revokedAt", "revokedBy""#;

/// The statements, for one database. A type rather than free functions so that the
/// database's bounds are written once, on the `impl`.
pub(super) struct Sql<DB>(PhantomData<DB>);

impl<DB: Dialect> Sql<DB>
where
    i64: for<'q> Encode<'q, DB> + Type<DB>,
    bool: for<'q> Encode<'q, DB> + Type<DB>,
    for<'r> String: Decode<'r, DB> + Type<DB>,
    for<'r> i64: Decode<'r, DB> + Type<DB>,
    for<'r> bool: Decode<'r, DB> + Type<DB>,
    for<'c> &'c str: ColumnIndex<DB::Row>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
{
    /// [`ApprovalStore::request_approval`](super::ApprovalStore::request_approval).
    pub(super) async fn request_approval(
        pool: &Pool<DB>,
        attempt: &Attempt,
        approval: &NewApproval,
    ) -> Result<Requested, StoreError> {
        let created = bounded_store::<DB, _>(async {
            let mut tx = DB::begin_write(pool)
                .await
                .map_err(unavailable("request"))?;
            if let Some(consumed_by) = Self::consumer(&mut tx, attempt).await? {
                return Ok(Err(consumed_by));
            }
            let mut insert = insert_attempt::<DB>(attempt, AuditStatus::AwaitingApproval);
            match insert.build().execute(&mut *tx).await {
                Ok(_) => {}
                // Another executor committed the same decision in between.
                Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                    drop(tx);
                    return Ok(Ok(false));
                }
                Err(e) => return Err(unavailable("request: the audit row")(e)),
            }
            let mut insert = insert_approval::<DB>(attempt, approval);
            insert
                .build()
                .execute(&mut *tx)
                .await
                .map_err(unavailable("request: the approval request"))?;
            tx.commit().await.map_err(unavailable("request: commit"))?;
            Ok(Ok(true))
        })
        .await?;
        match created {
            Ok(true) => Ok(Requested::Created),
            Err(consumed_by) => Ok(Requested::Replay { consumed_by }),
            Ok(false) => {
                let mut conn = pool.acquire().await.map_err(unavailable("request"))?;
                let consumed_by = Self::consumer(&mut conn, attempt).await?.ok_or_else(|| {
                    StoreError::Unavailable(anyhow::anyhow!(
                        "request: the decision conflicted but no consumer was found"
                    ))
                })?;
                Ok(Requested::Replay { consumed_by })
            }
        }
    }

    /// The attempt that consumed `attempt`'s decision, if one did.
    async fn consumer(
        conn: &mut DB::Connection,
        attempt: &Attempt,
    ) -> Result<Option<Uuid>, StoreError> {
        let Some(decision) = attempt.decision_id.as_deref() else {
            return Ok(None);
        };
        let mut select =
            QueryBuilder::<DB>::new(r#"SELECT "id" FROM action_audit_logs WHERE "decisionId" = "#);
        DB::push_text(&mut select, decision);
        select.push(r#" AND "status" <> 'rejected' AND NOT "dryRun" LIMIT 1"#);
        let row = select
            .build()
            .fetch_optional(&mut *conn)
            .await
            .map_err(unavailable("request: single use"))?;
        row.map(|r| DB::uuid(&r, "id"))
            .transpose()
            .map_err(unavailable("request: single use"))
    }

    /// [`ApprovalStore::vote`](super::ApprovalStore::vote).
    pub(super) async fn vote(
        pool: &Pool<DB>,
        slots: &impl TakeSlot<DB>,
        ballot: &Ballot,
        execution: &Attempt,
        budget: &Budget,
        now: DateTime<Utc>,
    ) -> Result<Voted, StoreError> {
        bounded_store::<DB, _>(async {
            let fail = unavailable("vote");
            let mut tx = DB::begin_write(pool).await.map_err(&fail)?;
            let mut select = QueryBuilder::<DB>::new(format!(
                r#"SELECT {APPROVAL_COLUMNS} FROM approval_requests WHERE "id" = "#
            ));
            DB::push_uuid(&mut select, ballot.approval_id);
            select.push(DB::FOR_UPDATE);
            let row = select.build().fetch_optional(&mut *tx).await.map_err(&fail)?;
            let Some(row) = row else {
                return Ok(Voted::NotFound);
            };
            let request = Self::approval(&row).map_err(&fail)?;
            if request.status != ApprovalStatus::Pending {
                return Ok(Voted::Conflict(VoteConflict::Decided(request.status)));
            }
            if request.expires_at <= now {
                return Ok(Voted::Conflict(VoteConflict::Expired));
            }
            let votes = Self::votes_of(&mut tx, &[request.id]).await.map_err(&fail)?;
            if votes.iter().any(|(_, v)| v.approver == ballot.vote.approver) {
                return Ok(Voted::Conflict(VoteConflict::AlreadyVoted));
            }
            let mut insert = QueryBuilder::<DB>::new(
                r#"INSERT INTO approval_votes ("approvalId", "approver", "vote", "comment", "method", "createdAt") VALUES ("#,
            );
            DB::push_uuid(&mut insert, request.id);
            insert.push(", ");
            DB::push_text(&mut insert, &ballot.vote.approver);
            insert.push(", ");
            DB::push_text(&mut insert, ballot.vote.vote.as_str());
            insert.push(", ");
            push_opt_text::<DB>(&mut insert, ballot.vote.comment.as_deref());
            insert.push(", ");
            DB::push_text(&mut insert, &ballot.vote.method);
            insert.push(", ");
            DB::push_time(&mut insert, ballot.vote.at);
            insert.push(")");
            insert.build().execute(&mut *tx).await.map_err(&fail)?;

            if ballot.vote.vote == VoteKind::Deny {
                Self::decide(&mut tx, &request, ApprovalStatus::Denied, now, None, None)
                    .await
                    .map_err(&fail)?;
                tx.commit().await.map_err(&fail)?;
                return Ok(Voted::Denied);
            }
            let mut approved_by: Vec<String> = votes
                .iter()
                .filter(|(_, v)| v.vote == VoteKind::Approve)
                .map(|(_, v)| v.approver.clone())
                .collect();
            approved_by.push(ballot.vote.approver.clone());
            let approvals = u32::try_from(approved_by.len()).unwrap_or(u32::MAX);
            if approvals < request.approvers_needed {
                tx.commit().await.map_err(&fail)?;
                return Ok(Voted::Recorded { approvals });
            }
            let mut execution = execution.clone();
            execution.approved_by = approved_by.clone();
            match slots.take(&mut tx, &execution, budget).await.map_err(&fail)? {
                Begin::Started => {}
                Begin::OverBudget { retry_after } => {
                    // Rolled back with the vote: the request stays pending.
                    drop(tx);
                    return Ok(Voted::OverBudget { retry_after });
                }
                Begin::Replay { .. } => {
                    drop(tx);
                    return Ok(Voted::Conflict(VoteConflict::Decided(
                        ApprovalStatus::Approved,
                    )));
                }
            }
            if let Some(grant) = &ballot.grant {
                let mut insert = insert_grant::<DB>(grant);
                insert.build().execute(&mut *tx).await.map_err(&fail)?;
            }
            Self::decide(
                &mut tx,
                &request,
                ApprovalStatus::Approved,
                now,
                Some(execution.id),
                ballot.grant.as_ref().map(|g| g.id),
            )
            .await
            .map_err(&fail)?;
            tx.commit().await.map_err(&fail)?;
            Ok(Voted::Approved { approved_by })
        })
        .await
    }

    /// Moves a pending request (and its audit row) to its final `status`.
    async fn decide(
        conn: &mut DB::Connection,
        request: &ApprovalRecord,
        status: ApprovalStatus,
        now: DateTime<Utc>,
        execution: Option<Uuid>,
        grant: Option<Uuid>,
    ) -> Result<(), sqlx::Error> {
        let mut update = QueryBuilder::<DB>::new(r#"UPDATE approval_requests SET "status" = "#);
        DB::push_text(&mut update, status.as_str());
        update.push(r#", "decidedAt" = "#);
        DB::push_time(&mut update, now);
        if let Some(execution) = execution {
            update.push(r#", "executionId" = "#);
            DB::push_uuid(&mut update, execution);
        }
        if let Some(grant) = grant {
            update.push(r#", "grantId" = "#);
            DB::push_uuid(&mut update, grant);
        }
        update.push(r#" WHERE "id" = "#);
        DB::push_uuid(&mut update, request.id);
        update.push(r#" AND "status" = 'pending'"#);
        update.build().execute(&mut *conn).await?;
        Self::close_row(conn, request.audit_id, status, now).await
    }

    /// The request's `awaiting_approval` audit row takes the request's final state.
    async fn close_row(
        conn: &mut DB::Connection,
        audit_id: Uuid,
        status: ApprovalStatus,
        now: DateTime<Utc>,
    ) -> Result<(), sqlx::Error> {
        let (row_status, reason) = match status {
            ApprovalStatus::Approved => (AuditStatus::Approved, None),
            ApprovalStatus::Denied => (AuditStatus::Denied, Some("approval_denied")),
            ApprovalStatus::Expired => (AuditStatus::Expired, Some("approval_expired")),
            ApprovalStatus::Pending => (AuditStatus::AwaitingApproval, None),
        };
        let mut update = QueryBuilder::<DB>::new(r#"UPDATE action_audit_logs SET "status" = "#);
        DB::push_text(&mut update, row_status.as_str());
        update.push(r#", "reasonCode" = "#);
        push_opt_text::<DB>(&mut update, reason);
        update.push(r#", "updatedAt" = "#);
        DB::push_time(&mut update, now);
        update.push(r#" WHERE "id" = "#);
        DB::push_uuid(&mut update, audit_id);
        update.push(r#" AND "status" = 'awaiting_approval'"#);
        update.build().execute(&mut *conn).await?;
        Ok(())
    }

    /// [`ApprovalStore::expire_due`](super::ApprovalStore::expire_due).
    pub(super) async fn expire_due(
        pool: &Pool<DB>,
        now: DateTime<Utc>,
    ) -> Result<Vec<ApprovalRecord>, StoreError> {
        bounded_store::<DB, _>(async {
            let fail = unavailable("expire");
            let mut tx = DB::begin_write(pool).await.map_err(&fail)?;
            // The UPDATE is the claim: a concurrent sweeper (or vote) that got there first
            // leaves the row non-pending, and the WHERE no longer holds for it here.
            let mut update = QueryBuilder::<DB>::new(
                r#"UPDATE approval_requests SET "status" = 'expired', "decidedAt" = "#,
            );
            DB::push_time(&mut update, now);
            update.push(r#" WHERE "status" = 'pending' AND "expiresAt" <= "#);
            DB::push_time(&mut update, now);
            update.push(r#" RETURNING "id", "auditId""#);
            let rows = update.build().fetch_all(&mut *tx).await.map_err(&fail)?;
            let mut ids = Vec::with_capacity(rows.len());
            for row in &rows {
                let id = DB::uuid(row, "id").map_err(&fail)?;
                let audit_id = DB::uuid(row, "auditId").map_err(&fail)?;
                Self::close_row(&mut tx, audit_id, ApprovalStatus::Expired, now)
                    .await
                    .map_err(&fail)?;
                ids.push(id);
            }
            tx.commit().await.map_err(&fail)?;
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            let mut conn = pool.acquire().await.map_err(&fail)?;
            Self::approvals_by_id(&mut conn, &ids).await.map_err(&fail)
        })
        .await
    }

    /// [`ApprovalStore::get_approval`](super::ApprovalStore::get_approval).
    pub(super) async fn get_approval(
        pool: &Pool<DB>,
        id: Uuid,
    ) -> Result<Option<ApprovalRecord>, StoreError> {
        bounded_store::<DB, _>(async {
            let fail = unavailable("get approval");
            let mut conn = pool.acquire().await.map_err(&fail)?;
            let found = Self::approvals_by_id(&mut conn, &[id])
                .await
                .map_err(&fail)?;
            Ok(found.into_iter().next())
        })
        .await
    }

    /// [`ApprovalStore::list_approvals`](super::ApprovalStore::list_approvals).
    pub(super) async fn list_approvals(
        pool: &Pool<DB>,
        query: &ApprovalQuery,
    ) -> Result<Vec<ApprovalRecord>, StoreError> {
        bounded_store::<DB, _>(async {
            let fail = unavailable("list approvals");
            let mut conn = pool.acquire().await.map_err(&fail)?;
            let mut select = QueryBuilder::<DB>::new(format!(
                "SELECT {APPROVAL_COLUMNS} FROM approval_requests WHERE TRUE"
            ));
            if let Some(status) = query.status {
                select.push(r#" AND "status" = "#);
                DB::push_text(&mut select, status.as_str());
            }
            if let Some(requested_by) = &query.requested_by {
                select.push(r#" AND "requestedBy" = "#);
                DB::push_text(&mut select, requested_by);
            }
            if let Some(namespace) = &query.namespace {
                select.push(r#" AND "namespace" = "#);
                DB::push_text(&mut select, namespace);
            }
            select
                .push(r#" ORDER BY "createdAt" DESC, "id" DESC LIMIT "#)
                .push_bind(i64::from(query.limit));
            let rows = select.build().fetch_all(&mut *conn).await.map_err(&fail)?;
            let mut records: Vec<ApprovalRecord> = rows
                .iter()
                .map(Self::approval)
                .collect::<Result<_, _>>()
                .map_err(&fail)?;
            Self::attach_votes(&mut conn, &mut records)
                .await
                .map_err(&fail)?;
            Ok(records)
        })
        .await
    }

    /// The requests `ids` with their votes, in the order of `ids`' creation (newest first).
    async fn approvals_by_id(
        conn: &mut DB::Connection,
        ids: &[Uuid],
    ) -> Result<Vec<ApprovalRecord>, sqlx::Error> {
        let mut select = QueryBuilder::<DB>::new(format!(
            r#"SELECT {APPROVAL_COLUMNS} FROM approval_requests WHERE "id" IN ("#
        ));
        push_uuids::<DB>(&mut select, ids);
        select.push(r#") ORDER BY "createdAt" DESC, "id" DESC"#);
        let rows = select.build().fetch_all(&mut *conn).await?;
        let mut records: Vec<ApprovalRecord> =
            rows.iter().map(Self::approval).collect::<Result<_, _>>()?;
        Self::attach_votes(conn, &mut records).await?;
        Ok(records)
    }

    async fn attach_votes(
        conn: &mut DB::Connection,
        records: &mut [ApprovalRecord],
    ) -> Result<(), sqlx::Error> {
        if records.is_empty() {
            return Ok(());
        }
        let ids: Vec<Uuid> = records.iter().map(|r| r.id).collect();
        for (approval, vote) in Self::votes_of(conn, &ids).await? {
            if let Some(record) = records.iter_mut().find(|r| r.id == approval) {
                record.votes.push(vote);
            }
        }
        Ok(())
    }

    /// The votes on `ids`, oldest first.
    async fn votes_of(
        conn: &mut DB::Connection,
        ids: &[Uuid],
    ) -> Result<Vec<(Uuid, Vote)>, sqlx::Error> {
        let mut select = QueryBuilder::<DB>::new(
            r#"SELECT "approvalId", "approver", "vote", "comment", "method", "createdAt"
               FROM approval_votes WHERE "approvalId" IN ("#,
        );
        push_uuids::<DB>(&mut select, ids);
        select.push(r#") ORDER BY "createdAt", "approver""#);
        let rows = select.build().fetch_all(&mut *conn).await?;
        rows.iter()
            .map(|row| {
                let vote: String = row.try_get("vote")?;
                Ok((
                    DB::uuid(row, "approvalId")?,
                    Vote {
                        approver: row.try_get("approver")?,
                        vote: if vote == "deny" {
                            VoteKind::Deny
                        } else {
                            VoteKind::Approve
                        },
                        comment: row.try_get("comment")?,
                        method: row.try_get("method")?,
                        at: DB::time(row, "createdAt")?,
                    },
                ))
            })
            .collect()
    }

    /// A row of [`APPROVAL_COLUMNS`], without its votes.
    fn approval(row: &DB::Row) -> Result<ApprovalRecord, sqlx::Error> {
        let status: String = row.try_get("status")?;
        let needed: i64 = row.try_get("approversNeeded")?;
        let json = |column: &str| -> Result<Option<Value>, sqlx::Error> { DB::json(row, column) };
        Ok(ApprovalRecord {
            id: DB::uuid(row, "id")?,
            status: status
                .parse()
                .map_err(|e: String| decode_error("status", std::io::Error::other(e)))?,
            audit_id: DB::uuid(row, "auditId")?,
            action_type: row.try_get("actionType")?,
            action_params: json("actionParams")?.unwrap_or(Value::Null),
            requested_by: row.try_get("requestedBy")?,
            namespace: row.try_get("namespace")?,
            target_kind: row.try_get("targetKind")?,
            target_name: row.try_get("targetName")?,
            action_digest: row.try_get("actionDigest")?,
            decision_id: row.try_get("decisionId")?,
            policy_version: row.try_get("policyVersion")?,
            rule: row.try_get("rule")?,
            reason: row.try_get("reason")?,
            approvers_needed: u32::try_from(needed)
                .map_err(|e| decode_error("approversNeeded", e))?,
            roles: json("roles")?
                .map(serde_json::from_value)
                .transpose()
                .map_err(|e| decode_error("roles", e))?
                .unwrap_or_default(),
            session: json("session")?
                .map(serde_json::from_value)
                .transpose()
                .map_err(|e| decode_error("session", e))?,
            dry_run: row.try_get("dryRun")?,
            created_at: DB::time(row, "createdAt")?,
            expires_at: DB::time(row, "expiresAt")?,
            decided_at: DB::time_opt(row, "decidedAt")?,
            execution_id: DB::uuid_opt(row, "executionId")?,
            grant_id: DB::uuid_opt(row, "grantId")?,
            votes: Vec::new(),
        })
    }

    /// [`ApprovalStore::find_grant`](super::ApprovalStore::find_grant).
    pub(super) async fn find_grant(
        pool: &Pool<DB>,
        lookup: &GrantLookup,
        now: DateTime<Utc>,
    ) -> Result<Option<GrantRecord>, StoreError> {
        use warden_protocol::GrantScope;
        let mut select = QueryBuilder::<DB>::new(format!(
            r#"SELECT {GRANT_COLUMNS} FROM approval_grants WHERE "requestedBy" = "#
        ));
        DB::push_text(&mut select, &lookup.requested_by);
        select.push(r#" AND "actionType" = "#);
        DB::push_text(&mut select, &lookup.action_type);
        select.push(r#" AND "namespace" = "#);
        DB::push_text(&mut select, &lookup.namespace);
        select.push(r#" AND "revokedAt" IS NULL AND "expiresAt" > "#);
        DB::push_time(&mut select, now);
        // Each scope the rule admits, with what it must match.
        select.push(" AND (FALSE");
        if lookup.widest >= GrantScope::Object {
            select.push(r#" OR ("scope" = 'object' AND "targetKind" = "#);
            DB::push_text(&mut select, &lookup.target_kind);
            select.push(r#" AND "targetName" = "#);
            DB::push_text(&mut select, &lookup.target_name);
            select.push(")");
        }
        if lookup.widest >= GrantScope::Kind {
            select.push(r#" OR ("scope" = 'kind' AND "targetKind" = "#);
            DB::push_text(&mut select, &lookup.target_kind);
            select.push(")");
        }
        if lookup.widest >= GrantScope::Namespace {
            select.push(r#" OR "scope" = 'namespace'"#);
        }
        select.push(r#") ORDER BY "expiresAt" DESC, "id" LIMIT 1"#);
        let row =
            super::shared::bounded::<DB, _>("find grant", select.build().fetch_optional(pool))
                .await?;
        row.as_ref()
            .map(Self::grant)
            .transpose()
            .map_err(unavailable("find grant"))
    }

    /// [`ApprovalStore::get_grant`](super::ApprovalStore::get_grant).
    pub(super) async fn get_grant(
        pool: &Pool<DB>,
        id: Uuid,
    ) -> Result<Option<GrantRecord>, StoreError> {
        let mut select = QueryBuilder::<DB>::new(format!(
            r#"SELECT {GRANT_COLUMNS} FROM approval_grants WHERE "id" = "#
        ));
        DB::push_uuid(&mut select, id);
        let row = super::shared::bounded::<DB, _>("get grant", select.build().fetch_optional(pool))
            .await?;
        row.as_ref()
            .map(Self::grant)
            .transpose()
            .map_err(unavailable("get grant"))
    }

    /// [`ApprovalStore::list_grants`](super::ApprovalStore::list_grants).
    pub(super) async fn list_grants(
        pool: &Pool<DB>,
        active_at: Option<DateTime<Utc>>,
        limit: u32,
    ) -> Result<Vec<GrantRecord>, StoreError> {
        let mut select = QueryBuilder::<DB>::new(format!(
            "SELECT {GRANT_COLUMNS} FROM approval_grants WHERE TRUE"
        ));
        if let Some(now) = active_at {
            select.push(r#" AND "revokedAt" IS NULL AND "expiresAt" > "#);
            DB::push_time(&mut select, now);
        }
        select
            .push(r#" ORDER BY "createdAt" DESC, "id" DESC LIMIT "#)
            .push_bind(i64::from(limit));
        let rows =
            super::shared::bounded::<DB, _>("list grants", select.build().fetch_all(pool)).await?;
        rows.iter()
            .map(Self::grant)
            .collect::<Result<_, _>>()
            .map_err(unavailable("list grants"))
    }

    /// [`ApprovalStore::revoke_grant`](super::ApprovalStore::revoke_grant).
    pub(super) async fn revoke_grant(
        pool: &Pool<DB>,
        id: Uuid,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<Revoked, StoreError> {
        let mut update = QueryBuilder::<DB>::new(r#"UPDATE approval_grants SET "revokedAt" = "#);
        DB::push_time(&mut update, now);
        update.push(r#", "revokedBy" = "#);
        DB::push_text(&mut update, by);
        update.push(r#" WHERE "id" = "#);
        DB::push_uuid(&mut update, id);
        update.push(r#" AND "revokedAt" IS NULL AND "expiresAt" > "#);
        DB::push_time(&mut update, now);
        let done =
            super::shared::bounded::<DB, _>("revoke grant", update.build().execute(pool)).await?;
        let changed = DB::rows_affected(&done) > 0;
        Ok(match Self::get_grant(pool, id).await? {
            None => Revoked::NotFound,
            Some(grant) if changed => Revoked::Revoked(grant),
            Some(grant) => Revoked::Inactive(grant),
        })
    }

    /// [`ApprovalStore::approval_counts`](super::ApprovalStore::approval_counts).
    pub(super) async fn approval_counts(
        pool: &Pool<DB>,
        now: DateTime<Utc>,
    ) -> Result<ApprovalCounts, StoreError> {
        let mut select = QueryBuilder::<DB>::new(
            r#"SELECT (SELECT count(*) FROM approval_requests WHERE "status" = 'pending') AS pending,
                      (SELECT count(*) FROM approval_grants
                       WHERE "revokedAt" IS NULL AND "expiresAt" > "#,
        );
        DB::push_time(&mut select, now);
        select.push(") AS grants");
        let row =
            super::shared::bounded::<DB, _>("approval counts", select.build().fetch_one(pool))
                .await?;
        let count = |column: &str| -> Result<u64, StoreError> {
            let n: i64 = row
                .try_get(column)
                .map_err(unavailable("approval counts"))?;
            Ok(u64::try_from(n).unwrap_or(0))
        };
        Ok(ApprovalCounts {
            pending: count("pending")?,
            active_grants: count("grants")?,
        })
    }

    /// A row of [`GRANT_COLUMNS`].
    fn grant(row: &DB::Row) -> Result<GrantRecord, sqlx::Error> {
        let scope: String = row.try_get("scope")?;
        Ok(GrantRecord {
            id: DB::uuid(row, "id")?,
            approval_id: DB::uuid(row, "approvalId")?,
            requested_by: row.try_get("requestedBy")?,
            action_type: row.try_get("actionType")?,
            scope: scope
                .parse()
                .map_err(|e: String| decode_error("scope", std::io::Error::other(e)))?,
            namespace: row.try_get("namespace")?,
            target_kind: row.try_get("targetKind")?,
            target_name: row.try_get("targetName")?,
            granted_by: row.try_get("grantedBy")?,
            description: row.try_get("description")?,
            created_at: DB::time(row, "createdAt")?,
            expires_at: DB::time(row, "expiresAt")?,
            revoked_at: DB::time_opt(row, "revokedAt")?,
            revoked_by: row.try_get("revokedBy")?,
        })
    }
}

/// Maps a database error to [`StoreError::Unavailable`] with `what` as context.
fn unavailable<E>(what: &'static str) -> impl Fn(E) -> StoreError
where
    E: std::error::Error + Send + Sync + 'static,
{
    move |e| StoreError::Unavailable(anyhow::Error::new(e).context(what))
}
