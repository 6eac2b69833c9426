//! The postgres applier against a real, throwaway PostgreSQL 15 with the Supabase roles:
//! the seed medallion applies, RLS holds the way PostgREST sees it, updates run in place,
//! data loss is refused, a failed migration changes nothing, applies serialise and all of it
//! works through a transaction-mode pooler; connections check what libpq's sslmode says and a
//! blocked apply gives up after the lock timeout.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use ipai_acceptance_tests::postgres::{
    TestPgBouncer, TestPostgres, Tls, apply_metadata, test_certificates,
};
use ipai_codegen::spec::{BundleSpec, MedallionLayerSpec, source};
use ipai_codegen::supabase::{self, LayerContext, LayerModel, plan, types};
use ipai_codegen::{Migration, Renderer};
use ipai_provider::postgres::{ConnectOptions, Error, Postgres};
use serde_json::json;
use tokio_postgres::NoTls;

fn bundle(name: &str) -> BundleSpec {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../codegen/tests/inputs")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    source::parse(&text, source::Format::of(&path)).unwrap()
}

/// Applies the metadata schema and every layer of `bundle`, as the provider does.
async fn apply_bundle(db: &mut Postgres, b: &BundleSpec, r: &Renderer) -> Vec<LayerModel> {
    let wb = &b.workbench.name;
    apply_metadata(&mut *db, wb, r).await.unwrap();
    let (models, d) = supabase::layer_models(&[&b.workbench], &b.medallion_layers);
    assert!(!d.has_errors(), "{d:?}");
    for m in &models {
        let mig = supabase::migration(m, &plan::create(m), 0, r).unwrap();
        let done = db.apply(wb, &m.resource_id(), &[mig]).await.unwrap();
        assert_eq!(done.len(), 1);
    }
    models
}

/// A session the way PostgREST opens one: log in as `authenticator`, switch to `role` and set
/// the JWT claims, all inside one transaction. Returns the rows of `query`, or the error.
/// Asserts the catalog shows layer `m` as applied: no drift. `what` names it in failures.
async fn assert_no_drift(db: &Postgres, m: &LayerModel, r: &Renderer, what: &str) {
    let seen = db
        .introspect(&m.workbench, &m.schema, m.layer)
        .await
        .unwrap()
        .unwrap();
    let drift = plan::change(&seen, m).render(r).unwrap();
    assert!(drift.is_empty(), "{what}: {}: {drift:#?}", m.resource_id());
}

