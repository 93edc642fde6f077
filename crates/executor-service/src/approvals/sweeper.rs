//! Expiry of unanswered approval requests, and the approval gauges.
//!
//! Every executor runs the sweeper (every `EXECUTOR_APPROVAL_SWEEP_SECONDS`). Marking a
//! request `expired` is one conditional `UPDATE` per sweep, so with several replicas each
//! request is expired (and announced) by exactly one of them; votes check the expiry
//! themselves, so nothing is approved late between two sweeps.

use chrono::Utc;

use super::event_of;
use crate::AppState;
use crate::notify::EventKind;

/// One sweep: expires what is due, then refreshes the gauges from the database (so that
/// every replica reports the same figures). Returns how many requests it expired.
pub async fn sweep(state: &AppState) -> usize {
    let now = Utc::now();
    let expired = match state.store().expire_due(now).await {
        Ok(expired) => expired,
        Err(err) => {
            state.metrics().store_error("expire");
            tracing::warn!(error = %err, "could not expire approval requests");
            Vec::new()
        }
    };
    for record in &expired {
        tracing::info!(approval_id = %record.id, action = %record.action_type, "approval request expired");
        state.metrics().approval_decided("expired", record);
        state
            .notifier()
            .send(event_of(record, EventKind::Expired, None));
    }
    match state.store().approval_counts(now).await {
        Ok(counts) => state.metrics().approval_gauges(counts),
        Err(err) => tracing::debug!(error = %err, "could not count approvals"),
    }
    expired.len()
}

/// Sweeps every `EXECUTOR_APPROVAL_SWEEP_SECONDS` until the task is dropped.
pub async fn run(state: AppState) {
    let mut tick = tokio::time::interval(state.config().approvals.sweep_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        sweep(&state).await;
    }
}
