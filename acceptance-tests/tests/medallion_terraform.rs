//! `ipai_medallion_layer` through the real terraform CLI against a throwaway PostgreSQL 15:
//! apply, empty re-plan, a column added in place, a column widened in place, a destructive
//! change refused, import, destroy refused by deletion protection, destroy with the flags;
//! the same through a transaction-mode pooler (Supabase's port 6543); a bad `database_url`
//! refused at plan without its password in the output.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Result;
use ipai_acceptance_tests::postgres::{TestPgBouncer, TestPostgres};
use ipai_acceptance_tests::terraform::{ProviderBlock, Workspace, files_under, required_providers};

/// The layer leaves `schema` unset: it is the workbench's `supabase.schema`.
fn config(ws: &Workspace, pg: &TestPostgres, extra_column: &str, flags: &str) -> String {
    config_at(ws, &pg.url(), extra_column, flags)
}

fn config_at(ws: &Workspace, database_url: &str, extra_column: &str, flags: &str) -> String {
    format!(
        r#"{provider}resource "ipai_workbench" "main" {{
  name     = "acc"
  supabase = {{ project_ref = "accref", schema = "sales" }}
}}

resource "ipai_medallion_layer" "silver" {{
  workbench = ipai_workbench.main.id
  layer     = "silver"
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
            .database_url(database_url)
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
    let shown = ws.state_show("ipai_medallion_layer.silver")?;
    assert!(
        shown.lines().any(|l| {
            let l = l.trim();
            l.starts_with("schema ") && l.ends_with(r#"= "sales""#)
        }),
        "the schema taken from the workbench is in state:\n{shown}"
    );
    assert!(shown.contains("acc/sales/silver"), "{shown}");
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
    let noop = ws.plan()?;
    assert_eq!(noop.code, 0, "an imported layer plans no change:\n{noop}");

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

/// What a refused plan must leave as it was: the database's relations and migration
/// ledger, and every file under the output directory.
fn untouched(ws: &Workspace, pg: &TestPostgres) -> Result<(String, BTreeMap<PathBuf, Vec<u8>>)> {
    let catalog = pg.psql(
        "SELECT (SELECT string_agg(format('%s.%s:%s', n.nspname, c.relname, c.relkind), ',' \
           ORDER BY n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
           WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')) \
         || ' | ' || coalesce((SELECT string_agg(format('%s %s %s', resource, version, checksum), ',' \
           ORDER BY resource, version) FROM ip_workbench.migrations), 'no ledger rows')",
    )?;
    let out = ws.output_dir();
    let files = files_under(&out)?
        .into_iter()
        .map(|p| Ok((p.clone(), std::fs::read(out.join(&p))?)))
        .collect::<Result<_>>()?;
    Ok((catalog, files))
}

/// `hcl` must fail at plan with every one of `expected`, executing nothing in PostgreSQL
/// and writing no file.
fn refused_at_plan(ws: &Workspace, pg: &TestPostgres, hcl: &str, expected: &[&str]) -> Result<()> {
    let before = untouched(ws, pg)?;
    ws.write_config(hcl)?;
    let plan = ws.plan_err()?;
    for e in expected {
        // Terraform wraps a diagnostic's detail across lines.
        assert!(plan.says(e), "missing {e:?} in:\n{plan}");
    }
    assert!(
        before == untouched(ws, pg)?,
        "a refused plan changed the database or the files:\n{plan}"
    );
    Ok(())
}

#[test]
fn bad_input_is_reported_at_plan_and_nothing_runs() -> Result<()> {
    let pg = TestPostgres::start()?;
    let ws = Workspace::new()?;
    let provider = ProviderBlock::new(&ws.output_dir())
        .files_only()
        .database_url(&pg.url())
        .hcl();
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
"#
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

    // With a workbench and a layer applied, each bad gold layer added next to them is
    // refused at plan, and the database, its ledger and the files stay as they were.
    let applied = config(&ws, &pg, "", "");
    ws.write_config(&applied)?;
    ws.apply()?;
    let gold = |body: &str| {
        format!(
            r#"{applied}
resource "ipai_medallion_layer" "gold" {{
  workbench = ipai_workbench.main.id
  layer     = "gold"
  schema    = "sales"
{body}
}}
"#
        )
    };
    let table = |name: &str, column: &str| {
        format!(
            r#"  tables = [{{
    name        = "{name}"
    columns     = [{{ name = "{column}", type = "text", nullable = false }}]
    primary_key = ["{column}"]
  }}]"#
        )
    };
    let long_name = "n".repeat(64);
    for (body, expected) in [
        (table(r#"bad\"quote"#, "id"), vec!["Invalid identifier", r#"bad\"quote"#, "Attribute: tables[0].name"]),
        (table("daily", "id;drop"), vec!["Invalid identifier", "id;drop", "Attribute: tables[0].columns[0].name"]),
        (table("has space", "id"), vec!["Invalid identifier", "has space", "Attribute: tables[0].name"]),
        (table(&long_name, "id"), vec!["Invalid identifier", "64 bytes long", "Attribute: tables[0].name"]),
        (table("daily", "select"), vec!["Invalid identifier", "reserved word", "Attribute: tables[0].columns[0].name"]),
        (
            format!("{}\n  views = [{{ name = \"daily\", query = \"select 1 as one\" }}]", table("daily", "id")),
            vec!["Duplicate table", "daily", "Attribute: views[0].name"],
        ),
        (
            format!(
                "{}\n  rls = {{ policies = [{{ name = \"mine\", table = \"daily\", command = \"select\", roles = [\"authenticated\"], using = \"owner = (select auth.uid())\" }}] }}",
                table("daily", "id")
            ),
            vec!["Invalid policy expression", "owner", "Attribute: rls.policies[0].using"],
        ),
        (
            r#"  views = [{ name = "totals", query = "select count(*) as n from missing_orders" }]"#.to_owned(),
            vec!["Invalid view query", "missing_orders", "Attribute: views[0].query"],
        ),
    ] {
        refused_at_plan(&ws, &pg, &gold(&body), &expected)?;
    }
    Ok(())
}

fn tenant_config(ws: &Workspace, pg: &TestPostgres, tenant_type: &str, flags: &str) -> String {
    format!(
        r#"{provider}resource "ipai_workbench" "main" {{
  name = "acc"
}}

resource "ipai_medallion_layer" "silver" {{
  workbench = ipai_workbench.main.id
  layer     = "silver"
  schema    = "tenants"
  {flags}
  rls = {{
    presets       = ["service_role_full_access", "authenticated_read_only", "tenant_isolation"]
    tenant_column = "tenant_id"
    tenant_claim  = "org_id"
    policies = [{{
      name        = "tenant_set"
      table       = "invoices"
      command     = "select"
      roles       = ["authenticated"]
      using       = "tenant_id is not null"
      restrictive = true
    }}]
  }}
  tables = [{{
    name = "invoices"
    columns = [
      {{ name = "id", type = "text", nullable = false }},
      {{ name = "tenant_id", type = "{tenant_type}", nullable = false }},
      {{ name = "total", type = "numeric(12,2)", nullable = false }},
    ]
    primary_key = ["id"]
  }}]
}}
"#,
        provider = ProviderBlock::new(&ws.output_dir())
            .files_only()
            .database_url(&pg.url())
            .hcl(),
    )
}

