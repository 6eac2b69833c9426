//! The examples users copy from must work: the quickstart (through the workbench module) and
//! every `examples/resources/<type>/resource.tf`, applied together with the provider example,
//! and the scout medallion module against a throwaway PostgreSQL.

use anyhow::Result;
use ipai_acceptance_tests::postgres::TestPostgres;
use ipai_acceptance_tests::terraform::{
    ProviderBlock, Workspace, copy_tree, files_under, repo_root,
};

#[test]
fn quickstart_applies_offline_and_plans_clean() -> Result<()> {
    let ws = Workspace::new()?;
    let examples = repo_root().join("examples");
    copy_tree(&examples.join("quickstart"), &ws.path())?;
    std::fs::remove_dir_all(ws.path().join("generated")).ok();
    // `../modules/workbench` from the working directory.
    copy_tree(&examples.join("modules"), &ws.root().join("modules"))?;

    // `get` installs the local module; `init` would also look the overridden provider up in
    // the registry (Terraform before 1.15 does), which fails offline.
    ws.run_ok(&["get", "-no-color"])?;
    ws.apply()?;
    let generated = files_under(&ws.path().join("generated"))?;
    assert!(
        generated
            .iter()
            .any(|p| p.ends_with("quickstart/workbench.json")),
        "{generated:?}"
    );
    let noop = ws.plan()?;
    assert_eq!(noop.code, 0, "{noop}");
    ws.destroy()?;
    assert!(files_under(&ws.path().join("generated"))?.is_empty());
    Ok(())
}

#[test]
fn resource_examples_apply_together() -> Result<()> {
    let ws = Workspace::new()?;
    let examples = repo_root().join("examples");
    let provider = std::fs::read_to_string(examples.join("provider/provider.tf"))?;
    ws.write_config(&provider)?;
    let mut types = Vec::new();
    for entry in std::fs::read_dir(examples.join("resources"))? {
        let dir = entry?.path();
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        ws.write_file(
            &format!("{name}.tf"),
            &std::fs::read_to_string(dir.join("resource.tf"))?,
        )?;
        types.push(name);
    }
    assert!(types.iter().any(|t| t == "ipai_workbench"), "{types:?}");
    ws.apply()?;
    let noop = ws.plan()?;
    assert_eq!(noop.code, 0, "{noop}");
    // Medallion layers are protected by default: destroy is refused until protection is off.
    let refused = ws.run(&["destroy", "-auto-approve", "-no-color"])?;
    assert_eq!(refused.code, 1, "{refused}");
    assert!(
        refused.stderr.contains("Deletion protection is on"),
        "{refused}"
    );
    let layer_tf = "ipai_medallion_layer.tf";
    let header = "resource \"ipai_medallion_layer\" \"silver\" {";
    let layer = std::fs::read_to_string(ws.path().join(layer_tf))?;
    assert!(layer.contains(header), "{layer}");
    ws.write_file(
        layer_tf,
        &layer.replace(header, &format!("{header}\n  deletion_protection = false")),
    )?;
    ws.apply()?;
    ws.destroy()?;
    Ok(())
}

/// A root configuration using `examples/modules/scout_medallion` with `module_args` set.
fn scout_config(ws: &Workspace, pg: &TestPostgres, module_args: &str) -> String {
    format!(
        r#"{provider}resource "ipai_workbench" "main" {{
  name = "scout"
}}

module "scout" {{
  source    = "../modules/scout_medallion"
  workbench = ipai_workbench.main.id
  {module_args}
}}
"#,
        provider = ProviderBlock::new(&ws.output_dir())
            .files_only()
            .database_url(&pg.url())
            .hcl(),
    )
}

#[test]
fn scout_medallion_module_applies_fresh_and_enforces_the_silver_rules() -> Result<()> {
    let pg = TestPostgres::start()?;
    let ws = Workspace::new()?;
    copy_tree(
        &repo_root().join("examples/modules"),
        &ws.root().join("modules"),
    )?;
    ws.write_config(&scout_config(&ws, &pg, ""))?;
    ws.run_ok(&["get", "-no-color"])?;

    // One plan for all four layers: platinum's view reads silver's table before either exists.
    let applied = ws.apply()?;
    assert!(applied.contains("5 added"), "{applied}");
    let noop = ws.plan()?;
    assert_eq!(noop.code, 0, "second plan must show no changes:\n{noop}");

    let insert = |id: &str, category: &str, amount: &str, date: &str| {
        pg.psql(&format!(
            "INSERT INTO scout.silver_validated_transactions \
             (transaction_id, bronze_id, store_id, category, amount, txn_date) \
             VALUES ('{id}', gen_random_uuid(), 's1', '{category}', {amount}, {date})"
        ))
    };
    insert("t1", "snacks", "12.50", "current_date")?;
    let rejected = [
        (
            insert("t2", "snacks", "0", "current_date"),
            "amount_positive",
        ),
        (
            insert("t3", "snacks", "5", "current_date + 1"),
            "date_not_future",
        ),
        (
            insert("t4", "weapons", "5", "current_date"),
            "category_allowed",
        ),
        (
            insert("t1", "snacks", "5", "current_date"),
            "duplicate key value",
        ),
    ];
    for (outcome, rule) in rejected {
        let err = outcome.expect_err(rule);
        assert!(format!("{err:#}").contains(rule), "{rule}: {err:#}");
    }
    assert_eq!(
        pg.psql("SELECT count(*) FROM scout.silver_validated_transactions")?
            .trim(),
        "1"
    );
    assert_eq!(
        pg.psql("SELECT id FROM scout.platinum_transaction_embeddings")?
            .trim(),
        "t1"
    );

    // Gold follows silver without a refresh: last month's 10.00 against this month's 12.50.
    insert(
        "t5",
        "snacks",
        "10.00",
        "date_trunc('month', current_date)::date - 1",
    )?;
    insert("t6", "beverages", "3.00", "current_date")?;
    assert_eq!(
        pg.psql(
            "SELECT string_agg(concat_ws(' ', to_char(month, 'YYYY-MM') = to_char(current_date, 'YYYY-MM'), \
             category, total_amount, transaction_count, previous_amount, growth_pct), '; ' \
             ORDER BY month, category) FROM scout.gold_monthly_summary"
        )?
        .trim(),
        "f snacks 10.00 1; t beverages 3.00 1; t snacks 12.50 1 10.00 25.00"
    );

    // Protected by default; the module's flags let destroy drop the layers, rows and all.
    let refused = ws.run_err(&["destroy", "-auto-approve", "-no-color"])?;
    assert!(refused.contains("Deletion protection is on"), "{refused}");
    ws.write_config(&scout_config(
        &ws,
        &pg,
        "deletion_protection = false\n  force_destroy       = true",
    ))?;
    ws.apply()?;
    ws.destroy()?;
    assert_eq!(
        pg.psql("SELECT to_regclass('scout.silver_validated_transactions') IS NULL")?
            .trim(),
        "t"
    );
    Ok(())
}