async fn as_role(
    pg: &TestPostgres,
    role: &str,
    claims: serde_json::Value,
    query: &str,
) -> Result<Vec<tokio_postgres::Row>, String> {
    let (mut client, conn) = tokio_postgres::connect(&pg.url_as("authenticator"), NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let tx = client.transaction().await.unwrap();
    tx.batch_execute(&format!("SET LOCAL ROLE {role}"))
        .await
        .unwrap();
    tx.execute(
        "SELECT set_config('request.jwt.claims', $1, true)",
        &[&claims.to_string()],
    )
    .await
    .unwrap();
    tx.query(query, &[]).await.map_err(|e| {
        e.as_db_error()
            .map(|d| d.message().to_owned())
            .unwrap_or(e.to_string())
    })
}

#[tokio::test]
async fn seed_medallion_applies_and_rls_holds_as_postgrest_sees_it() {
    let pg = TestPostgres::start().unwrap();
    let r = Renderer::embedded().unwrap();
    let mut db = Postgres::connect(&pg.url()).await.unwrap();
    let scout = apply_bundle(&mut db, &bundle("seed.yaml"), &r).await;
    let ledger = apply_bundle(&mut db, &bundle("tenant_ledger.yaml"), &r).await;

    // Applying again changes nothing: every version is in the ledger.
    for m in scout.iter().chain(&ledger) {
        let mig = supabase::migration(m, &plan::create(m), 0, &r).unwrap();
        assert!(
            db.apply(&m.workbench, &m.resource_id(), &[mig])
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(db.ledger(&m.resource_id()).await.unwrap().len(), 1);
    }
    // The catalog matches what the specs asked for: no drift right after apply.
    for m in scout.iter().chain(&ledger) {
        assert_no_drift(&db, m, &r, "seed").await;
    }

    let tenant_a = "11111111-1111-1111-1111-111111111111";
    let tenant_b = "22222222-2222-2222-2222-222222222222";
    let owner = "33333333-3333-3333-3333-333333333333";
    pg.psql(&format!(
        "INSERT INTO finance.invoices (tenant_id, owner_id, total) VALUES \
         ('{tenant_a}', '{owner}', 10), ('{tenant_a}', '{owner}', 20), ('{tenant_b}', '{owner}', 30); \
         INSERT INTO scout.silver_validated_transactions (transaction_id, bronze_id, store_id, category, amount, txn_date) \
         VALUES ('t1', gen_random_uuid(), 's1', 'snacks', 12.5, current_date)"
    ))
    .unwrap();
    // The seed's rules hold: amount > 0, no future date, allowed category, unique id.
    for bad in [
        "('t2', gen_random_uuid(), 's1', 'snacks', 0, current_date)",
        "('t2', gen_random_uuid(), 's1', 'snacks', 1, current_date + 1)",
        "('t2', gen_random_uuid(), 's1', 'weapons', 1, current_date)",
        "('t1', gen_random_uuid(), 's1', 'snacks', 1, current_date)",
    ] {
        let e = pg.psql(&format!(
            "INSERT INTO scout.silver_validated_transactions (transaction_id, bronze_id, store_id, category, amount, txn_date) VALUES {bad}"
        ));
        assert!(e.is_err(), "{bad} was accepted");
    }

    let count = "SELECT count(*) FROM finance.invoices";
    let n = |rows: Vec<tokio_postgres::Row>| rows[0].get::<_, i64>(0);
    let a = json!({"role": "authenticated", "sub": owner, "org_id": tenant_a});
    let b = json!({"role": "authenticated", "sub": owner, "org_id": tenant_b});
    assert_eq!(
        n(as_role(&pg, "authenticated", a.clone(), count)
            .await
            .unwrap()),
        2
    );
    assert_eq!(n(as_role(&pg, "authenticated", b, count).await.unwrap()), 1);
    assert_eq!(
        n(as_role(
            &pg,
            "authenticated",
            json!({"role": "authenticated"}),
            count
        )
        .await
        .unwrap()),
        0,
        "no tenant claim, no rows"
    );
    assert_eq!(
        n(
            as_role(&pg, "service_role", json!({"role": "service_role"}), count)
                .await
                .unwrap()
        ),
        3
    );
    // anon was granted nothing on the table, despite the default privileges that grant it
    // every new table; the view it was granted reads the table as anon, so it fails too.
    let e = as_role(&pg, "anon", json!({"role": "anon"}), count)
        .await
        .unwrap_err();
    assert!(e.contains("permission denied"), "{e}");
    let e = as_role(
        &pg,
        "anon",
        json!({}),
        "SELECT * FROM finance.open_invoices",
    )
    .await
    .unwrap_err();
    assert!(e.contains("permission denied"), "{e}");
    let e = as_role(
        &pg,
        "anon",
        json!({}),
        "SELECT * FROM scout.silver_validated_transactions",
    )
    .await
    .unwrap_err();
    assert!(e.contains("permission denied"), "{e}");
    // Through the security-invoker view, a tenant still sees only its rows.
    let rows = as_role(
        &pg,
        "authenticated",
        a.clone(),
        "SELECT count(*) FROM finance.open_invoices",
    )
    .await
    .unwrap();
    assert_eq!(n(rows), 2);
    // A tenant cannot write a row of another tenant.
    let e = as_role(
        &pg,
        "authenticated",
        a,
        &format!("UPDATE finance.invoices SET tenant_id = '{tenant_b}' RETURNING id"),
    )
    .await
    .unwrap_err();
    assert!(e.contains("row-level security"), "{e}");
    // The gold and platinum views read the silver rows through RLS.
    let rows = as_role(
        &pg,
        "authenticated",
        json!({"role": "authenticated"}),
        "SELECT content FROM scout.platinum_transaction_embeddings",
    )
    .await
    .unwrap();
    assert_eq!(rows.len(), 1);
    assert!(rows[0].get::<_, String>(0).contains("snacks"));
    // The metadata registry lists the layers' tables with their retention.
    let reg = pg
        .psql("SELECT table_name, retention_days FROM ip_workbench.tables WHERE table_name = 'bronze_transactions'")
        .unwrap();
    assert_eq!(reg.trim(), "bronze_transactions|90");
}

fn silver(extra_columns: serde_json::Value) -> MedallionLayerSpec {
    let mut columns = json!([
        {"name": "id", "type": "text", "nullable": false},
        {"name": "amount", "type": "numeric(12,2)", "nullable": false},
        {"name": "note", "type": "text"}
    ]);
    columns
        .as_array_mut()
        .unwrap()
        .extend(extra_columns.as_array().unwrap().iter().cloned());
    serde_json::from_value(json!({
        "workbench": "wb",
        "layer": "silver",
        "schema": "sales",
        "tables": [{"name": "orders", "columns": columns, "primary_key": ["id"],
                    "checks": [{"name": "amount_positive", "expression": "amount > 0"}]}],
        "views": [{"name": "big_orders", "query": "select id, amount from orders where amount > 100"}]
    }))
    .unwrap()
}

fn model(spec: &MedallionLayerSpec) -> LayerModel {
    let (m, d) = supabase::layer_model(spec, &LayerContext::default());
    m.unwrap_or_else(|| panic!("{d:?}"))
}

async fn setup_orders(pg: &TestPostgres, r: &Renderer) -> (Postgres, LayerModel) {
    let mut db = Postgres::connect(&pg.url()).await.unwrap();
    apply_metadata(&mut db, "wb", r).await.unwrap();
    let m = model(&silver(json!([])));
    let mig = supabase::migration(&m, &plan::create(&m), 0, r).unwrap();
    db.apply("wb", &m.resource_id(), &[mig]).await.unwrap();
    pg.psql("INSERT INTO sales.orders (id, amount) VALUES ('o1', 150), ('o2', 5)")
        .unwrap();
    (db, m)
}

#[tokio::test]
async fn updates_run_in_place_and_data_loss_is_refused() {
    let pg = TestPostgres::start().unwrap();
    let r = Renderer::embedded().unwrap();
    let (mut db, v0) = setup_orders(&pg, &r).await;

    // A new column: one ADD COLUMN, the rows stay.
    let v1 = model(&silver(
        json!([{"name": "channel", "type": "text", "default": "'web'"}]),
    ));
    let change = supabase::plan_change(&v0, &v1, false).unwrap();
    let mig = supabase::migration(&v1, &change, 1, &r).unwrap();
    assert_eq!(change.steps.len(), 1, "{}", mig.sql);
    db.apply("wb", &v1.resource_id(), &[mig]).await.unwrap();
    assert_eq!(
        pg.psql("SELECT id || ':' || channel FROM sales.orders ORDER BY id")
            .unwrap(),
        "o1:web\no2:web\n"
    );
    let seen = db
        .introspect("wb", "sales", v1.layer)
        .await
        .unwrap()
        .unwrap();
    assert!(
        plan::change(&seen, &v1).is_empty(),
        "drift after an in-place update"
    );

    // A hand change is drift: the planner puts the column back.
    pg.psql("ALTER TABLE sales.orders DROP COLUMN channel")
        .unwrap();
    let seen = db
        .introspect("wb", "sales", v1.layer)
        .await
        .unwrap()
        .unwrap();
    let repair = plan::change(&seen, &v1).render(&r).unwrap();
    assert_eq!(repair.len(), 1, "{repair:?}");
    assert!(repair[0].contains("ADD COLUMN \"channel\""), "{repair:?}");

    // Dropping a column or changing a type is refused without the flag, naming it.
    let v2 = model(&silver(json!([])));
    let mut v2b = v2.clone();
    v2b.tables[0].columns.retain(|c| c.name != "note");
    let d = supabase::plan_change(&v1, &v2b, false).unwrap_err();
    assert!(
        d.0[0].detail.contains("drop column sales.orders.note"),
        "{d:?}"
    );
    assert!(
        d.0[0].detail.contains("drop column sales.orders.channel"),
        "{d:?}"
    );
    let change = supabase::plan_change(&seen, &v2b, true).unwrap();
    let mig = supabase::migration(&v2b, &change, 2, &r).unwrap();
    db.apply("wb", &v2b.resource_id(), &[mig]).await.unwrap();
    let cols = pg
        .psql("SELECT string_agg(column_name, ',' ORDER BY ordinal_position) FROM information_schema.columns WHERE table_schema = 'sales' AND table_name = 'orders'")
        .unwrap();
    assert_eq!(cols.trim(), "id,amount");
    assert_eq!(db.ledger(&v2b.resource_id()).await.unwrap().len(), 3);
}

#[tokio::test]
async fn a_failed_migration_leaves_the_database_as_it_was() {
    let pg = TestPostgres::start().unwrap();
    let r = Renderer::embedded().unwrap();
    let (mut db, v0) = setup_orders(&pg, &r).await;
    let before = pg.psql("SELECT string_agg(indexname, ',' ORDER BY indexname) FROM pg_indexes WHERE schemaname = 'sales'").unwrap();

    // An index first, then a NOT NULL column without a default on a table holding rows:
    // PostgreSQL refuses the column, and the index must not stay behind.
    let mut spec = silver(json!([{"name": "region", "type": "text", "nullable": false}]));
    spec.tables[0].indexes = vec![serde_json::from_value(json!({"columns": ["amount"]})).unwrap()];
    let v1 = model(&spec);
    let change = supabase::plan_change(&v0, &v1, false).unwrap();
    let mig = supabase::migration(&v1, &change, 1, &r).unwrap();
    assert!(mig.sql.contains("CREATE INDEX"));
    let err = db.apply("wb", &v1.resource_id(), &[mig]).await.unwrap_err();
    assert!(matches!(err, Error::Migration { .. }), "{err}");
    assert!(err.to_string().contains("region"), "{err}");

    let after = pg.psql("SELECT string_agg(indexname, ',' ORDER BY indexname) FROM pg_indexes WHERE schemaname = 'sales'").unwrap();
    assert_eq!(before, after);
    let seen = db
        .introspect("wb", "sales", v0.layer)
        .await
        .unwrap()
        .unwrap();
    assert!(plan::change(&seen, &v0).is_empty(), "the catalog changed");
    assert_eq!(db.ledger(&v0.resource_id()).await.unwrap().len(), 1);
}

#[tokio::test]
async fn applies_serialise_on_the_workbench_lock() {
    let pg = TestPostgres::start().unwrap();
    let r = Renderer::embedded().unwrap();
    let meta = supabase::metadata_migration(&r).unwrap();
    let m = model(&silver(json!([])));
    let create = supabase::migration(&m, &plan::create(&m), 0, &r).unwrap();
    let migrations: Vec<Migration> = vec![create];

    // Another apply of the same workbench holds the lock: ours waits for it.
    let (mut holder, conn) = tokio_postgres::connect(&pg.url(), NoTls).await.unwrap();
    tokio::spawn(conn);
    let tx = holder.transaction().await.unwrap();
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended('ipai/wb', 0))",
        &[],
    )
    .await
    .unwrap();
    let url = pg.url();
    let meta2 = meta.clone();
    let waiting = tokio::spawn(async move {
        let mut db = Postgres::connect(&url).await.unwrap();
        db.apply("wb", supabase::METADATA_RESOURCE, &[meta2])
            .await
            .unwrap()
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !waiting.is_finished(),
        "the apply did not wait for the lock"
    );
    tx.rollback().await.unwrap();
    assert_eq!(waiting.await.unwrap().len(), 1);

    // Two applies at once: each migration runs exactly once.
    let run = |url: String, migs: Vec<Migration>| async move {
        let mut db = Postgres::connect(&url).await.unwrap();
        db.apply("wb", "wb/sales/silver", &migs).await.unwrap()
    };
    let (a, b) = tokio::join!(
        tokio::spawn(run(pg.url(), migrations.clone())),
        tokio::spawn(run(pg.url(), migrations.clone()))
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.len() + b.len(), 1, "{a:?} {b:?}");
    let db = Postgres::connect(&pg.url()).await.unwrap();
    assert_eq!(db.ledger("wb/sales/silver").await.unwrap().len(), 1);
}

#[tokio::test]
async fn dropping_tables_with_rows_needs_force_destroy() {
    let pg = TestPostgres::start().unwrap();
    let r = Renderer::embedded().unwrap();
    let (mut db, v0) = setup_orders(&pg, &r).await;
    let drop = supabase::drop_migration(&v0, &plan::drop(&v0), 1, &r).unwrap();
    let tables = vec!["orders".to_owned()];
    let err = db
        .drop_layer("wb", &v0.resource_id(), "sales", &tables, &drop, false)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::NotEmpty(ref t) if t == "sales.orders"),
        "{err}"
    );
    assert_eq!(
        pg.psql("SELECT count(*) FROM sales.orders").unwrap().trim(),
        "2"
    );
    db.drop_layer("wb", &v0.resource_id(), "sales", &tables, &drop, true)
        .await
        .unwrap();
    assert_eq!(
        pg.psql("SELECT to_regclass('sales.orders') IS NULL")
            .unwrap()
            .trim(),
        "t"
    );
    assert!(
        db.introspect("wb", "sales", v0.layer)
            .await
            .unwrap()
            .is_none()
    );
}