/// Rows of `tenants.invoices` that `role` sees with JWT `claims`, as PostgREST asks.
fn visible(pg: &TestPostgres, role: &str, claims: &str) -> Result<String> {
    Ok(pg
        .psql(&format!(
            "SET LOCAL ROLE {role}; SET LOCAL request.jwt.claims = '{claims}'; \
             SELECT coalesce(string_agg(id, ',' ORDER BY id), '-') FROM tenants.invoices"
        ))?
        .trim()
        .to_owned())
}

#[test]
fn retyping_a_column_tenant_policies_read_keeps_rls() -> Result<()> {
    let pg = TestPostgres::start()?;
    let ws = Workspace::new()?;
    let (a, b) = (
        "11111111-1111-1111-1111-111111111111",
        "22222222-2222-2222-2222-222222222222",
    );
    ws.write_config(&tenant_config(&ws, &pg, "uuid", ""))?;
    ws.apply()?;
    pg.psql(&format!(
        "INSERT INTO tenants.invoices (id, tenant_id, total) VALUES ('i1', '{a}', 10), ('i2', '{b}', 20)"
    ))?;
    let claims = |t: &str| format!(r#"{{"role": "authenticated", "org_id": "{t}"}}"#);
    assert_eq!(visible(&pg, "authenticated", &claims(a))?, "i1");

    // uuid to text: the tenant policy's expression changes, the custom policy's does not,
    // yet PostgreSQL refuses to retype a column either reads while it exists.
    ws.write_config(&tenant_config(
        &ws,
        &pg,
        "text",
        "allow_destructive_changes = true",
    ))?;
    let planned = ws.plan()?;
    assert_eq!(planned.code, 2, "{planned}");
    assert!(planned.contains("1 to change"), "{planned}");
    let applied = ws.apply()?;
    assert!(applied.contains("1 changed"), "{applied}");
    assert_eq!(
        pg.psql("SELECT data_type FROM information_schema.columns WHERE table_schema = 'tenants' AND column_name = 'tenant_id'")?
            .trim(),
        "text"
    );
    let noop = ws.plan()?;
    assert_eq!(noop.code, 0, "second plan must show no changes:\n{noop}");

    // The rows survived and RLS still isolates tenants.
    assert_eq!(
        pg.psql("SELECT string_agg(id || ':' || tenant_id || ':' || total, ',' ORDER BY id) FROM tenants.invoices")?
            .trim(),
        format!("i1:{a}:10.00,i2:{b}:20.00")
    );
    assert_eq!(visible(&pg, "authenticated", &claims(a))?, "i1");
    assert_eq!(visible(&pg, "authenticated", &claims(b))?, "i2");
    assert_eq!(
        visible(&pg, "authenticated", r#"{"role": "authenticated"}"#)?,
        "-",
        "no tenant claim, no rows"
    );
    assert_eq!(
        visible(&pg, "service_role", r#"{"role": "service_role"}"#)?,
        "i1,i2"
    );
    let policies = pg.psql(
        "SELECT string_agg(policyname, ',' ORDER BY policyname) FROM pg_policies WHERE schemaname = 'tenants'",
    )?;
    assert_eq!(
        policies.trim(),
        "authenticated_read_only,service_role_full_access,tenant_isolation,tenant_set"
    );
    Ok(())
}

/// Supabase's pooler on port 6543 (transaction mode): apply, read (an empty re-plan), an
/// update in place and destroy all go through PgBouncer in transaction mode.
#[test]
fn medallion_layer_through_a_transaction_pooler() -> Result<()> {
    let pg = TestPostgres::start()?;
    let bouncer = TestPgBouncer::start(&pg)?;
    let ws = Workspace::new()?;
    let url = bouncer.url_as("postgres");
    ws.write_config(&config_at(&ws, &url, "", "deletion_protection = false"))?;
    let applied = ws.apply()?;
    assert!(applied.contains("2 added"), "{applied}\n{}", bouncer.log());
    let noop = ws.plan()?;
    assert_eq!(noop.code, 0, "second plan must show no changes:\n{noop}");
    let channel = r#"{ name = "channel", type = "text" },"#;
    ws.write_config(&config_at(
        &ws,
        &url,
        channel,
        "deletion_protection = false",
    ))?;
    assert!(ws.apply()?.contains("1 changed"));
    assert_eq!(ws.plan()?.code, 0);
    assert_eq!(
        pg.psql("SELECT count(*) FROM information_schema.columns WHERE table_name = 'orders'")?
            .trim(),
        "4"
    );
    ws.destroy()?;
    assert_eq!(
        pg.psql("SELECT to_regclass('sales.orders') IS NULL")?
            .trim(),
        "t"
    );
    Ok(())
}

/// The password kept out of the configuration, as in CI: against a server that asks for a
/// password (scram-sha-256), a URL without one is refused at plan with "Cannot connect";
/// `PGPASSWORD` in terraform's environment, or a 0600 password file named by `PGPASSFILE`,
/// supplies it. No output ever shows it.
#[test]
fn the_password_comes_from_pgpassword_or_the_password_file() -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    // `:` and `\` need escaping in the password file.
    const PASSWORD: &str = "Dep:loy\\S3cret";
    let pg = TestPostgres::start()?;
    pg.require_password("deployer", PASSWORD)?;
    let mut ws = Workspace::new()?;
    let url = format!(
        "postgresql://deployer@127.0.0.1:{}/postgres?sslmode=disable",
        pg.port()
    );
    let flags = "deletion_protection = false";
    ws.write_config(&config_at(&ws, &url, "", flags))?;
    let pgpass = ws.root().join("pgpass");
    // Empty, as libpq: no password; and no ~/.pgpass of the machine.
    ws.set_env("PGPASSWORD", "");
    ws.set_env("PGPASSFILE", &pgpass.display().to_string());
    let shown = |run: &ipai_acceptance_tests::terraform::Run| {
        assert!(!run.output().contains("S3cret"), "{run}");
    };

    let refused = ws.plan_err()?;
    shown(&refused);
    assert!(
        refused.says("Error: Cannot connect to the database"),
        "{refused}"
    );
    assert!(refused.says("password missing"), "{refused}");
    assert!(refused.says("PGPASSWORD"), "{refused}");

    ws.set_env("PGPASSWORD", "wrong");
    let refused = ws.plan_err()?;
    assert!(refused.says("password authentication failed"), "{refused}");
    assert!(
        refused.says("the password came from PGPASSWORD"),
        "{refused}"
    );

    ws.set_env("PGPASSWORD", PASSWORD);
    let applied = ws.apply()?;
    shown(&applied);
    assert!(applied.contains("2 added"), "{applied}");
    assert_eq!(ws.plan()?.code, 0, "second plan must show no changes");
    assert_eq!(
        pg.psql("SELECT tableowner FROM pg_tables WHERE schemaname = 'sales'")?
            .trim(),
        "deployer"
    );

    // The password file, in libpq's format; ignored while others may read it.
    ws.set_env("PGPASSWORD", "");
    let line = format!(
        "# deployer\nother:*:*:*:nope\n127.0.0.1:{}:postgres:deployer:{}\n",
        pg.port(),
        PASSWORD.replace('\\', "\\\\").replace(':', "\\:")
    );
    std::fs::write(&pgpass, line)?;
    std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(0o644))?;
    let refused = ws.plan_err()?;
    assert!(refused.says("password missing"), "{refused}");
    std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(0o600))?;
    let channel = r#"{ name = "channel", type = "text" },"#;
    ws.write_config(&config_at(&ws, &url, channel, flags))?;
    let updated = ws.apply()?;
    shown(&updated);
    assert!(updated.contains("1 changed"), "{updated}");
    assert_eq!(ws.plan()?.code, 0, "second plan must show no changes");
    ws.destroy()?;
    assert_eq!(
        pg.psql("SELECT to_regclass('sales.orders') IS NULL")?
            .trim(),
        "t"
    );
    Ok(())
}

