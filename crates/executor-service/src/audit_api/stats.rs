//! The figures of `GET /executor/stats`, from the rows a store counted per group.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::store::{AuditStatus, StatsBucket};

/// The figures of one population of attempts (all of a window, one namespace, one type).
#[derive(Clone, Debug, Default, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Figures {
    /// Every attempt recorded in the window.
    pub total: u64,
    /// Attempts that reached the cluster: `succeeded + failed + unknown`.
    pub executed: u64,
    /// The cluster call succeeded.
    pub succeeded: u64,
    /// The cluster call failed (nothing changed).
    pub failed: u64,
    /// The cluster call's outcome is not known (timeout, executor interrupted).
    pub unknown: u64,
    /// Refused before any side effect.
    pub rejected: u64,
    /// Still running (or interrupted and not yet reconciled).
    pub pending: u64,
    /// `executed` per minute of the window.
    pub executions_per_minute: f64,
    /// `succeeded / executed`; `null` when nothing ran.
    pub success_ratio: Option<f64>,
    /// `failed / executed`; `null` when nothing ran. Unknown outcomes count in neither
    /// ratio, so the two add up to 1 only when no outcome is unknown.
    pub failure_ratio: Option<f64>,
    /// `rejected / total`; `null` when there was no attempt.
    pub denial_rate: Option<f64>,
    /// Mean `durationMs` of the executed attempts that have one; `null` when none has.
    pub average_duration_ms: Option<f64>,
}

/// `GET /executor/stats`: the figures of a window `[since, until)`.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    /// Start of the window (included).
    #[schema(value_type = String, format = DateTime)]
    pub since: DateTime<Utc>,
    /// End of the window (excluded).
    #[schema(value_type = String, format = DateTime)]
    pub until: DateTime<Utc>,
    /// `until - since` in seconds.
    pub window_seconds: f64,
    /// The figures of every real (not dry-run) attempt of the window.
    #[serde(flatten)]
    pub figures: Figures,
    /// The same per target namespace; `""` holds attempts refused before their target
    /// was known.
    pub by_namespace: BTreeMap<String, Figures>,
    /// The same per `actionType`; `""` holds requests without one.
    pub by_type: BTreeMap<String, Figures>,
    /// The same figures for the dry runs of the window, which the others leave out.
    pub dry_run: Figures,
    /// Present only when the window holds dry runs and no real attempt, so that a dry-run
    /// deployment's zeros above are not read as "nothing happened".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// [`Stats::note`] when every attempt of the window was a dry run.
pub const ONLY_DRY_RUNS_NOTE: &str = "every attempt in this window was a dry run; see dryRun";

impl Stats {
    /// The figures of `buckets` (rows of `[since, until)`, `since < until`).
    pub fn from_buckets(
        buckets: &[StatsBucket],
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Stats {
        let mut all = Tally::default();
        let mut dry_run = Tally::default();
        let mut by_namespace: BTreeMap<String, Tally> = BTreeMap::new();
        let mut by_type: BTreeMap<String, Tally> = BTreeMap::new();
        for bucket in buckets {
            if bucket.dry_run {
                dry_run.add(bucket);
                continue;
            }
            all.add(bucket);
            by_namespace
                .entry(bucket.namespace.clone().unwrap_or_default())
                .or_default()
                .add(bucket);
            by_type
                .entry(bucket.action_type.clone().unwrap_or_default())
                .or_default()
                .add(bucket);
        }
        let window_seconds = (until - since).as_seconds_f64();
        let figures = |tally: &Tally| tally.figures(window_seconds);
        let (all, dry_run) = (figures(&all), figures(&dry_run));
        let note = (all.total == 0 && dry_run.total > 0).then(|| ONLY_DRY_RUNS_NOTE.to_owned());
        Stats {
            since,
            until,
            window_seconds,
            figures: all,
            by_namespace: by_namespace
                .iter()
                .map(|(k, t)| (k.clone(), figures(t)))
                .collect(),
            by_type: by_type
                .iter()
                .map(|(k, t)| (k.clone(), figures(t)))
                .collect(),
            dry_run,
            note,
        }
    }
}

/// Counts of one population, before the division.
#[derive(Default)]
struct Tally {
    by_status: HashMap<AuditStatus, u64>,
    /// Summed `durationMs` of executed rows (i128: no sum of i64s can overflow it).
    executed_duration_ms: i128,
    /// Executed rows with a `durationMs`.
    executed_with_duration: u64,
}

impl Tally {
    fn add(&mut self, bucket: &StatsBucket) {
        *self.by_status.entry(bucket.status).or_default() += bucket.count;
        if ran(bucket.status) {
            self.executed_duration_ms += i128::from(bucket.duration_ms_sum);
            self.executed_with_duration += bucket.duration_count;
        }
    }

    fn count(&self, status: AuditStatus) -> u64 {
        self.by_status.get(&status).copied().unwrap_or(0)
    }

    // The casts to f64 lose precision only beyond 2^53 rows or milliseconds.
    fn figures(&self, window_seconds: f64) -> Figures {
        let succeeded = self.count(AuditStatus::Succeeded);
        let failed = self.count(AuditStatus::Failed);
        let unknown = self.count(AuditStatus::Unknown);
        let rejected = self.count(AuditStatus::Rejected);
        let pending = self.count(AuditStatus::Pending);
        let executed = succeeded + failed + unknown;
        let total = executed + rejected + pending;
        let ratio = |part: u64, whole: u64| (whole > 0).then(|| part as f64 / whole as f64);
        Figures {
            total,
            executed,
            succeeded,
            failed,
            unknown,
            rejected,
            pending,
            executions_per_minute: if window_seconds > 0.0 {
                executed as f64 * 60.0 / window_seconds
            } else {
                0.0
            },
            success_ratio: ratio(succeeded, executed),
            failure_ratio: ratio(failed, executed),
            denial_rate: ratio(rejected, total),
            average_duration_ms: (self.executed_with_duration > 0)
                .then(|| self.executed_duration_ms as f64 / self.executed_with_duration as f64),
        }
    }
}

/// Whether rows in `status` reached the cluster.
fn ran(status: AuditStatus) -> bool {
    matches!(
        status,
        AuditStatus::Succeeded | AuditStatus::Failed | AuditStatus::Unknown
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::float_cmp)]
    use super::*;

