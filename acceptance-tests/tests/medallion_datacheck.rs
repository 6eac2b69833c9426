//! Changes the rows already in a table would make PostgreSQL refuse, found at plan against
//! a real PostgreSQL 15: a new NOT NULL column without default, a column turning NOT NULL
//! over NULLs, a new CHECK rule, unique key or foreign key the rows break, a retype whose
//! cast fails on a value. Each is a diagnostic on its attribute with the count of rows and
//! one primary key, the checks leave catalog and rows exactly as they were, and the same
//! change applies once the rows are fixed.

use std::process::Command;
use std::time::Duration;

use ipai_acceptance_tests::postgres::{PG_BIN, TestPostgres, apply_metadata};
use ipai_codegen::spec::MedallionLayerSpec;
use ipai_codegen::supabase::{self, LayerContext, LayerModel, plan};
use ipai_codegen::{Diagnostic, Renderer};
use ipai_provider::postgres::Postgres;
use ipai_provider::postgres::datacheck::Found;
use serde_json::{Value, json};

/// Customers and their orders in `schema`; `change` edits the orders table (index 1).
fn spec(schema: &str, change: impl FnOnce(&mut Value)) -> MedallionLayerSpec {
    let mut orders = json!({
        "name": "orders",
        "columns": [
            {"name": "id", "type": "text", "nullable": false},
            {"name": "customer_id", "type": "text"},
            {"name": "amount", "type": "numeric(12,2)", "nullable": false},
            {"name": "note", "type": "text"},
            {"name": "code", "type": "text"}
        ],
        "primary_key": ["id"]
    });
    change(&mut orders);
    serde_json::from_value(json!({
        "workbench": "wb",
        "layer": "silver",
        "schema": schema,
        "tables": [
            {"name": "customers", "primary_key": ["id"], "columns": [
                {"name": "id", "type": "text", "nullable": false},
                {"name": "email", "type": "text"}
            ]},
            orders
        ]
    }))
    .unwrap()
}

fn model(spec: &MedallionLayerSpec) -> LayerModel {
    let (m, d) = supabase::layer_model(spec, &LayerContext::default());
    m.unwrap_or_else(|| panic!("{d:?}"))
}