/// A `database_url` the provider cannot use is a diagnostic on it at plan, which never
/// shows the URL or its password (passed as a sensitive variable, as users do).
#[test]
fn a_bad_database_url_is_refused_without_showing_it() -> Result<()> {
    let mut ws = Workspace::new()?;
    let hcl = format!(
        r#"{}
variable "database_url" {{
  type      = string
  sensitive = true
}}

provider "ipai" {{
  output_dir   = {:?}
  files_only   = true
  database_url = var.database_url
}}

resource "ipai_workbench" "main" {{
  name = "acc"
}}
"#,
        required_providers(),
        ws.output_dir().display().to_string(),
    );
    ws.write_config(&hcl)?;
    for (url, expected) in [
        (
            "postgres://app:S3cretPw@db.example.com:6543/postgres?sslmode=verify",
            "sslmode \"verify\" is not supported",
        ),
        (
            "postgres://app:S3cretPw@db.example.com:6543/postgres?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem",
            "sslrootcert /nonexistent/ca.pem cannot be read",
        ),
    ] {
        ws.set_env("TF_VAR_database_url", url);
        let plan = ws.plan_err()?;
        assert!(plan.says("Error: Invalid database_url"), "{plan}");
        assert!(plan.says(expected), "{expected}:\n{plan}");
        assert!(plan.says("database_url = var.database_url"), "{plan}");
        let text = plan.output();
        assert!(
            !text.contains("S3cretPw") && !text.contains("db.example.com"),
            "{plan}"
        );
    }
    Ok(())
}

