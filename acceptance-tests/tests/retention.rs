//! Retention that runs: through the real terraform CLI against a throwaway PostgreSQL 15
//! with pg_cron loaded, as on Supabase. Without the extension plan warns that expired rows
//! are not purged and apply still works; once it is installed the workbench's purge job is
//! drift until apply schedules it; the job's command deletes expired rows and keeps fresh
//! ones; a job edited by hand is repaired; destroying the last layer removes the job.

use anyhow::Result;
use ipai_acceptance_tests::postgres::TestPostgres;
use ipai_acceptance_tests::terraform::{ProviderBlock, Workspace};

const JOB: &str = "ipai/acc/purge_expired";

/// A bronze layer keeping rows `bronze_retention` days (measured on `ingested_at`) and,
/// with `silver`, a silver layer that keeps its rows forever.
fn config(ws: &Workspace, pg: &TestPostgres, bronze_retention: u32, silver: bool) -> String {
    let silver = if silver {
        r#"
resource "ipai_medallion_layer" "silver" {
  workbench           = ipai_workbench.main.id
  layer               = "silver"
  retention_days      = 0
  deletion_protection = false
  tables = [{
    name        = "customers"
    columns     = [{ name = "id", type = "text", nullable = false }]
    primary_key = ["id"]
  }]
}
"#
    } else {
        ""
    };
    format!(
        r#"{provider}resource "ipai_workbench" "main" {{
  name     = "acc"
  supabase = {{ project_ref = "accref", schema = "sales" }}
}}

resource "ipai_medallion_layer" "bronze" {{
  workbench           = ipai_workbench.main.id
  layer               = "bronze"
  retention_days      = {bronze_retention}
  deletion_protection = false
  force_destroy       = true
  tables = [{{
    name = "events"
    columns = [
      {{ name = "id", type = "text", nullable = false }},
      {{ name = "ingested_at", type = "timestamptz", nullable = false, default = "now()" }},
    ]
    primary_key = ["id"]
  }}]
}}
{silver}"#,
        provider = ProviderBlock::new(&ws.output_dir())
            .files_only()
            .database_url(&pg.url())
            .hcl(),
    )
}

/// The purge job as `cron.job` lists it: `schedule|command|active`, empty when missing.
fn job(pg: &TestPostgres) -> Result<String> {
    Ok(pg
        .psql(&format!(
            "SELECT schedule || '|' || command || '|' || active FROM cron.job WHERE jobname = '{JOB}'"
        ))?
        .trim()
        .to_owned())
}

const WARNING: &str = "Expired rows are not purged";

#[test]
fn retention_is_scheduled_with_pg_cron() -> Result<()> {
    let pg = TestPostgres::start_with_pg_cron()?;
    let ws = Workspace::new()?;

    // Without the extension: a warning on retention_days at plan, and apply still works.
    ws.write_config(&config(&ws, &pg, 30, true))?;
    let planned = ws.plan()?;
    assert_eq!(planned.code, 2, "{planned}");
    assert!(planned.contains(WARNING), "{planned}");
    assert!(planned.says("create extension pg_cron"), "{planned}");
    assert!(
        planned.says("with ipai_medallion_layer.bronze"),
        "{planned}"
    );
    assert_eq!(
        planned.output().matches(WARNING).count(),
        1,
        "only the layer that purges rows warns:\n{planned}"
    );
    let applied = ws.apply()?;
    assert!(applied.contains("3 added"), "{applied}");
    assert!(applied.contains(WARNING), "{applied}");
    assert_eq!(
        pg.psql("SELECT to_regclass('sales.events') IS NOT NULL")?
            .trim(),
        "t"
    );
    assert_eq!(ws.plan()?.code, 0, "without pg_cron nothing is drift");

    // Retention 0 keeps rows forever: nothing to schedule, nothing to warn about.
    ws.write_config(&config(&ws, &pg, 0, true))?;
    let forever = ws.plan()?;
    assert!(!forever.contains(WARNING), "{forever}");
    ws.write_config(&config(&ws, &pg, 30, true))?;

    // Installing pg_cron makes the missing job drift, which apply repairs.
    pg.psql("CREATE EXTENSION pg_cron")?;
    let drift = ws.plan()?;
    assert_eq!(drift.code, 2, "a missing purge job is drift:\n{drift}");
    assert!(!drift.contains(WARNING), "{drift}");
    assert!(
        drift.says(&format!(
            "pg_cron job {JOB} that purges expired rows is missing"
        )),
        "{drift}"
    );
    ws.apply()?;
    assert_eq!(
        job(&pg)?,
        r#"17 3 * * *|SELECT * FROM "ip_workbench"."purge_expired"()|true"#
    );
    let noop = ws.plan()?;
    assert_eq!(noop.code, 0, "a scheduled job plans no change:\n{noop}");

    // The job's own command deletes the rows past retention and keeps the others.
    pg.psql(
        "INSERT INTO sales.events (id, ingested_at) VALUES \
         ('old', now() - interval '31 days'), ('recent', now() - interval '29 days'), ('new', now())",
    )?;
    let command = pg.psql(&format!(
        "SELECT command FROM cron.job WHERE jobname = '{JOB}'"
    ))?;
    pg.psql(command.trim())?;
    assert_eq!(
        pg.psql("SELECT string_agg(id, ',' ORDER BY id) FROM sales.events")?
            .trim(),
        "new,recent"
    );

    // A job edited by hand is drift, named in the plan and repaired by apply.
    pg.psql(&format!(
        "UPDATE cron.job SET schedule = '0 * * * *' WHERE jobname = '{JOB}'"
    ))?;
    let edited = ws.plan()?;
    assert_eq!(edited.code, 2, "{edited}");
    assert!(
        edited.says(&format!("pg_cron job {JOB}: schedule is now 0 * * * *")),
        "{edited}"
    );
    ws.apply()?;
    assert!(job(&pg)?.starts_with("17 3 * * *|"), "{}", job(&pg)?);
    assert_eq!(ws.plan()?.code, 0);

    // The job outlives a destroyed layer while the workbench has another one.
    ws.run_ok(&[
        "destroy",
        "-auto-approve",
        "-no-color",
        "-target=ipai_medallion_layer.silver",
    ])?;
    assert!(
        !job(&pg)?.is_empty(),
        "the bronze layer still needs the job"
    );
    ws.destroy()?;
    assert_eq!(job(&pg)?, "", "destroying the last layer removes the job");
    assert_eq!(
        pg.psql("SELECT to_regclass('sales.events') IS NULL")?
            .trim(),
        "t"
    );
    Ok(())
}
