//! Runs codegen's [`DataCheck`]s at plan: read-only queries over the rows a change touches,
//! so a change the existing rows would make PostgreSQL refuse is a diagnostic at plan
//! instead of a rolled-back apply. Nothing here writes: the transaction is READ ONLY (a
//! `DO` block that tried to write would fail) and is rolled back.

use std::time::Duration;

use ipai_codegen::supabase::datacheck::{DataCheck, Probe};
use tokio_postgres::Transaction;
use tokio_postgres::error::SqlState;

use super::{Postgres, Result, describe};

/// What a check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// No row stands in the way.
    Clean,
    /// `rows` rows would make the change fail; `sample` is the key of one of them.
    Violations {
        /// Number of offending rows.
        rows: i64,
        /// Primary key of the first offending row, as text.
        sample: Option<String>,
    },
    /// The check could not run (timed out, or the table is not as the state says); the
    /// migration still runs in one transaction and rolls back if the rows are in the way.
    Unchecked(String),
}

impl Postgres {
    /// Runs `checks` in one READ ONLY transaction, each statement bounded by `timeout`
    /// and each check in its own subtransaction, so one that fails leaves the others
    /// running. Returns what each found, in order.
    pub async fn check_rows(
        &mut self,
        checks: &[DataCheck],
        timeout: Duration,
    ) -> Result<Vec<Found>> {
        let tx = self
            .client
            .build_transaction()
            .read_only(true)
            .start()
            .await?;
        tx.batch_execute(&format!(
            "SET LOCAL statement_timeout = {}",
            timeout.as_millis().max(1)
        ))
        .await?;
        let mut found = Vec::with_capacity(checks.len());
        for c in checks {
            tx.batch_execute("SAVEPOINT ipai_check").await?;
            match probe(&tx, &c.probe).await {
                Ok(f) => {
                    tx.batch_execute("RELEASE SAVEPOINT ipai_check").await?;
                    found.push(f);
                }
                Err(e) => {
                    tx.batch_execute("ROLLBACK TO SAVEPOINT ipai_check").await?;
                    found.push(Found::Unchecked(unchecked(&e, timeout)));
                }
            }
        }
        tx.rollback().await?;
        Ok(found)
    }
}

/// Why a check could not run. A data exception's message may quote a row's value (e.g.
/// `invalid input syntax for type integer: "…"`), so only its code is kept.
fn unchecked(e: &tokio_postgres::Error, timeout: Duration) -> String {
    match e.code() {
        Some(c) if *c == SqlState::QUERY_CANCELED => {
            format!("it took longer than {timeout:?}")
        }
        Some(c) if c.code().starts_with("22") => format!("a data exception ({})", c.code()),
        _ => describe(e),
    }
}

async fn probe(tx: &Transaction<'_>, probe: &Probe) -> Result<Found, tokio_postgres::Error> {
    match probe {
        Probe::Rows(sql) => rows(tx, sql).await,
        Probe::Cast { any, count, result } => {
            // The set-based cast first: one scan, and nearly always every value converts.
            tx.batch_execute("SAVEPOINT ipai_cast").await?;
            match tx.query_typed(any, &[]).await {
                Ok(_) => {
                    tx.batch_execute("RELEASE SAVEPOINT ipai_cast").await?;
                    Ok(Found::Clean)
                }
                Err(e) if e.code() == Some(&SqlState::QUERY_CANCELED) => Err(e),
                Err(_) => {
                    // Some value does not convert: count them row by row.
                    tx.batch_execute("ROLLBACK TO SAVEPOINT ipai_cast").await?;
                    tx.batch_execute(count).await?;
                    rows(tx, result).await
                }
            }
        }
    }
}

async fn rows(tx: &Transaction<'_>, sql: &str) -> Result<Found, tokio_postgres::Error> {
    // No parameters; unnamed like every statement here (see `super::texts`).
    let row = tx.query_typed_one(sql, &[]).await?;
    let n: i64 = row.get(0);
    let sample: Option<String> = row.get(1);
    Ok(if n == 0 {
        Found::Clean
    } else {
        Found::Violations { rows: n, sample }
    })
}
