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

/// A view or foreign key outside a set of relations that depends on one of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependent {
    /// `view` or `foreign key`.
    pub kind: &'static str,
    /// `<schema>.<name>` of the dependent view or of the table holding the foreign key.
    pub relation: String,
    /// Its medallion layer, when `ip_workbench.tables` registers it.
    pub layer: Option<String>,
    /// `<schema>.<name>` of the relation it depends on.
    pub on: String,
}

impl std::fmt::Display for Dependent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let of = match &self.layer {
            Some(l) => format!(" of the {l} layer"),
            None => " (not managed by ipai)".to_owned(),
        };
        match self.kind {
            "view" => write!(f, "view {}{of} reads {}", self.relation, self.on),
            _ => write!(
                f,
                "table {}{of} has a foreign key into {}",
                self.relation, self.on
            ),
        }
    }
}

/// Views (through their rewrite rules) and foreign keys that depend on a relation of
/// `relations` (names in `schema`) and are not among them: what makes dropping them fail.
const DEPENDENTS: &str = "\
WITH mine AS (
  SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname = $1 AND c.relname IN (SELECT jsonb_array_elements_text($2::jsonb))
), deps AS (
  SELECT DISTINCT 'view' AS kind, w.ev_class AS dependent, d.refobjid AS target
  FROM pg_depend d JOIN pg_rewrite w ON w.oid = d.objid
  WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass
    AND d.refobjid IN (SELECT oid FROM mine) AND w.ev_class NOT IN (SELECT oid FROM mine)
  UNION
  SELECT DISTINCT 'foreign key', k.conrelid, k.confrelid FROM pg_constraint k
  WHERE k.contype = 'f' AND k.confrelid IN (SELECT oid FROM mine)
    AND k.conrelid NOT IN (SELECT oid FROM mine)
)
SELECT d.kind, dn.nspname, dc.relname, tn.nspname || '.' || tc.relname
FROM deps d
JOIN pg_class dc ON dc.oid = d.dependent JOIN pg_namespace dn ON dn.oid = dc.relnamespace
JOIN pg_class tc ON tc.oid = d.target JOIN pg_namespace tn ON tn.oid = tc.relnamespace
ORDER BY 2, 3, 1, 4";

impl Postgres {
    /// What outside `relations` of `schema` depends on them (see [`Dependent`]), with the
    /// layer `ip_workbench.tables` registers each in. Read before a layer is dropped, so a
    /// drop PostgreSQL would refuse is explained instead of attempted.
    pub async fn dependents(&self, schema: &str, relations: &[String]) -> Result<Vec<Dependent>> {
        let names = serde_json::Value::from(relations.to_vec()).to_string();
        let rows = super::query_rows(&self.client, DEPENDENTS, &[&schema, &names]).await?;
        let registered: bool = super::query_row(
            &self.client,
            "SELECT to_regclass('ip_workbench.tables') IS NOT NULL",
            &[],
        )
        .await?
        .get(0);
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let kind: String = r.get(0);
            let (dep_schema, dep_name): (String, String) = (r.get(1), r.get(2));
            let layer = if registered {
                super::query_rows(
                    &self.client,
                    "SELECT layer FROM ip_workbench.tables WHERE schema_name = $1 AND table_name = $2",
                    &[&dep_schema, &dep_name],
                )
                .await?
                .first()
                .map(|l| l.get::<_, String>(0))
            } else {
                None
            };
            out.push(Dependent {
                kind: if kind == "view" {
                    "view"
                } else {
                    "foreign key"
                },
                relation: format!("{dep_schema}.{dep_name}"),
                layer,
                on: r.get(3),
            });
        }
        Ok(out)
    }
}