    fn bucket(
        namespace: Option<&str>,
        action_type: Option<&str>,
        status: AuditStatus,
        dry_run: bool,
        count: u64,
        durations: &[i64],
    ) -> StatsBucket {
        StatsBucket {
            namespace: namespace.map(str::to_owned),
            action_type: action_type.map(str::to_owned),
            status,
            dry_run,
            count,
            duration_ms_sum: durations.iter().sum(),
            duration_count: durations.len() as u64,
        }
    }

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn figures_follow_their_definitions() {
        // Arrange: a 10-minute window.
        let since = at("2026-01-01T00:00:00Z");
        let until = at("2026-01-01T00:10:00Z");
        let buckets = [
            bucket(
                Some("prod"),
                Some("restart_pod"),
                AuditStatus::Succeeded,
                false,
                3,
                &[100, 200, 300],
            ),
            bucket(
                Some("prod"),
                Some("scale_deployment"),
                AuditStatus::Failed,
                false,
                1,
                &[400],
            ),
            bucket(
                Some("dev"),
                Some("restart_pod"),
                AuditStatus::Unknown,
                false,
                1,
                &[],
            ),
            bucket(
                Some("dev"),
                Some("restart_pod"),
                AuditStatus::Rejected,
                false,
                2,
                &[5, 5],
            ),
            bucket(None, None, AuditStatus::Rejected, false, 2, &[1]),
            bucket(
                Some("prod"),
                Some("restart_pod"),
                AuditStatus::Pending,
                false,
                1,
                &[],
            ),
            bucket(
                Some("prod"),
                Some("restart_pod"),
                AuditStatus::Succeeded,
                true,
                4,
                &[10, 10, 10, 10],
            ),
        ];

        // Act
        let stats = Stats::from_buckets(&buckets, since, until);

        // Assert
        assert_eq!(stats.window_seconds, 600.0);
        let all = &stats.figures;
        assert_eq!((all.total, all.executed), (10, 5));
        assert_eq!((all.succeeded, all.failed, all.unknown), (3, 1, 1));
        assert_eq!((all.rejected, all.pending), (4, 1));
        assert_eq!(all.executions_per_minute, 0.5);
        assert_eq!(all.success_ratio, Some(0.6));
        assert_eq!(all.failure_ratio, Some(0.2));
        assert_eq!(all.denial_rate, Some(0.4));
        // Executed rows with a duration: 100, 200, 300, 400 (rejections do not count).
        assert_eq!(all.average_duration_ms, Some(250.0));

        let prod = &stats.by_namespace["prod"];
        assert_eq!((prod.total, prod.executed, prod.pending), (5, 4, 1));
        assert_eq!(prod.success_ratio, Some(0.75));
        assert_eq!(prod.denial_rate, Some(0.0));
        let none = &stats.by_namespace[""];
        assert_eq!((none.total, none.rejected), (2, 2));
        assert_eq!(none.success_ratio, None);
        assert_eq!(none.average_duration_ms, None);
        assert_eq!(stats.by_namespace.len(), 3);

        let restart = &stats.by_type["restart_pod"];
        assert_eq!((restart.total, restart.executed), (7, 4));
        assert_eq!(restart.average_duration_ms, Some(200.0));
        assert_eq!(stats.by_type[""].total, 2);

        assert_eq!((stats.dry_run.total, stats.dry_run.succeeded), (4, 4));
        assert_eq!(stats.dry_run.average_duration_ms, Some(10.0));
    }

    #[test]
    fn an_empty_window_has_zeroes_and_no_ratios() {
        // Act
        let stats =
            Stats::from_buckets(&[], at("2026-01-01T00:00:00Z"), at("2026-01-02T00:00:00Z"));

        // Assert
        assert_eq!(stats.figures, Figures::default());
        assert!(stats.by_namespace.is_empty() && stats.by_type.is_empty());
        let json = serde_json::to_value(&stats).unwrap();
        assert_eq!(json["windowSeconds"], 86_400.0);
        assert_eq!(json["total"], 0);
        assert!(json["successRatio"].is_null());
        assert!(json["denialRate"].is_null());
        assert!(json["averageDurationMs"].is_null());
        assert_eq!(json["dryRun"]["total"], 0);
        assert!(json.get("note").is_none(), "{json}");
    }

    #[test]
    fn a_window_of_dry_runs_only_says_why_its_figures_are_zero() {
        // Arrange
        let buckets = [bucket(
            Some("prod"),
            Some("restart_pod"),
            AuditStatus::Succeeded,
            true,
            2,
            &[10, 20],
        )];

        // Act
        let stats = Stats::from_buckets(
            &buckets,
            at("2026-01-01T00:00:00Z"),
            at("2026-01-02T00:00:00Z"),
        );

        // Assert
        assert_eq!(stats.figures, Figures::default());
        assert_eq!(stats.dry_run.total, 2);
        assert_eq!(stats.note.as_deref(), Some(ONLY_DRY_RUNS_NOTE));
    }
}
