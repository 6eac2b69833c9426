//! `ipai_medallion_layer` through the real terraform CLI against a throwaway PostgreSQL 15:
//! apply, empty re-plan, a column added in place, a destructive change refused, import,
//! destroy refused by deletion protection, destroy with the flags.

use anyhow::Result;
use ipai_acceptance_tests::postgres::TestPostgres;
use ipai_acceptance_tests::terraform::{ProviderBlock, Workspace};

fn config(ws: &Workspace, pg: &TestPostgres, extra_column: &str, flags: &str) -> String {
    format!(
        r#"{provider}resource "ipai_workbench" "main" {{
  name = "acc"
}}

resource "ipai_medallion_layer" "silver" {{
  workbench = ipai_workbench.main.id
  layer     = "silver"
  schema    = "sales"
  {flags}
  tables = [{{
    name = "orders"
    columns = [
      {{ name = "id", type = "text", nullable = false }},
      {{ name = "amount", type = "numeric(12,2)", nullable = false }},
      {{ name = "note", type = "text" }},
      {extra_column}
    ]
    primary_key = ["id"]
    checks      = [{{ name = "amount_positive", expression = "amount > 0" }}]
  }}]
}}
"#,
        provider = ProviderBlock::new(&ws.output_dir())
            .files_only()
            .database_url(&pg.url())
            .hcl(),
    )
}

#[test]
fn medallion_layer_lifecycle() -> Result<()> {
    let pg = TestPostgres::start()?;
    let ws = Workspace::new()?;

    ws.write_config(&config(&ws, &pg, "", ""))?;
    let applied = ws.apply()?;
    assert!(applied.contains("2 added"), "{applied}");
    assert_eq!(
        pg.psql("SELECT to_regclass('sales.orders') IS NOT NULL")?
            .trim(),
        "t"
    );
    let files = std::fs::read_dir(ws.output_dir().join("acc/supabase/migrations"))?.count();
    assert!(files >= 2, "metadata and layer migrations are written");
    let noop = ws.plan()?;
    assert_eq!(noop.code, 0, "second plan must show no changes:\n{noop}");

    // A migration file edited by hand is drift: planned, rewritten by apply, then quiet.
    let migrations = ws.output_dir().join("acc/supabase/migrations");
    let layer_file = std::fs::read_dir(&migrations)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.to_string_lossy().ends_with("_sales_silver.sql"))
        .expect("the layer's migration file");
    let generated = std::fs::read_to_string(&layer_file)?;
    std::fs::write(
        &layer_file,
        format!("{generated}\nDROP TABLE sales.orders;\n"),
    )?;
    let drift = ws.plan()?;
    assert_eq!(drift.code, 2, "a hand-edited migration is drift:\n{drift}");
    assert!(drift.contains("1 to change"), "{drift}");
    ws.apply()?;
    assert_eq!(std::fs::read_to_string(&layer_file)?, generated);
    std::fs::remove_file(&layer_file)?;
    assert_eq!(ws.plan()?.code, 2, "a deleted migration is drift");
    ws.apply()?;
    assert_eq!(std::fs::read_to_string(&layer_file)?, generated);
    let noop = ws.plan()?;
    assert_eq!(noop.code, 0, "repaired files plan no change:\n{noop}");

    // A new column: updated in place, rows kept.
    pg.psql("INSERT INTO sales.orders (id, amount) VALUES ('o1', 10)")?;
    let channel = r#"{ name = "channel", type = "text", default = "'web'" },"#;
    ws.write_config(&config(&ws, &pg, channel, ""))?;
    let planned = ws.plan()?;
    assert_eq!(planned.code, 2, "{planned}");
    assert!(planned.contains("1 to change"), "{planned}");
    let applied = ws.apply()?;
    assert!(applied.contains("1 changed"), "{applied}");
    assert_eq!(pg.psql("SELECT channel FROM sales.orders")?.trim(), "web");
    assert_eq!(ws.plan()?.code, 0);
    // An earlier migration is repaired too, not only the latest one.
    std::fs::write(&layer_file, "-- emptied by hand\n")?;
    assert_eq!(ws.plan()?.code, 2, "an edited earlier migration is drift");
    ws.apply()?;
    assert_eq!(std::fs::read_to_string(&layer_file)?, generated);
    assert_eq!(ws.plan()?.code, 0);

    // Dropping a column is refused at plan, naming what would be lost.
    ws.write_config(&config(&ws, &pg, "", ""))?;
    let refused = ws.plan_err()?;
    assert!(refused.contains("Destructive change refused"), "{refused}");
    assert!(
        refused.contains("drop column sales.orders.channel"),
        "{refused}"
    );
    ws.write_config(&config(&ws, &pg, channel, ""))?;

    // Import rebuilds the state from the catalog.
    ws.run_ok(&["state", "rm", "-no-color", "ipai_medallion_layer.silver"])?;
    ws.import("ipai_medallion_layer.silver", "acc/sales/silver")?;
    assert!(
        ws.state_show("ipai_medallion_layer.silver")?
            .contains("acc/sales/silver")
    );

    // Destroy is refused while deletion protection is on; nothing is dropped.
    let refused = ws.run_err(&["destroy", "-auto-approve", "-no-color"])?;
    assert!(refused.contains("Deletion protection is on"), "{refused}");
    assert_eq!(pg.psql("SELECT count(*) FROM sales.orders")?.trim(), "1");

    // With protection off the table holding a row still needs force_destroy.
    ws.write_config(&config(&ws, &pg, channel, "deletion_protection = false"))?;
    ws.apply()?;
    let refused = ws.run_err(&["destroy", "-auto-approve", "-no-color"])?;
    assert!(refused.contains("force_destroy"), "{refused}");
    assert_eq!(pg.psql("SELECT count(*) FROM sales.orders")?.trim(), "1");
    ws.write_config(&config(
        &ws,
        &pg,
        channel,
        "deletion_protection = false\n  force_destroy = true",
    ))?;
    ws.apply()?;
    ws.destroy()?;
    assert_eq!(
        pg.psql("SELECT to_regclass('sales.orders') IS NULL")?
            .trim(),
        "t"
    );
    Ok(())
}

#[test]
fn bad_input_is_reported_at_plan_and_nothing_runs() -> Result<()> {
    let pg = TestPostgres::start()?;
    let ws = Workspace::new()?;
    let hcl = format!(
        r#"{provider}resource "ipai_medallion_layer" "bad" {{
  workbench = "nowhere"
  layer     = "silver"
  tables = [{{
    name        = "bad;name"
    columns     = [{{ name = "id", type = "money" }}]
    primary_key = ["id"]
  }}]
}}
"#,
        provider = ProviderBlock::new(&ws.output_dir())
            .files_only()
            .database_url(&pg.url())
            .hcl(),
    );
    ws.write_config(&hcl)?;
    let run = ws.plan_err()?;
    for needle in [
        "Unknown workbench",
        "Invalid identifier",
        "Unknown column type",
    ] {
        assert!(run.contains(needle), "{needle}:\n{run}");
    }
    assert_eq!(
        pg.psql("SELECT to_regclass('ip_workbench.tables') IS NULL")?
            .trim(),
        "t"
    );
    Ok(())
}