/// Supabase's pooler on port 6543 runs in transaction mode: a statement prepared under a name
/// is gone by the next transaction. The applier's apply, read and re-apply all get through.
#[tokio::test]
async fn applies_and_reads_through_a_transaction_pooler() {
    if !TestPgBouncer::available() {
        panic!("pgbouncer is not installed: run scripts/setup.sh");
    }
    let pg = TestPostgres::start().unwrap();
    let bouncer = TestPgBouncer::start(&pg).unwrap();
    let url = bouncer.url_as("postgres");

    // The pooler really breaks named prepared statements (what tokio-postgres's `query` uses).
    let (client, conn) = tokio_postgres::connect(&url, NoTls).await.unwrap();
    tokio::spawn(conn);
    let named = client.query("SELECT $1::text", &[&"x"]).await;
    let err = named.expect_err("a named prepared statement survived the transaction pooler");
    let message = err.as_db_error().map(|d| d.message().to_owned());
    assert!(
        message
            .as_deref()
            .is_some_and(|m| m.contains("does not exist")),
        "{err:?}\n{}",
        bouncer.log()
    );

    let r = Renderer::embedded().unwrap();
    let mut db = Postgres::connect(&url).await.unwrap();
    let scout = apply_bundle(&mut db, &bundle("seed.yaml"), &r).await;
    for m in &scout {
        assert_no_drift(&db, m, &r, "through the pooler").await;
        let mig = supabase::migration(m, &plan::create(m), 0, &r).unwrap();
        let again = db.apply(&m.workbench, &m.resource_id(), &[mig]).await;
        assert!(again.unwrap().is_empty(), "second apply is a no-op");
        assert_eq!(db.ledger(&m.resource_id()).await.unwrap().len(), 1);
    }
    assert!(!scout.is_empty());
}