#[test]
fn a_change_another_layer_depends_on_is_refused_at_plan() -> Result<()> {
    let pg = TestPostgres::start()?;
    let ws = Workspace::new()?;
    let with_gold = |amount_type: &str, flags: &str| {
        let silver = config(&ws, &pg, "", flags).replace("numeric(12,2)", amount_type);
        format!(
            r#"{silver}
resource "ipai_medallion_layer" "gold" {{
  workbench  = ipai_workbench.main.id
  layer      = "gold"
  schema     = "sales"
  depends_on = [ipai_medallion_layer.silver]
  views      = [{{ name = "big_orders", query = "select id, amount from orders where amount > 100" }}]
}}
"#
        )
    };
    ws.write_config(&with_gold("numeric(12,2)", ""))?;
    ws.apply()?;
    // The gold view reads amount: retyping it in silver is refused at plan, naming the view,
    // even with allow_destructive_changes; nothing runs and no file changes.
    refused_at_plan(
        &ws,
        &pg,
        &with_gold("numeric(14,4)", "allow_destructive_changes = true"),
        &[
            "Change blocked by another layer",
            "sales.big_orders of the gold layer reads it",
            "Attribute: tables[0].columns[1].type",
        ],
    )?;
    // Widening it needs no allow_destructive_changes, but PostgreSQL refuses any ALTER TYPE
    // under a view: refused at plan just the same.
    refused_at_plan(
        &ws,
        &pg,
        &with_gold("numeric(16,2)", ""),
        &[
            "Change blocked by another layer",
            "sales.big_orders of the gold layer reads it",
            "Attribute: tables[0].columns[1].type",
        ],
    )?;
    // Dropping note, which the view does not read, goes through.
    let without_note = with_gold("numeric(12,2)", "allow_destructive_changes = true")
        .replace("{ name = \"note\", type = \"text\" },", "");
    ws.write_config(&without_note)?;
    ws.apply()?;
    assert_eq!(ws.plan()?.code, 0);
    assert_eq!(
        pg.psql("SELECT count(*) FROM information_schema.columns WHERE table_schema = 'sales' AND table_name = 'orders' AND column_name = 'note'")?
            .trim(),
        "0"
    );
    Ok(())
}

/// Types of `sales.orders`' id, tenant_id, code and amount.
type OrderTypes<'a> = [&'a str; 4];

/// A silver layer whose table has tenant isolation, a unique key, a CHECK rule and a view
/// reading the typed columns.
fn typed_config(ws: &Workspace, pg: &TestPostgres, types: OrderTypes) -> String {
    let [id, tenant_id, code, amount] = types;
    format!(
        r#"{provider}resource "ipai_workbench" "main" {{
  name = "acc"
}}

resource "ipai_medallion_layer" "silver" {{
  workbench = ipai_workbench.main.id
  layer     = "silver"
  schema    = "sales"
  rls = {{
    presets       = ["service_role_full_access", "authenticated_read_only", "tenant_isolation"]
    tenant_column = "tenant_id"
    tenant_claim  = "org_id"
  }}
  tables = [{{
    name = "orders"
    columns = [
      {{ name = "id", type = "{id}", nullable = false }},
      {{ name = "tenant_id", type = "{tenant_id}", nullable = false }},
      {{ name = "code", type = "{code}", nullable = false }},
      {{ name = "amount", type = "{amount}", nullable = false }},
    ]
    primary_key = ["id"]
    unique      = [["code"]]
    checks      = [{{ name = "amount_positive", expression = "amount > 0" }}]
  }}]
  views = [{{
    name  = "tenant_totals"
    query = "select tenant_id, sum(amount) as amount from orders group by tenant_id"
  }}]
}}
"#,
        provider = ProviderBlock::new(&ws.output_dir())
            .files_only()
            .database_url(&pg.url())
            .hcl(),
    )
}

/// Every row of `sales.orders` as PostgreSQL prints it, in key order.
fn order_rows(pg: &TestPostgres) -> Result<String> {
    pg.psql("SELECT string_agg(o::text, ';' ORDER BY id) FROM sales.orders o")
}

