//! Retention that runs: one pg_cron job per workbench calls `ip_workbench.purge_expired()`
//! every day, so rows past their table's `retention_days` are deleted.
//!
//! The job is named after the workbench, so applying it again updates it in place
//! (`cron.schedule` upserts by name since pg_cron 1.3) and destroying the workbench's
//! last layer removes exactly it. Its name, schedule and command are fixed: anything
//! else found in `cron.job` is drift that the next apply repairs.

use serde_json::json;

use super::model::LayerModel;
use crate::sql::{quote_literal, quote_qualified};
use crate::{Renderer, Result};

/// When the job runs: every day at 03:17 UTC (pg_cron reads the schedule in UTC), off the
/// full hour when other maintenance jobs usually start.
pub const PURGE_SCHEDULE: &str = "17 3 * * *";

/// The pg_cron job that purges the expired rows of a workbench's tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurgeJob {
    /// `cron.job.jobname`: `ipai/<workbench>/purge_expired`.
    pub name: String,
    /// `cron.job.schedule`, see [`PURGE_SCHEDULE`].
    pub schedule: String,
    /// `cron.job.command`: `SELECT * FROM "ip_workbench"."purge_expired"()`.
    pub command: String,
}

/// The purge job of `workbench`.
pub fn purge_job(workbench: &str) -> PurgeJob {
    PurgeJob {
        name: format!("ipai/{workbench}/purge_expired"),
        schedule: PURGE_SCHEDULE.to_owned(),
        command: format!(
            "SELECT * FROM {}()",
            quote_qualified("ip_workbench", "purge_expired")
        ),
    }
}

/// True when applying `m` leaves rows that `purge_expired()` is to delete: the layer keeps
/// rows for a limited time and a table has a column retention is measured on.
pub fn purges(m: &LayerModel) -> bool {
    m.retention_days.is_some_and(|d| d > 0) && m.tables.iter().any(|t| t.retention_column.is_some())
}

impl PurgeJob {
    /// `SELECT cron.schedule(…)`: creates the job, or updates the one of the same name.
    pub fn schedule_sql(&self, r: &Renderer) -> Result<String> {
        r.render(
            "supabase/purge_job.sql",
            &json!({
                "name": quote_literal(&self.name),
                "schedule": quote_literal(&self.schedule),
                "command": quote_literal(&self.command),
            }),
        )
    }

    /// Removes the job of this name owned by the current user; does nothing when there is
    /// none (`cron.unschedule(name)` would fail).
    pub fn unschedule_sql(&self, r: &Renderer) -> Result<String> {
        r.render(
            "supabase/purge_job.sql",
            &json!({ "name": quote_literal(&self.name), "schedule": false, "command": false }),
        )
    }

    /// What differs between this job and the one found in `cron.job` (`None`: missing),
    /// one line each, e.g. `pg_cron job ipai/acc/purge_expired: schedule is now 0 * * * *`.
    pub fn drift(&self, found: Option<&FoundJob>) -> Vec<String> {
        let Some(found) = found else {
            return vec![format!(
                "pg_cron job {} that purges expired rows is missing",
                self.name
            )];
        };
        let mut out = Vec::new();
        if found.schedule != self.schedule {
            out.push(format!(
                "pg_cron job {}: schedule is now {}",
                self.name, found.schedule
            ));
        }
        if found.command != self.command {
            out.push(format!(
                "pg_cron job {}: command is now {}",
                self.name, found.command
            ));
        }
        if !found.active {
            out.push(format!("pg_cron job {} was deactivated", self.name));
        }
        out
    }
}

/// A job as `cron.job` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundJob {
    /// `schedule`.
    pub schedule: String,
    /// `command`.
    pub command: String,
    /// `active`.
    pub active: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_job_is_named_after_the_workbench_and_quoted() {
        let r = Renderer::embedded().unwrap();
        let job = purge_job("it's");
        assert_eq!(job.name, "ipai/it's/purge_expired");
        assert_eq!(
            job.schedule_sql(&r).unwrap().trim(),
            "SELECT cron.schedule('ipai/it''s/purge_expired', '17 3 * * *', \
             'SELECT * FROM \"ip_workbench\".\"purge_expired\"()');"
        );
        assert_eq!(
            job.unschedule_sql(&r).unwrap().trim(),
            "SELECT cron.unschedule(jobid) FROM cron.job WHERE jobname = \
             'ipai/it''s/purge_expired' AND username = current_user;"
        );
    }

    #[test]
    fn a_changed_or_missing_job_is_drift() {
        let job = purge_job("acc");
        let same = FoundJob {
            schedule: job.schedule.clone(),
            command: job.command.clone(),
            active: true,
        };
        assert!(job.drift(Some(&same)).is_empty());
        assert_eq!(
            job.drift(None),
            ["pg_cron job ipai/acc/purge_expired that purges expired rows is missing"]
        );
        let edited = FoundJob {
            schedule: "0 * * * *".into(),
            command: "SELECT 1".into(),
            active: false,
        };
        assert_eq!(
            job.drift(Some(&edited)),
            [
                "pg_cron job ipai/acc/purge_expired: schedule is now 0 * * * *",
                "pg_cron job ipai/acc/purge_expired: command is now SELECT 1",
                "pg_cron job ipai/acc/purge_expired was deactivated",
            ]
        );
    }
}