/// A change input of `codegen/tests/changes/`: a bundle before and after an edit, and rows
/// inserted in between.
#[derive(serde::Deserialize)]
struct ChangeInput {
    before: BundleSpec,
    after: BundleSpec,
    #[serde(default)]
    rows: Vec<String>,
}

/// The rows of every kept table, reduced to the columns that keep their name and their type
/// or widen it (and do not turn NOT NULL: their NULLs get the default), each value as text:
/// what a change must not lose or alter. One sorted text per table.
fn kept_data(pg: &TestPostgres, prev: &LayerModel, next: &LayerModel) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for old in &prev.tables {
        let Some(new) = next.table(&old.name) else {
            continue;
        };
        let cols: Vec<String> = old
            .columns
            .iter()
            .filter(|c| {
                new.column(&c.name).is_some_and(|n| {
                    (n.r#type == c.r#type || types::widens(&c.r#type, &n.r#type))
                        && (n.nullable || !c.nullable)
                })
            })
            .map(|c| format!("{}::text", ipai_codegen::sql::quote_ident(&c.name)))
            .collect();
        let table = ipai_codegen::sql::quote_qualified(&prev.schema, &old.name);
        let rows = pg
            .psql(&format!(
                "SELECT count(*) || ':' || coalesce(string_agg(x, ';' ORDER BY x), '') \
                 FROM (SELECT json_build_array({})::text AS x FROM {table}) s",
                cols.join(", ")
            ))
            .unwrap();
        out.push((table, rows.trim().to_owned()));
    }
    out
}