#[test]
fn widening_a_column_is_an_update_in_place_and_narrowing_is_refused() -> Result<()> {
    let pg = TestPostgres::start()?;
    let ws = Workspace::new()?;
    let narrow = ["integer", "varchar(8)", "varchar(8)", "numeric(10,2)"];
    ws.write_config(&typed_config(&ws, &pg, narrow))?;
    ws.apply()?;
    // Values at the limits of the narrow types.
    pg.psql(
        "INSERT INTO sales.orders (id, tenant_id, code, amount) VALUES \
         (-2147483648, 'a', 'ÄÖÜäöüß€', 99999999.99), (2147483647, 'a', 'x  ', 0.01), \
         (0, 'bbbbbbbb', '', 1.50)",
    )?;
    let rows = order_rows(&pg)?;
    assert_eq!(tenant_a_sees(&pg, "sales.orders")?, "2");

    // Widened without allow_destructive_changes: an update in place, the tenant policy and
    // the view rebuilt around it, every row as it was.
    let wide = ["bigint", "text", "varchar(32)", "numeric(12,2)"];
    ws.write_config(&typed_config(&ws, &pg, wide))?;
    let planned = ws.plan()?;
    assert_eq!(planned.code, 2, "{planned}");
    assert!(planned.says("1 to change"), "{planned}");
    let applied = ws.apply()?;
    assert!(applied.contains("1 changed"), "{applied}");
    let noop = ws.plan()?;
    assert_eq!(noop.code, 0, "second plan must show no changes:\n{noop}");
    assert_eq!(
        pg.psql(
            "SELECT string_agg(format_type(atttypid, atttypmod), ', ' ORDER BY attnum) \
             FROM pg_attribute WHERE attrelid = 'sales.orders'::regclass AND attnum > 0"
        )?
        .trim(),
        "bigint, text, character varying(32), numeric(12,2)"
    );
    assert_eq!(order_rows(&pg)?, rows, "the rows are byte-identical");
    assert_eq!(tenant_a_sees(&pg, "sales.orders")?, "2");
    assert_eq!(tenant_a_sees(&pg, "sales.tenant_totals")?, "1");
    // The wider types take what the narrow ones refused.
    pg.psql(
        "INSERT INTO sales.orders (id, tenant_id, code, amount) \
         VALUES (2147483648, 'tenant-c', 'longer than eight', 9999999999.99)",
    )?;

    // Narrowing back is refused at plan, naming what would be lost; nothing runs.
    let rows = order_rows(&pg)?;
    refused_at_plan(
        &ws,
        &pg,
        &typed_config(&ws, &pg, narrow),
        &[
            "Destructive change refused",
            "change type of column sales.orders.id from bigint to integer",
            "change type of column sales.orders.tenant_id from text to character varying(8)",
            "change type of column sales.orders.code from character varying(32) to character varying(8)",
            "change type of column sales.orders.amount from numeric(12,2) to numeric(10,2)",
            "Set allow_destructive_changes = true to allow it.",
            "Attribute: tables[0].columns[0].type",
        ],
    )?;
    assert_eq!(order_rows(&pg)?, rows);
    Ok(())
}

/// A silver layer with tenant isolation and a CHECK rule, and a gold layer with a view on it.
fn guarded_config(ws: &Workspace, pg: &TestPostgres) -> String {
    format!(
        r#"{provider}resource "ipai_workbench" "main" {{
  name = "acc"
}}

resource "ipai_medallion_layer" "silver" {{
  workbench = ipai_workbench.main.id
  layer     = "silver"
  schema    = "sales"
  rls = {{
    presets       = ["service_role_full_access", "authenticated_read_only", "tenant_isolation"]
    tenant_column = "tenant_id"
    tenant_claim  = "org_id"
  }}
  tables = [{{
    name = "orders"
    columns = [
      {{ name = "id", type = "text", nullable = false }},
      {{ name = "tenant_id", type = "text", nullable = false }},
      {{ name = "amount", type = "numeric(12,2)", nullable = false }},
      {{ name = "status", type = "text", nullable = false, default = "'open'" }},
    ]
    primary_key = ["id"]
    checks      = [{{ name = "amount_positive", expression = "amount > 0" }}]
  }}]
}}

resource "ipai_medallion_layer" "gold" {{
  workbench = ipai_workbench.main.id
  layer     = "gold"
  schema    = "sales"
  views = [{{
    name  = "open_orders"
    query = "select id, tenant_id, amount from orders where status = 'open'"
  }}]
  depends_on = [ipai_medallion_layer.silver]
}}
"#,
        provider = ProviderBlock::new(&ws.output_dir())
            .files_only()
            .database_url(&pg.url())
            .hcl(),
    )
}

/// `query` run the way PostgREST runs a request: as `role`, with JWT claims `claims`, in
/// one transaction. Returns the last line of output, or psql's error.
fn as_role(pg: &TestPostgres, role: &str, claims: &str, query: &str) -> Result<String> {
    let out = pg.psql_args(&[
        "-1",
        "-c",
        &format!("SET LOCAL ROLE {role}"),
        "-c",
        &format!("SELECT set_config('request.jwt.claims', '{claims}', true)"),
        "-c",
        query,
    ])?;
    Ok(out.lines().last().unwrap_or_default().to_owned())
}

const TENANT_A: &str = r#"{"role": "authenticated", "org_id": "a"}"#;