/// Everything of `schema` (catalog and rows, as pg_dump prints them) and the ledger.
fn snapshot(pg: &TestPostgres, schema: &str) -> String {
    let out = Command::new(format!("{PG_BIN}/pg_dump"))
        .args(["--schema", schema, "-d", &pg.url()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ledger = pg
        .psql("SELECT string_agg(resource || ' ' || version, ',' ORDER BY version) FROM ip_workbench.migrations")
        .unwrap();
    // pg_dump fences its output with a random key on every run.
    let dump: Vec<&str> = std::str::from_utf8(&out.stdout)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("\\restrict") && !l.starts_with("\\unrestrict"))
        .collect();
    format!("{}\n{ledger}", dump.join("\n"))
}

/// One case: the change, the attribute it is refused on, rows and key the diagnostic
/// names, the SQL that fixes the rows.
struct Case {
    schema: &'static str,
    change: fn(&mut Value),
    destructive: bool,
    path: &'static str,
    summary: &'static str,
    rows: i64,
    sample: &'static str,
    says: &'static str,
    fix: &'static str,
}

fn columns(t: &mut Value) -> &mut Vec<Value> {
    t["columns"].as_array_mut().unwrap()
}

const CASES: &[Case] = &[
    Case {
        schema: "new_not_null",
        change: |t| columns(t).push(json!({"name": "region", "type": "text", "nullable": false})),
        destructive: false,
        path: "tables[1].columns[5].nullable",
        summary: "New NOT NULL column needs a default",
        rows: 3,
        sample: "o1",
        says: "3 existing rows of new_not_null.orders (for example the row with id = o1) exist and would get NULL in it",
        fix: "DELETE FROM new_not_null.orders",
    },
    Case {
        schema: "set_not_null",
        change: |t| columns(t)[3]["nullable"] = json!(false),
        destructive: false,
        path: "tables[1].columns[3].nullable",
        summary: "Column cannot become NOT NULL",
        rows: 2,
        sample: "o2",
        says: "2 existing rows of set_not_null.orders (for example the row with id = o2) hold NULL in note",
        fix: "UPDATE set_not_null.orders SET note = '' WHERE note IS NULL",
    },
    Case {
        schema: "new_check",
        change: |t| {
            t["checks"] = json!([
                {"name": "note_short", "expression": "length(note) < 100"},
                {"name": "amount_positive", "expression": "amount > 0"}
            ])
        },
        destructive: false,
        path: "tables[1].checks[1]",
        summary: "CHECK rule broken by existing rows",
        rows: 1,
        sample: "o3",
        says: "1 existing row of new_check.orders (for example the row with id = o3) breaks it",
        fix: "UPDATE new_check.orders SET amount = 1 WHERE amount <= 0",
    },
    Case {
        schema: "new_unique",
        change: |t| t["unique"] = json!([["customer_id"]]),
        destructive: false,
        path: "tables[1].unique[0]",
        summary: "Duplicate rows for the new unique key",
        rows: 2,
        sample: "o1",
        says: "2 existing rows of new_unique.orders (for example the row with id = o1) have a duplicate in (customer_id)",
        fix: "UPDATE new_unique.orders SET customer_id = NULL WHERE id = 'o3'",
    },
    Case {
        schema: "new_fk",
        change: |t| t["foreign_keys"] = json!([{"columns": ["customer_id"], "references_table": "customers", "references_columns": ["id"]}]),
        destructive: false,
        path: "tables[1].foreign_keys[0]",
        summary: "Foreign key broken by existing rows",
        rows: 1,
        sample: "o2",
        says: "1 existing row of new_fk.orders (for example the row with id = o2) references a row new_fk.customers (id) does not have",
        fix: "INSERT INTO new_fk.customers (id) VALUES ('c2')",
    },
    Case {
        schema: "retype",
        change: |t| columns(t)[4]["type"] = json!("integer"),
        destructive: true,
        path: "tables[1].columns[4].type",
        summary: "Column values do not convert to the new type",
        rows: 1,
        sample: "o2",
        says: "1 existing row of retype.orders (for example the row with id = o2) holds a value in code that does not convert",
        fix: "UPDATE retype.orders SET code = NULL WHERE code !~ '^[0-9]+$'",
    },
];

/// The diagnostics the provider makes of what the checks found.
fn refused(change: &plan::Plan, found: &[Found]) -> Vec<Diagnostic> {
    change
        .checks
        .iter()
        .zip(found)
        .filter_map(|(c, f)| match f {
            Found::Violations { rows, sample } => Some(c.diagnostic(*rows, sample.as_deref())),
            Found::Clean => None,
            Found::Unchecked(why) => panic!("{} unchecked: {why}", c.change),
        })
        .collect()
}

#[tokio::test]
async fn changes_the_rows_refuse_are_found_at_plan_and_apply_once_fixed() {
    let pg = TestPostgres::start().unwrap();
    let r = Renderer::embedded().unwrap();
    let mut db = Postgres::connect(&pg.url()).await.unwrap();
    apply_metadata(&mut db, "wb", &r).await.unwrap();
    let timeout = Duration::from_secs(30);
    for case in CASES {
        let s = case.schema;
        let v0 = model(&spec(s, |_| {}));
        let mig = supabase::migration(&v0, &plan::create(&v0), 0, &r).unwrap();
        db.apply("wb", &v0.resource_id(), &[mig]).await.unwrap();
        pg.psql(&format!(
            "INSERT INTO {s}.customers (id, email) VALUES ('c1', 'a@example.com'); \
             INSERT INTO {s}.orders (id, customer_id, amount, note, code) VALUES \
             ('o1', 'c1', 150, 'first', '12'), ('o2', 'c2', 5, NULL, 'abc'), ('o3', 'c1', -1, NULL, '7')"
        ))
        .unwrap();

        let v1 = model(&spec(s, case.change));
        let change = supabase::plan_change(&v0, &v1, case.destructive).unwrap();
        let before = snapshot(&pg, s);
        let found = db.check_rows(&change.checks, timeout).await.unwrap();
        let violations: Vec<&Found> = found.iter().filter(|f| **f != Found::Clean).collect();
        assert_eq!(
            violations,
            vec![&Found::Violations {
                rows: case.rows,
                sample: Some(case.sample.to_owned())
            }],
            "{s}"
        );
        let d = refused(&change, &found);
        assert_eq!(d.len(), 1, "{s}: {d:?}");
        assert_eq!(d[0].path.to_string(), case.path, "{s}");
        assert_eq!(d[0].summary, case.summary, "{s}");
        assert!(d[0].detail.contains(case.says), "{s}: {}", d[0].detail);
        assert!(
            d[0].detail.ends_with("Nothing was changed."),
            "{}",
            d[0].detail
        );
        // Only the key: no other value of the rows (the note, the code 'abc') is shown.
        assert!(
            !d[0].detail.contains("abc") && !d[0].detail.contains("example.com"),
            "{}",
            d[0].detail
        );
        assert_eq!(
            before,
            snapshot(&pg, s),
            "{s}: the check changed the database"
        );

        // PostgreSQL agrees: the migration fails and rolls back.
        let mig = supabase::migration(&v1, &change, 1, &r).unwrap();
        assert!(
            db.apply("wb", &v1.resource_id(), std::slice::from_ref(&mig))
                .await
                .is_err()
        );
        assert_eq!(
            before,
            snapshot(&pg, s),
            "{s}: the failed migration left traces"
        );

        pg.psql(case.fix).unwrap();
        let found = db.check_rows(&change.checks, timeout).await.unwrap();
        assert!(found.iter().all(|f| *f == Found::Clean), "{s}: {found:?}");
        db.apply("wb", &v1.resource_id(), &[mig]).await.unwrap();
        let seen = db.introspect("wb", s, v1.layer).await.unwrap().unwrap();
        assert!(
            plan::change(&seen, &v1).is_empty(),
            "{s}: drift after apply"
        );
    }
    // The kept rows of the retyped column were converted.
    assert_eq!(
        pg.psql("SELECT string_agg(id || '=' || coalesce(code::text, '-'), ',' ORDER BY id) FROM retype.orders")
            .unwrap()
            .trim(),
        "o1=12,o2=-,o3=7"
    );
}

#[tokio::test]
async fn only_what_the_change_touches_is_checked_and_clean_rows_pass() {
    let pg = TestPostgres::start().unwrap();
    let r = Renderer::embedded().unwrap();
    let mut db = Postgres::connect(&pg.url()).await.unwrap();
    apply_metadata(&mut db, "wb", &r).await.unwrap();
    let v0 = model(&spec("quiet", |_| {}));
    let mig = supabase::migration(&v0, &plan::create(&v0), 0, &r).unwrap();
    db.apply("wb", &v0.resource_id(), &[mig]).await.unwrap();
    pg.psql(
        "INSERT INTO quiet.orders (id, amount, note, code) VALUES ('o1', 1.5, NULL, '1.5'), ('o2', 2, NULL, NULL)",
    )
    .unwrap();

    // A nullable column, one with a default, an index and a comment need no check.
    let v1 = model(&spec("quiet", |t| {
        columns(t).push(json!({"name": "region", "type": "text"}));
        columns(t).push(
            json!({"name": "channel", "type": "text", "nullable": false, "default": "'web'"}),
        );
        columns(t)[3]["comment"] = json!("free text");
        t["indexes"] = json!([{"columns": ["amount"]}]);
    }));
    let change = supabase::plan_change(&v0, &v1, false).unwrap();
    assert!(change.checks.is_empty(), "{:#?}", change.checks);
    // NOT NULL with a default: the NULLs get the default first, nothing to check.
    let v2 = model(&spec("quiet", |t| {
        columns(t)[3]["nullable"] = json!(false);
        columns(t)[3]["default"] = json!("''");
    }));
    assert!(
        supabase::plan_change(&v0, &v2, false)
            .unwrap()
            .checks
            .is_empty()
    );

    // A cast that succeeds on every value passes on the set-based path; numeric to
    // integer rounds where text to integer would not parse '1.5'.
    let v3 = model(&spec("quiet", |t| columns(t)[2]["type"] = json!("integer")));
    let change = supabase::plan_change(&v0, &v3, true).unwrap();
    assert_eq!(change.checks.len(), 1);
    assert_eq!(
        db.check_rows(&change.checks, Duration::from_secs(30))
            .await
            .unwrap(),
        vec![Found::Clean]
    );
    let v4 = model(&spec("quiet", |t| columns(t)[4]["type"] = json!("integer")));
    let change = supabase::plan_change(&v0, &v4, true).unwrap();
    assert_eq!(
        db.check_rows(&change.checks, Duration::from_secs(30))
            .await
            .unwrap(),
        vec![Found::Violations {
            rows: 1,
            sample: Some("o1".into())
        }]
    );
}