/// Every change input of the codegen snapshots, applied for real: the `before` layers are
/// created, the input's rows inserted, then each layer's change migration must apply, keep
/// the rows and the data of kept columns, and leave a catalog matching the `after` spec;
/// the drop migrations of the `after` layers then remove everything. A change refused at
/// plan because another layer depends on what it changes must fail in PostgreSQL too.
#[tokio::test]
async fn every_change_input_applies_to_postgres_and_keeps_the_data() {
    let pg = TestPostgres::start().unwrap();
    let r = Renderer::embedded().unwrap();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../codegen/tests/changes");
    let mut inputs: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    inputs.sort();
    assert!(inputs.len() >= 10, "{inputs:?}");
    let (mut with_rows, mut refused) = (0, 0);
    for path in &inputs {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(path).unwrap();
        let input: ChangeInput = source::parse(&text, source::Format::of(path)).unwrap();
        let (after, d) =
            supabase::layer_models(&[&input.after.workbench], &input.after.medallion_layers);
        assert!(!d.has_errors(), "{name}: {d:?}");
        // Roles a spec grants to besides Supabase's are the user's to create.
        let (before_models, _) =
            supabase::layer_models(&[&input.before.workbench], &input.before.medallion_layers);
        for role in before_models.iter().chain(&after).flat_map(|m| {
            m.tables
                .iter()
                .flat_map(|t| {
                    t.grants
                        .keys()
                        .chain(t.policies.iter().flat_map(|p| &p.roles))
                })
                .chain(m.views.iter().flat_map(|v| v.grants.keys()))
        }) {
            if pg
                .psql(&format!(
                    "SELECT 1 FROM pg_roles WHERE rolname = {}",
                    ipai_codegen::sql::quote_literal(role)
                ))
                .unwrap()
                .trim()
                .is_empty()
            {
                pg.psql(&format!(
                    "CREATE ROLE {} NOLOGIN",
                    ipai_codegen::sql::quote_ident(role)
                ))
                .unwrap();
            }
        }
        let mut db = Postgres::connect(&pg.url()).await.unwrap();
        let before = apply_bundle(&mut db, &input.before, &r).await;
        for sql in &input.rows {
            pg.psql(sql)
                .unwrap_or_else(|e| panic!("{name}: inserting rows: {e}"));
        }
        with_rows += usize::from(!input.rows.is_empty());
        let mut applied = Vec::new();
        for (i, (prev, next)) in before.iter().zip(&after).enumerate() {
            let data = kept_data(&pg, prev, next);
            let change = supabase::plan_change(prev, next, true).unwrap();
            // As the provider plans it: lower layers as planned in this run, higher ones as
            // applied.
            let others = LayerContext::while_changing(&before, &after, i);
            if supabase::check_dependents(next, &change, &others).is_err() {
                // Refused at plan, and rightly: PostgreSQL refuses it too, changing nothing.
                let mig = supabase::migration(next, &change, 1, &r).unwrap();
                let err = db
                    .apply(&next.workbench, &next.resource_id(), &[mig])
                    .await
                    .expect_err(&format!(
                        "{name}: {} was refused at plan but applies",
                        next.resource_id()
                    ));
                assert!(matches!(err, Error::Migration { .. }), "{name}: {err}");
                assert!(err.to_string().contains("depend"), "{name}: {err}");
                assert_eq!(data, kept_data(&pg, prev, next), "{name}: data changed");
                refused += 1;
                applied.push(prev);
                continue;
            }
            applied.push(next);
            if !change.is_empty() {
                let mig = supabase::migration(next, &change, 1, &r).unwrap();
                db.apply(&next.workbench, &next.resource_id(), &[mig])
                    .await
                    .unwrap_or_else(|e| panic!("{name}: {}: {e}", next.resource_id()));
            }
            assert_eq!(data, kept_data(&pg, prev, next), "{name}: data lost");
            assert_no_drift(&db, next, &r, &name).await;
        }
        // Highest layer first, as Terraform destroys dependents before what they read.
        for m in applied.iter().rev() {
            let drop = supabase::drop_migration(m, &plan::drop(m), 2, &r).unwrap();
            db.apply(&m.workbench, &m.resource_id(), &[drop])
                .await
                .unwrap_or_else(|e| panic!("{name}: dropping {}: {e}", m.resource_id()));
            assert!(
                db.introspect(&m.workbench, &m.schema, m.layer)
                    .await
                    .unwrap()
                    .is_none(),
                "{name}: {} left behind",
                m.resource_id()
            );
        }
        let schemas: BTreeSet<&str> = after.iter().map(|m| m.schema.as_str()).collect();
        let left = pg
            .psql(&format!(
                "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname IN ({})",
                schemas
                    .iter()
                    .map(|s| ipai_codegen::sql::quote_literal(s))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
            .unwrap();
        assert_eq!(left.trim(), "0", "{name}: relations left after the drops");
        // The next input starts from an empty database.
        for s in schemas.iter().chain(&["ip_workbench"]) {
            pg.psql(&format!(
                "DROP SCHEMA {} CASCADE",
                ipai_codegen::sql::quote_ident(s)
            ))
            .unwrap();
        }
    }
    assert!(with_rows >= 3, "too few inputs insert rows");
    assert!(refused >= 1, "no input is refused for another layer's sake");
}

/// Whether the session named `app` (its `application_name`) is encrypted, as the server
/// sees it.
fn encrypted(pg: &TestPostgres, app: &str) -> String {
    pg.psql(&format!(
        "SELECT string_agg(s.ssl::text, ',') FROM pg_stat_ssl s \
         JOIN pg_stat_activity a USING (pid) WHERE a.application_name = '{app}'"
    ))
    .unwrap()
    .trim()
    .to_owned()
}

async fn refused(url: &str) -> String {
    match Postgres::connect(url).await {
        Ok(_) => panic!("connected although it must not: {url}"),
        Err(e) => e.to_string(),
    }
}

/// libpq's sslmode semantics against a server that only accepts TLS, with a certificate
/// for localhost and 127.0.0.1 signed by a CA made for the test.
#[tokio::test]
async fn sslmodes_check_what_libpq_checks() {
    let pg = TestPostgres::start_tls(Tls::Required).unwrap();
    let ca = pg.ca_file().display().to_string();
    let other = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(other.path(), test_certificates().unwrap().0).unwrap();
    let other = other.path().display().to_string();

    // require: encrypted, the (to it unknown) CA is not checked.
    let db = Postgres::connect(&pg.url_with("127.0.0.1", "sslmode=require&application_name=req"))
        .await
        .unwrap();
    assert_eq!(encrypted(&pg, "req"), "true");
    drop(db);

    // verify-ca: the right CA connects, whatever the host name; another CA is refused.
    let url = pg.url_with(
        "not-in-the-cert.test",
        &format!("hostaddr=127.0.0.1&sslmode=verify-ca&sslrootcert={ca}&application_name=ca"),
    );
    let db = Postgres::connect(&url).await.unwrap();
    assert_eq!(encrypted(&pg, "ca"), "true");
    drop(db);
    let e = refused(&pg.url_with(
        "127.0.0.1",
        &format!("sslmode=verify-ca&sslrootcert={other}"),
    ))
    .await;
    // The other CA has the same name as the right one, so rustls says BadSignature.
    assert!(e.contains("invalid peer certificate: BadSignature"), "{e}");
    assert!(e.contains("signed by a CA of sslrootcert"), "{e}");
    // require with sslrootcert checks the chain like verify-ca.
    let e =
        refused(&pg.url_with("127.0.0.1", &format!("sslmode=require&sslrootcert={other}"))).await;
    assert!(e.contains("invalid peer certificate: BadSignature"), "{e}");

    // verify-full: the host name must be in the certificate.
    let db = Postgres::connect(&pg.url_with(
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={ca}&application_name=full"),
    ))
    .await
    .unwrap();
    assert_eq!(encrypted(&pg, "full"), "true");
    drop(db);
    let e = refused(&url.replace("verify-ca", "verify-full")).await;
    assert!(
        e.contains("not valid for name \"not-in-the-cert.test\""),
        "{e}"
    );
    assert!(e.contains("names the host of database_url"), "{e}");

    // disable: the server wants TLS and says so.
    let e = refused(&pg.url_with("127.0.0.1", "sslmode=disable")).await;
    assert!(e.contains("no pg_hba.conf entry"), "{e}");
    assert!(e.contains("no encryption"), "{e}");

    // A layer applies over TLS, as to Supabase.
    let r = Renderer::embedded().unwrap();
    let mut db = Postgres::connect(&pg.url_with(
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={ca}"),
    ))
    .await
    .unwrap();
    let scout = apply_bundle(&mut db, &bundle("seed.yaml"), &r).await;
    assert!(
        db.introspect(&scout[0].workbench, &scout[0].schema, scout[0].layer)
            .await
            .unwrap()
            .is_some()
    );
}

/// prefer (libpq's default) takes TLS when offered and plain text when not; require refuses
/// a server without TLS.
#[tokio::test]
async fn prefer_falls_back_and_require_does_not() {
    let tls = TestPostgres::start_tls(Tls::Offered).unwrap();
    let plain = TestPostgres::start().unwrap();
    let db = Postgres::connect(&tls.url_with("127.0.0.1", "application_name=dflt"))
        .await
        .unwrap();
    assert_eq!(encrypted(&tls, "dflt"), "true");
    drop(db);
    let db =
        Postgres::connect(&plain.url_with("127.0.0.1", "sslmode=prefer&application_name=pref"))
            .await
            .unwrap();
    assert_eq!(encrypted(&plain, "pref"), "false");
    drop(db);
    let e = refused(&plain.url_with("127.0.0.1", "sslmode=require")).await;
    assert!(e.contains("TLS"), "{e}");
}

/// A migration waits at most the lock timeout for another apply of the workbench, or for a
/// table another session locked, then fails and changes nothing.
#[tokio::test]
async fn a_blocked_apply_fails_after_the_lock_timeout() {
    let pg = TestPostgres::start().unwrap();
    let r = Renderer::embedded().unwrap();
    let (_, v0) = setup_orders(&pg, &r).await;
    let v1 = model(&silver(json!([{"name": "channel", "type": "text"}])));
    let change = supabase::plan_change(&v0, &v1, false).unwrap();
    let mig = supabase::migration(&v1, &change, 1, &r).unwrap();
    let mut db = ConnectOptions::parse(&pg.url())
        .unwrap()
        .with_lock_timeout(Duration::from_millis(300))
        .connect()
        .await
        .unwrap();

    let (mut holder, conn) = tokio_postgres::connect(&pg.url(), NoTls).await.unwrap();
    tokio::spawn(conn);
    let tx = holder.transaction().await.unwrap();
    tx.batch_execute("SELECT pg_advisory_xact_lock(hashtextextended('ipai/wb', 0))")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let e = db
        .apply("wb", &v1.resource_id(), std::slice::from_ref(&mig))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Locked { .. }), "{e:?}");
    assert!(
        e.to_string()
            .contains("another apply holds the workbench lock"),
        "{e}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    tx.rollback().await.unwrap();

    // The table itself locked by someone else (a long report, a hand-run ALTER).
    let tx = holder.transaction().await.unwrap();
    tx.batch_execute("LOCK TABLE sales.orders IN ACCESS SHARE MODE")
        .await
        .unwrap();
    let e = db
        .apply("wb", &v1.resource_id(), std::slice::from_ref(&mig))
        .await
        .unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, Error::Migration { .. }), "{e:?}");
    assert!(
        text.contains("lock on a table this migration changes"),
        "{text}"
    );
    tx.rollback().await.unwrap();
    assert_eq!(
        pg.psql("SELECT count(*) FROM information_schema.columns WHERE column_name = 'channel'")
            .unwrap()
            .trim(),
        "0",
        "nothing changed"
    );
    // Once free, the same migration applies.
    assert_eq!(
        db.apply("wb", &v1.resource_id(), &[mig])
            .await
            .unwrap()
            .len(),
        1
    );
}