/// How many rows of `relation` tenant a sees, as PostgREST would ask for it.
fn tenant_a_sees(pg: &TestPostgres, relation: &str) -> Result<String> {
    as_role(
        pg,
        "authenticated",
        TENANT_A,
        &format!("SELECT count(*) FROM {relation}"),
    )
}

#[test]
fn hand_edits_of_expressions_grants_and_rls_are_drift_and_repaired() -> Result<()> {
    let pg = TestPostgres::start()?;
    let ws = Workspace::new()?;
    ws.write_config(&guarded_config(&ws, &pg))?;
    ws.apply()?;
    // PostgreSQL reprints every expression: still no perpetual diff.
    for _ in 0..2 {
        let noop = ws.plan()?;
        assert_eq!(noop.code, 0, "a fresh layer plans no change:\n{noop}");
    }
    pg.psql(
        "INSERT INTO sales.orders (id, tenant_id, amount) VALUES ('o1', 'a', 10), ('o2', 'a', 20), ('o3', 'b', 30)",
    )?;
    assert_eq!(tenant_a_sees(&pg, "sales.orders")?, "2");
    assert_eq!(tenant_a_sees(&pg, "sales.open_orders")?, "2");

    // Each hand edit, what the plan must say about it, and whether tenant a then sees
    // every row of the table (the edit opened a hole).
    let edits: [(&str, &[&str], bool); 8] = [
        (
            "ALTER VIEW sales.open_orders RESET (security_invoker)",
            &[
                "view sales.open_orders lost security_invoker: it reads its tables as its owner, bypassing their row level security",
            ],
            true,
        ),
        (
            "ALTER POLICY tenant_isolation ON sales.orders USING (true)",
            &["policy tenant_isolation on sales.orders: USING is now (true)"],
            true,
        ),
        (
            "ALTER POLICY authenticated_read_only ON sales.orders TO anon",
            &["policy authenticated_read_only on sales.orders now applies to roles anon"],
            false,
        ),
        (
            "ALTER TABLE sales.orders DROP CONSTRAINT orders_amount_positive_check; \
             ALTER TABLE sales.orders ADD CONSTRAINT orders_amount_positive_check CHECK (amount >= 0)",
            &[
                "constraint orders_amount_positive_check on sales.orders is now",
                ">=",
            ],
            false,
        ),
        (
            "CREATE OR REPLACE VIEW sales.open_orders AS SELECT id, tenant_id, amount FROM sales.orders",
            &["view sales.open_orders was redefined"],
            true,
        ),
        (
            "ALTER TABLE sales.orders ALTER COLUMN status SET DEFAULT 'paid'",
            &["default of column sales.orders.status is now ('paid'"],
            false,
        ),
        (
            "GRANT INSERT ON sales.orders TO anon",
            &["INSERT on sales.orders granted to anon outside the configuration"],
            false,
        ),
        (
            "ALTER TABLE sales.orders DISABLE ROW LEVEL SECURITY",
            &["row level security on sales.orders is disabled"],
            true,
        ),
    ];
    for (sql, says, opens) in edits {
        pg.psql(sql)?;
        if opens {
            let seen = if sql.contains("VIEW") {
                tenant_a_sees(&pg, "sales.open_orders")?
            } else {
                tenant_a_sees(&pg, "sales.orders")?
            };
            assert_eq!(seen, "3", "{sql} lets a tenant see every row");
        }
        let drift = ws.plan()?;
        assert_eq!(drift.code, 2, "{sql} is drift:\n{drift}");
        for s in says {
            assert!(drift.says(s), "{sql}: plan must say {s:?}:\n{drift}");
        }
        assert!(
            drift.says("1 to change"),
            "{sql}: repaired in place:\n{drift}"
        );
        ws.apply()?;
        let noop = ws.plan()?;
        assert_eq!(noop.code, 0, "{sql} repaired, no change left:\n{noop}");
        assert_eq!(
            tenant_a_sees(&pg, "sales.orders")?,
            "2",
            "{sql} repaired: a tenant sees its rows"
        );
        assert_eq!(
            tenant_a_sees(&pg, "sales.open_orders")?,
            "2",
            "{sql} repaired: also through the view"
        );
    }
    // What the edits changed is back as configured.
    assert!(
        pg.psql("INSERT INTO sales.orders (id, tenant_id, amount) VALUES ('o4', 'a', 0)")
            .is_err(),
        "the CHECK rule refuses amount 0 again"
    );
    pg.psql("INSERT INTO sales.orders (id, tenant_id, amount) VALUES ('o5', 'c', 5)")?;
    assert_eq!(
        pg.psql("SELECT status FROM sales.orders WHERE id = 'o5'")?
            .trim(),
        "open"
    );
    let e = as_role(
        &pg,
        "anon",
        r#"{"role": "anon"}"#,
        "INSERT INTO sales.orders (id, tenant_id, amount) VALUES ('o6', 'a', 1)",
    )
    .unwrap_err();
    assert!(e.to_string().contains("permission denied"), "{e}");
    Ok(())
}

/// The rows of `sales.orders`, in key order.
fn orders(pg: &TestPostgres) -> Result<String> {
    pg.psql("SELECT string_agg(format('%s|%s|%s', id, amount, note), ',' ORDER BY id) FROM sales.orders")
}

