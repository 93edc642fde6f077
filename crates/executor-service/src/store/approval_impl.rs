//! The one implementation of [`ApprovalStore`](super::approvals::ApprovalStore) shared by
//! both stores: [`approval_store!`] implements the trait for a store type by calling
//! [`Sql`](super::approval_sql::Sql) on its pool, with the store's
//! [`TakeSlot`](super::approval_sql::TakeSlot) for the parts that differ.

/// Implements `ApprovalStore` for `$store`, a store with a `pool` of database `$db`.
macro_rules! approval_store {
    ($store:ty, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::approvals::ApprovalStore for $store {
            async fn request_approval(
                &self,
                attempt: &$crate::store::Attempt,
                approval: &$crate::store::approvals::NewApproval,
            ) -> Result<$crate::store::approvals::Requested, $crate::store::StoreError> {
                let attempt =
                    &$crate::store::approval_sql::TakeSlot::<$db>::storable(self, attempt);
                let requested = $crate::store::approval_sql::Sql::<$db>::request_approval(
                    &self.pool, attempt, approval,
                )
                .await?;
                if let $crate::store::approvals::Requested::Replay { consumed_by } = &requested {
                    let error =
                        format!("the policy decision was already used by attempt {consumed_by}");
                    $crate::store::AuditStore::reject(
                        self,
                        attempt,
                        "replay",
                        &error,
                        std::time::Duration::ZERO,
                    )
                    .await?;
                }
                Ok(requested)
            }

            async fn vote(
                &self,
                ballot: &$crate::store::approvals::Ballot,
                execution: &$crate::store::Attempt,
                budget: &$crate::store::Budget,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<$crate::store::approvals::Voted, $crate::store::StoreError> {
                $crate::store::approval_sql::TakeSlot::<$db>::prepare_vote(self, budget).await?;
                let execution =
                    &$crate::store::approval_sql::TakeSlot::<$db>::storable(self, execution);
                $crate::store::approval_sql::Sql::<$db>::vote(
                    &self.pool, self, ballot, execution, budget, now,
                )
                .await
            }

            async fn expire_due(
                &self,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<Vec<$crate::store::approvals::ApprovalRecord>, $crate::store::StoreError>
            {
                $crate::store::approval_sql::Sql::<$db>::expire_due(&self.pool, now).await
            }

            async fn get_approval(
                &self,
                id: uuid::Uuid,
            ) -> Result<Option<$crate::store::approvals::ApprovalRecord>, $crate::store::StoreError>
            {
                $crate::store::approval_sql::Sql::<$db>::get_approval(&self.pool, id).await
            }

            async fn list_approvals(
                &self,
                query: &$crate::store::approvals::ApprovalQuery,
            ) -> Result<Vec<$crate::store::approvals::ApprovalRecord>, $crate::store::StoreError>
            {
                $crate::store::approval_sql::Sql::<$db>::list_approvals(&self.pool, query).await
            }

            async fn find_grant(
                &self,
                lookup: &$crate::store::approvals::GrantLookup,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<Option<$crate::store::approvals::GrantRecord>, $crate::store::StoreError>
            {
                $crate::store::approval_sql::Sql::<$db>::find_grant(&self.pool, lookup, now).await
            }

            async fn get_grant(
                &self,
                id: uuid::Uuid,
            ) -> Result<Option<$crate::store::approvals::GrantRecord>, $crate::store::StoreError>
            {
                $crate::store::approval_sql::Sql::<$db>::get_grant(&self.pool, id).await
            }

            async fn list_grants(
                &self,
                active_at: Option<chrono::DateTime<chrono::Utc>>,
                limit: u32,
            ) -> Result<Vec<$crate::store::approvals::GrantRecord>, $crate::store::StoreError> {
                $crate::store::approval_sql::Sql::<$db>::list_grants(&self.pool, active_at, limit)
                    .await
            }

            async fn revoke_grant(
                &self,
                id: uuid::Uuid,
                by: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<$crate::store::approvals::Revoked, $crate::store::StoreError> {
                $crate::store::approval_sql::Sql::<$db>::revoke_grant(&self.pool, id, by, now).await
            }

            async fn approval_counts(
                &self,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<$crate::store::approvals::ApprovalCounts, $crate::store::StoreError> {
                $crate::store::approval_sql::Sql::<$db>::approval_counts(&self.pool, now).await
            }
        }
    };
}

pub(super) use approval_store;