/// A server that demands a client certificate naming the user (`clientcert=verify-full` in
/// `pg_hba.conf`): `sslcert` and `sslkey` connect as with libpq; without them the server
/// refuses, and a key file others may read is refused before connecting, as libpq does.
#[tokio::test]
async fn client_certificates_connect_where_the_server_demands_them() {
    use std::os::unix::fs::PermissionsExt;
    let pg = TestPostgres::start_tls(Tls::ClientCertificate).unwrap();
    let ca = pg.ca_file().display().to_string();
    let (cert, key) = pg.client_cert_files();
    let with_cert = |key: &std::path::Path, app: &str| {
        pg.url_with(
            "localhost",
            &format!(
                "sslmode=verify-full&sslrootcert={ca}&sslcert={}&sslkey={}&application_name={app}",
                cert.display(),
                key.display()
            ),
        )
    };
    let db = Postgres::connect(&with_cert(&key, "cert")).await.unwrap();
    assert_eq!(encrypted(&pg, "cert"), "true");
    assert_eq!(
        pg.psql(
            "SELECT s.client_dn FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) \
             WHERE a.application_name = 'cert'"
        )
        .unwrap()
        .trim(),
        "/CN=postgres",
        "the server saw the client certificate"
    );
    drop(db);

    let e = refused(&pg.url_with(
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={ca}"),
    ))
    .await;
    assert!(
        e.contains("connection requires a valid client certificate"),
        "{e}"
    );
    assert!(e.contains("set sslcert and sslkey"), "{e}");

    // A copy of the key that the group may read: refused, naming the file and the rule.
    let dir = tempfile::tempdir().unwrap();
    let loose = dir.path().join("client.key");
    std::fs::copy(&key, &loose).unwrap();
    std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(0o640)).unwrap();
    let e = refused(&with_cert(&loose, "loose")).await;
    assert!(e.contains("has group or world access (mode 0640)"), "{e}");
    assert!(e.contains(&loose.display().to_string()), "{e}");
    std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(0o600)).unwrap();
    Postgres::connect(&with_cert(&loose, "tight"))
        .await
        .unwrap();
    // The server's key does not belong to the client certificate.
    let other = dir.path().join("other.key");
    std::fs::write(&other, test_certificates().unwrap().2).unwrap();
    std::fs::set_permissions(&other, std::fs::Permissions::from_mode(0o600)).unwrap();
    let e = refused(&with_cert(&other, "other")).await;
    assert!(e.contains("does not fit sslcert"), "{e}");
}