#[test]
fn a_change_the_rows_refuse_is_refused_at_plan_until_they_are_fixed() -> Result<()> {
    let pg = TestPostgres::start()?;
    let ws = Workspace::new()?;
    ws.write_config(&config(&ws, &pg, "", ""))?;
    ws.apply()?;
    pg.psql("INSERT INTO sales.orders (id, amount, note) VALUES ('o1', 10, NULL), ('o2', 20, 'private note')")?;
    let rows = orders(&pg)?;
    let with_note = |note: &str, flags: &str| {
        config(&ws, &pg, "", flags).replace(r#"{ name = "note", type = "text" },"#, note)
    };

    // note becomes NOT NULL while o1 holds NULL in it: refused at plan on the attribute,
    // with the count and o1's key (not the other row's note), nothing run or written.
    let not_null = with_note(r#"{ name = "note", type = "text", nullable = false },"#, "");
    refused_at_plan(
        &ws,
        &pg,
        &not_null,
        &[
            "Column cannot become NOT NULL",
            "1 existing row of sales.orders (for example the row with id = o1) holds NULL in note",
            "Set a default",
            "Attribute: tables[0].columns[2].nullable",
        ],
    )?;
    assert_eq!(orders(&pg)?, rows);
    assert!(!ws.plan_err()?.contains("private note"));
    pg.psql("UPDATE sales.orders SET note = '7' WHERE note IS NULL")?;
    assert_eq!(ws.plan()?.code, 2);
    ws.apply()?;
    assert_eq!(ws.plan()?.code, 0, "re-plan after the fixed change");

    // note becomes integer: 'private note' does not convert, refused on the type.
    let destructive = with_note(
        r#"{ name = "note", type = "integer", nullable = false },"#,
        "allow_destructive_changes = true",
    );
    let rows = orders(&pg)?;
    refused_at_plan(
        &ws,
        &pg,
        &destructive,
        &[
            "Column values do not convert to the new type",
            "1 existing row of sales.orders (for example the row with id = o2) holds a value in note that does not convert",
            "Attribute: tables[0].columns[2].type",
        ],
    )?;
    assert_eq!(orders(&pg)?, rows);
    pg.psql("UPDATE sales.orders SET note = '8' WHERE id = 'o2'")?;
    ws.apply()?;
    assert_eq!(ws.plan()?.code, 0, "re-plan after the fixed retype");
    assert_eq!(orders(&pg)?.trim(), "o1|10.00|7,o2|20.00|8");
    Ok(())
}

#[test]
fn destroying_a_layer_another_layer_reads_names_it_before_any_ddl() -> Result<()> {
    let pg = TestPostgres::start()?;
    let ws = Workspace::new()?;
    let flags = "deletion_protection = false\n  force_destroy = true";
    let gold = |depends_on: &str| {
        format!(
            r#"
resource "ipai_medallion_layer" "gold" {{
  workbench           = ipai_workbench.main.id
  layer               = "gold"
  schema              = "sales"
  deletion_protection = false
  {depends_on}
  views = [{{ name = "big_orders", query = "select id, amount from orders where amount > 100" }}]
}}
"#
        )
    };
    // Created in order (gold's view reads silver's table).
    let ordered = gold("depends_on = [ipai_medallion_layer.silver]");
    ws.write_config(&format!("{}{ordered}", config(&ws, &pg, "", flags)))?;
    ws.apply()?;
    pg.psql("INSERT INTO sales.orders (id, amount) VALUES ('o1', 150)")?;

    // Silver leaves the configuration, gold stays (and nothing orders them any more):
    // refused before any DDL, naming the view.
    let silver_block = config(&ws, &pg, "", flags);
    let only_workbench = &silver_block[..silver_block
        .find("resource \"ipai_medallion_layer\"")
        .expect("the silver block")];
    let before = untouched(&ws, &pg)?;
    ws.write_config(&format!("{only_workbench}{}", gold("")))?;
    let refused = ws.apply_err()?;
    for e in [
        "Other layers depend on this layer",
        "view sales.big_orders of the gold layer reads sales.orders",
        "Destroy the gold layer first, or add depends_on",
        "Nothing was changed.",
    ] {
        assert!(refused.says(e), "missing {e:?} in:\n{refused}");
    }
    assert!(
        before.0 == untouched(&ws, &pg)?.0,
        "the refused destroy changed the database:\n{refused}"
    );
    assert_eq!(pg.psql("SELECT id FROM sales.orders")?.trim(), "o1");

    // As the diagnostic says: with depends_on, destroy takes gold first and succeeds.
    ws.write_config(&format!("{silver_block}{ordered}"))?;
    ws.apply()?;
    ws.destroy()?;
    assert_eq!(
        pg.psql(
            "SELECT to_regclass('sales.orders') IS NULL AND to_regclass('sales.big_orders') IS NULL"
        )?
        .trim(),
        "t"
    );
    Ok(())
}

/// Import learns what PostgreSQL makes of the layer's own expressions (a rehearsal rolled
/// back), so a hand edit made while the layer was out of state is drift after the import,
/// not the baseline; the rehearsal waits only briefly for a table another session locked.
#[test]
fn hand_edits_made_before_an_import_are_drift_and_repaired() -> Result<()> {
    let pg = TestPostgres::start()?;
    let ws = Workspace::new()?;
    ws.write_config(&guarded_config(&ws, &pg))?;
    ws.apply()?;
    pg.psql(
        "INSERT INTO sales.orders (id, tenant_id, amount, status) VALUES \
         ('o1', 'a', 10, 'open'), ('o2', 'a', 20, 'open'), ('o3', 'b', 30, 'open'), ('o4', 'a', 40, 'paid')",
    )?;
    let counts = |pg: &TestPostgres| -> Result<(String, String)> {
        Ok((
            tenant_a_sees(pg, "sales.orders")?,
            tenant_a_sees(pg, "sales.open_orders")?,
        ))
    };
    assert_eq!(counts(&pg)?, ("3".to_owned(), "2".to_owned()));
    for layer in ["silver", "gold"] {
        ws.run_ok(&[
            "state",
            "rm",
            "-no-color",
            &format!("ipai_medallion_layer.{layer}"),
        ])?;
    }

    // Another session holds a lock on the table: import gives way after a few seconds,
    // says why, and leaves the state without the layer.
    std::thread::scope(|s| -> Result<()> {
        let holder = s
            .spawn(|| pg.psql("LOCK TABLE sales.orders IN ACCESS SHARE MODE; SELECT pg_sleep(60)"));
        while pg
            .psql("SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = 'orders' AND l.granted")?
            .trim()
            == "0"
        {
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let started = std::time::Instant::now();
        let busy = ws.run_err(&[
            "import",
            "-no-color",
            "ipai_medallion_layer.silver",
            "acc/sales/silver",
        ]);
        pg.psql("SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(60)%' AND pid <> pg_backend_pid()")?;
        assert!(holder.join().is_ok());
        let busy = busy?;
        assert!(busy.says("another session held one"), "{busy}");
        assert!(busy.says("nothing was changed, try again"), "{busy}");
        assert!(started.elapsed() < std::time::Duration::from_secs(50));
        Ok(())
    })?;

    // While out of state: the tenant policy opened and the gold view's filter dropped.
    pg.psql("ALTER POLICY tenant_isolation ON sales.orders USING (true)")?;
    pg.psql(
        "CREATE OR REPLACE VIEW sales.open_orders WITH (security_invoker = true) AS \
         SELECT id, tenant_id, amount FROM sales.orders",
    )?;
    assert_eq!(counts(&pg)?, ("4".to_owned(), "4".to_owned()));
    ws.import("ipai_medallion_layer.silver", "acc/sales/silver")?;
    ws.import("ipai_medallion_layer.gold", "acc/sales/gold")?;
    assert_eq!(
        pg.psql("SELECT qual FROM pg_policies WHERE policyname = 'tenant_isolation'")?
            .trim(),
        "true",
        "import changes nothing in the database"
    );
    let drift = ws.plan()?;
    assert_eq!(
        drift.code, 2,
        "edits made before the import are drift:\n{drift}"
    );
    for s in [
        "policy tenant_isolation on sales.orders: USING is now (true)",
        "view sales.open_orders was redefined",
        "2 to change",
    ] {
        assert!(drift.says(s), "plan must say {s:?}:\n{drift}");
    }
    ws.apply()?;
    let noop = ws.plan()?;
    assert_eq!(noop.code, 0, "repaired, no change left:\n{noop}");
    assert_eq!(counts(&pg)?, ("3".to_owned(), "2".to_owned()));
    Ok(())
}

/// An edit made by hand after the last refresh, then an apply with `-refresh=false` of a
/// change that does not touch the edited object: the apply records what it made, not the
/// edit, so the next plan still shows the edit as drift and the apply after repairs it.
#[test]
fn an_edit_the_apply_did_not_touch_stays_drift() -> Result<()> {
    let pg = TestPostgres::start()?;
    let ws = Workspace::new()?;
    ws.write_config(&guarded_config(&ws, &pg))?;
    ws.apply()?;
    pg.psql(
        "INSERT INTO sales.orders (id, tenant_id, amount) VALUES ('o1', 'a', 10), ('o2', 'a', 20), ('o3', 'b', 30)",
    )?;
    pg.psql("ALTER POLICY tenant_isolation ON sales.orders USING (true)")?;
    assert_eq!(tenant_a_sees(&pg, "sales.orders")?, "3");
    ws.write_config(&guarded_config(&ws, &pg).replace(
        r#"{ name = "status""#,
        r#"{ name = "note", type = "text" },
      { name = "status""#,
    ))?;
    let applied = ws.run_ok(&["apply", "-refresh=false", "-auto-approve", "-no-color"])?;
    assert!(applied.says("1 changed"), "{applied}");
    assert_eq!(
        pg.psql("SELECT count(*) FROM information_schema.columns WHERE table_name = 'orders' AND column_name = 'note'")?
            .trim(),
        "1"
    );
    let drift = ws.plan()?;
    assert_eq!(drift.code, 2, "the edit is still drift:\n{drift}");
    assert!(
        drift.says("policy tenant_isolation on sales.orders: USING is now (true)"),
        "{drift}"
    );
    ws.apply()?;
    let noop = ws.plan()?;
    assert_eq!(noop.code, 0, "repaired, no change left:\n{noop}");
    assert_eq!(tenant_a_sees(&pg, "sales.orders")?, "2");
    Ok(())
}
