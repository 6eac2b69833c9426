//! `ipai_medallion_layer` in codegen: every bad input the issue lists gets a diagnostic on
//! its attribute, and an update plans the smallest change, refusing data loss.

use std::collections::BTreeSet;

use ipai_codegen::spec::MedallionLayerSpec;
use ipai_codegen::supabase::{self, LayerContext, LayerModel, RelationKind, RelationSummary};
use ipai_codegen::{Diagnostics, Renderer, Severity};
use serde_json::{Value, json};

fn spec(v: Value) -> MedallionLayerSpec {
    serde_json::from_value(v).unwrap()
}

fn silver() -> Value {
    json!({
        "workbench": "ipai",
        "layer": "silver",
        "schema": "scout",
        "tables": [{
            "name": "silver_tx",
            "columns": [
                {"name": "id", "type": "text", "nullable": false},
                {"name": "amount", "type": "numeric(12,2)", "nullable": false},
                {"name": "note", "type": "text"}
            ],
            "primary_key": ["id"],
            "checks": [{"name": "amount_positive", "expression": "amount > 0"}]
        }],
        "views": [{"name": "silver_tx_view", "query": "select id, amount from silver_tx"}]
    })
}

fn ctx() -> LayerContext {
    LayerContext {
        workbenches: Some(BTreeSet::from(["ipai".to_owned()])),
        relations: vec![RelationSummary {
            schema: "scout".into(),
            name: "bronze_tx".into(),
            layer: ipai_codegen::spec::medallion::Layer::Bronze,
            kind: RelationKind::Table,
            columns: vec!["id".into(), "payload".into()],
            primary_key: vec!["id".into()],
            depends_on: Vec::new(),
        }],
    }
}

fn errors(v: Value) -> Diagnostics {
    let (model, d) = supabase::layer_model(&spec(v), &ctx());
    assert!(model.is_none(), "expected an error");
    Diagnostics(
        d.0.into_iter()
            .filter(|x| x.severity == Severity::Error)
            .collect(),
    )
}

fn model(v: Value) -> LayerModel {
    let (m, d) = supabase::layer_model(&spec(v), &ctx());
    m.unwrap_or_else(|| panic!("{d:?}"))
}

/// Sets `pointer` in the silver spec to `value` and returns the diagnostics (path, summary).
fn bad(pointer: &str, value: Value) -> Vec<(String, String)> {
    let mut v = silver();
    *v.pointer_mut(pointer).unwrap() = value;
    errors(v)
        .0
        .into_iter()
        .map(|d| (d.path.to_string(), d.summary))
        .collect()
}

#[test]
fn bad_identifiers_are_refused_on_their_attribute() {
    for name in [
        "bad\"name",
        "x;drop table y",
        "has space",
        "select",
        &"t".repeat(64),
    ] {
        let d = bad("/tables/0/name", json!(name));
        assert!(
            d.contains(&("tables[0].name".into(), "Invalid identifier".into())),
            "{name}: {d:?}"
        );
    }
    let d = bad("/tables/0/columns/1/name", json!("Amount"));
    assert!(
        d.iter().any(|(p, _)| p == "tables[0].columns[1].name"),
        "{d:?}"
    );
    let d = bad("/schema", json!("auth"));
    assert_eq!(d, [("schema".into(), "Reserved schema".into())]);
}

#[test]
fn every_named_object_refuses_bad_identifiers_on_its_own_attribute() {
    let long = "n".repeat(64);
    let policy =
        |name: &str| json!({"policies": [{"name": name, "table": "silver_tx", "using": "true"}]});
    let index = |name: &str| json!([{"name": name, "columns": ["note"]}]);
    for name in ["we\"ird", "a;b", "a b", "table", long.as_str()] {
        for (pointer, value, path) in [
            ("/schema", json!(name), "schema"),
            (
                "/tables/0/columns/2/name",
                json!(name),
                "tables[0].columns[2].name",
            ),
            (
                "/tables/0/checks/0/name",
                json!(name),
                "tables[0].checks[0].name",
            ),
            (
                "/tables/0/indexes",
                index(name),
                "tables[0].indexes[0].name",
            ),
            ("/views/0/name", json!(name), "views[0].name"),
            ("/rls", policy(name), "rls.policies[0].name"),
        ] {
            let mut v = silver();
            let (parent, key) = pointer.rsplit_once('/').unwrap();
            v.pointer_mut(parent).unwrap()[key] = value;
            let d: Vec<(String, String)> = errors(v)
                .0
                .into_iter()
                .map(|x| (x.path.to_string(), x.summary))
                .collect();
            assert!(
                d.contains(&(path.into(), "Invalid identifier".into())),
                "{path} = {name:?}: {d:?}"
            );
        }
    }
}

#[test]
fn a_name_taken_by_a_view_or_another_layer_is_a_duplicate() {
    let d = bad("/views/0/name", json!("silver_tx"));
    assert!(
        d.contains(&("views[0].name".into(), "Duplicate table".into())),
        "{d:?}"
    );
    // bronze_tx belongs to the bronze layer of the same schema.
    let d = bad("/tables/0/name", json!("bronze_tx"));
    assert!(
        d.contains(&("tables[0].name".into(), "Duplicate table".into())),
        "{d:?}"
    );
}

#[test]
fn unknown_types_duplicates_and_references_are_refused() {
    let d = bad("/tables/0/columns/1/type", json!("money"));
    assert_eq!(
        d,
        [(
            "tables[0].columns[1].type".into(),
            "Unknown column type".into()
        )]
    );

    let mut v = silver();
    let t = v["tables"][0].clone();
    v["tables"].as_array_mut().unwrap().push(t);
    let d = errors(v);
    assert!(
        d.0.iter()
            .any(|x| x.summary == "Duplicate table" && x.path.to_string() == "tables[1].name")
    );

    let d = bad("/views/0/query", json!("select id, amout from silver_tx"));
    assert_eq!(d[0].0, "views[0].query");
    let d = bad("/views/0/query", json!("select id from silver_nope"));
    assert_eq!(d[0].0, "views[0].query");
    let d = bad("/tables/0/checks/0/expression", json!("amout > 0"));
    assert_eq!(d[0].0, "tables[0].checks[0].expression");

    let mut v = silver();
    v["rls"] = json!({"policies": [{"name": "own", "table": "silver_tx", "using": "owner = (select auth.uid())"}]});
    let d = errors(v);
    assert_eq!(d.0[0].path.to_string(), "rls.policies[0].using");
    assert!(d.0[0].detail.contains("owner"), "{}", d.0[0].detail);

    let mut v = silver();
    v["rls"] = json!({"policies": [{"name": "own", "table": "nope", "using": "true"}]});
    assert_eq!(errors(v).0[0].path.to_string(), "rls.policies[0].table");
}

#[test]
fn a_layer_of_an_unknown_workbench_is_refused() {
    let d = bad("/workbench", json!("other"));
    assert_eq!(d, [("workbench".into(), "Unknown workbench".into())]);
}

#[test]
fn views_and_foreign_keys_may_use_lower_layers_only() {
    let mut v = silver();
    v["tables"][0]["columns"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "bronze_id", "type": "uuid"}));
    v["tables"][0]["foreign_keys"] =
        json!([{"columns": ["bronze_id"], "references_table": "bronze_tx"}]);
    v["views"][0]["query"] = json!("select b.id, b.payload from bronze_tx b");
    let m = model(v.clone());
    assert_eq!(m.tables[0].foreign_keys[0].ref_columns, ["id"]);
    assert!(m.views[0].query.contains("\"scout\".\"bronze_tx\""));
    // The same from a bronze layer: silver is not below it.
    let mut c = ctx();
    c.relations[0].layer = ipai_codegen::spec::medallion::Layer::Gold;
    let (none, d) = supabase::layer_model(&spec(v), &c);
    assert!(none.is_none());
    assert!(
        d.0.iter()
            .any(|x| x.path.to_string() == "tables[0].foreign_keys[0].references_table")
    );
    assert!(d.0.iter().any(|x| x.path.to_string() == "views[0].query"));
}

#[test]
fn bronze_tables_default_to_raw_ingestion() {
    let m = model(
        json!({"workbench": "ipai", "layer": "bronze", "schema": "raw", "tables": [{"name": "events"}]}),
    );
    let cols: Vec<(&str, &str)> = m.tables[0]
        .columns
        .iter()
        .map(|c| (c.name.as_str(), c.r#type.as_str()))
        .collect();
    assert_eq!(
        cols,
        [
            ("id", "uuid"),
            ("source", "text"),
            ("payload", "jsonb"),
            ("batch_id", "text"),
            ("ingested_at", "timestamp with time zone")
        ]
    );
    assert_eq!(m.retention_days, Some(90));
    assert_eq!(m.tables[0].retention_column.as_deref(), Some("ingested_at"));
    assert!(m.tables[0].rls);
}

fn change_sql(prev: Value, next: Value, allow: bool) -> Result<String, Diagnostics> {
    let r = Renderer::embedded().unwrap();
    let plan = supabase::plan_change(&model(prev), &model(next), allow)?;
    Ok(plan.render(&r).unwrap().join("\n"))
}

#[test]
fn the_same_spec_changes_nothing() {
    assert_eq!(change_sql(silver(), silver(), false).unwrap(), "");
}

#[test]
fn a_new_column_is_added_in_place() {
    let mut next = silver();
    next["tables"][0]["columns"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "channel", "type": "text", "default": "'pos'"}));
    let sql = change_sql(silver(), next, false).unwrap();
    assert_eq!(
        sql,
        "ALTER TABLE \"scout\".\"silver_tx\" ADD COLUMN \"channel\" text DEFAULT 'pos';"
    );
}

#[test]
fn a_new_index_policy_or_retention_is_the_only_statement() {
    let mut next = silver();
    next["tables"][0]["indexes"] = json!([{"columns": ["amount"]}]);
    assert_eq!(
        change_sql(silver(), next, false).unwrap(),
        "CREATE INDEX \"silver_tx_amount_idx\" ON \"scout\".\"silver_tx\" USING btree (\"amount\");"
    );
    let mut next = silver();
    next["rls"] = json!({"policies": [{"name": "writers", "table": "silver_tx", "command": "insert", "with_check": "amount < 1000"}]});
    let sql = change_sql(silver(), next, false).unwrap();
    assert!(sql.starts_with("CREATE POLICY \"writers\""), "{sql}");
    assert_eq!(sql.lines().count(), 1, "{sql}");
    let mut prev = silver();
    prev["tables"][0]["retention_column"] = json!(null);
    let mut with_col = silver();
    with_col["tables"][0]["columns"][2] = json!({"name": "note", "type": "timestamptz"});
    with_col["tables"][0]["retention_column"] = json!("note");
    let mut longer = with_col.clone();
    longer["retention_days"] = json!(3650);
    let sql = change_sql(with_col, longer, false).unwrap();
    assert!(
        sql.starts_with("INSERT INTO \"ip_workbench\".\"tables\""),
        "{sql}"
    );
    assert!(sql.contains(", 3650, 'note',"), "{sql}");
    assert!(!sql.contains("ALTER"), "{sql}");
}

#[test]
fn destructive_changes_are_named_and_refused_without_the_flag() {
    let mut next = silver();
    next["tables"][0]["columns"].as_array_mut().unwrap().pop();
    next["tables"][0]["columns"][1]["type"] = json!("bigint");
    let d = change_sql(silver(), next.clone(), false).unwrap_err();
    assert_eq!(d.0.len(), 1);
    assert_eq!(d.0[0].summary, "Destructive change refused");
    assert!(
        d.0[0].detail.contains("drop column scout.silver_tx.note"),
        "{}",
        d.0[0].detail
    );
    assert!(
        d.0[0]
            .detail
            .contains("change type of column scout.silver_tx.amount"),
        "{}",
        d.0[0].detail
    );
    let sql = change_sql(silver(), next, true).unwrap();
    assert!(sql.contains("DROP COLUMN \"note\""), "{sql}");
    assert!(sql.contains("ALTER COLUMN \"amount\" TYPE bigint"), "{sql}");
    // The view reads amount: it is dropped before the type change and recreated after.
    let drop_view = sql.find("DROP VIEW").unwrap();
    let alter = sql.find("TYPE bigint").unwrap();
    let create_view = sql.find("CREATE VIEW").unwrap();
    assert!(drop_view < alter && alter < create_view, "{sql}");

    let mut next = silver();
    next["tables"] = json!([]);
    next["views"] = json!([]);
    let d = change_sql(silver(), next, false).unwrap_err();
    assert!(
        d.0[0].detail.contains("drop table scout.silver_tx"),
        "{}",
        d.0[0].detail
    );
}

/// The silver spec with its `note` column of type `ty`.
fn with_note(ty: &str) -> Value {
    let mut v = silver();
    v["tables"][0]["columns"][2]["type"] = json!(ty);
    v
}

#[test]
fn widening_a_column_is_an_in_place_update_without_the_flag() {
    for (from, to, canonical) in [
        ("varchar(8)", "text", "text"),
        ("varchar(8)", "varchar(32)", "character varying(32)"),
        ("varchar(8)", "varchar", "character varying"),
        ("integer", "bigint", "bigint"),
        ("smallint", "integer", "integer"),
        ("smallint", "bigint", "bigint"),
        ("numeric(10,2)", "numeric(12,2)", "numeric(12,2)"),
        ("numeric(10,2)", "numeric", "numeric"),
        ("varchar(8)[]", "text[]", "text[]"),
    ] {
        let (prev, next) = (model(with_note(from)), model(with_note(to)));
        let plan = supabase::plan_change(&prev, &next, false)
            .unwrap_or_else(|d| panic!("{from} -> {to} refused: {d:?}"));
        assert!(plan.destructive.is_empty(), "{from} -> {to}");
        // The values stay as they are: no row needs checking before the change.
        assert!(plan.checks.is_empty(), "{from} -> {to}: {:?}", plan.checks);
        let sql = plan
            .render(&Renderer::embedded().unwrap())
            .unwrap()
            .join("\n");
        assert_eq!(
            sql,
            format!(
                "ALTER TABLE \"scout\".\"silver_tx\" ALTER COLUMN \"note\" TYPE {canonical} USING \"note\"::{canonical};"
            ),
            "{from} -> {to}"
        );
    }
    // amount is read by the view: widening it still rebuilds the view around the ALTER.
    let mut wider = silver();
    wider["tables"][0]["columns"][1]["type"] = json!("numeric(16,2)");
    let sql = change_sql(silver(), wider, false).unwrap();
    let drop_view = sql.find("DROP VIEW").unwrap();
    let alter = sql.find("TYPE numeric(16,2)").unwrap();
    let create_view = sql.find("CREATE VIEW").unwrap();
    assert!(drop_view < alter && alter < create_view, "{sql}");
}

#[test]
fn narrowing_or_reinterpreting_a_column_is_still_refused() {
    for (from, to, old, new) in [
        ("text", "varchar(8)", "text", "character varying(8)"),
        (
            "varchar(32)",
            "varchar(8)",
            "character varying(32)",
            "character varying(8)",
        ),
        ("bigint", "integer", "bigint", "integer"),
        (
            "numeric(12,2)",
            "numeric(12,1)",
            "numeric(12,2)",
            "numeric(12,1)",
        ),
        (
            "numeric(12,2)",
            "numeric(14,4)",
            "numeric(12,2)",
            "numeric(14,4)",
        ),
        (
            "timestamp",
            "timestamptz",
            "timestamp without time zone",
            "timestamp with time zone",
        ),
        ("text", "integer", "text", "integer"),
        ("real", "double precision", "real", "double precision"),
        ("integer", "numeric", "integer", "numeric"),
    ] {
        let d = change_sql(with_note(from), with_note(to), false)
            .expect_err(&format!("{from} -> {to} is refused"));
        assert_eq!(d.0.len(), 1, "{d:?}");
        assert_eq!(d.0[0].summary, "Destructive change refused");
        assert_eq!(d.0[0].path.to_string(), "tables[0].columns[2].type");
        assert_eq!(
            d.0[0].detail,
            format!(
                "This change would lose data: change type of column scout.silver_tx.note from \
                 {old} to {new}. Set allow_destructive_changes = true to allow it."
            )
        );
        // With the flag the rows are checked to convert before anything runs.
        let plan =
            supabase::plan_change(&model(with_note(from)), &model(with_note(to)), true).unwrap();
        assert_eq!(plan.checks.len(), 1, "{from} -> {to}");
    }
}

#[test]
fn versions_are_deterministic_and_ordered() {
    let r = Renderer::embedded().unwrap();
    let m = model(silver());
    let a = supabase::migration(&m, &supabase::plan::create(&m), 0, &r).unwrap();
    let b = supabase::migration(&m, &supabase::plan::create(&m), 0, &r).unwrap();
    assert_eq!(a, b);
    let next = supabase::migration(&m, &supabase::plan::create(&m), 1, &r).unwrap();
    assert!(a.version < next.version && a.version.len() == 14);
    let meta = supabase::metadata_migration(&r).unwrap();
    assert!(meta.version < a.version);
    assert_eq!(a.name, "scout_silver");
    assert_eq!(next.name, "scout_silver_change_1");
    // The drop is named as one and numbered after the last change.
    let drop = supabase::drop_migration(&m, &supabase::plan::drop(&m), 2, &r).unwrap();
    assert_eq!(drop.name, "scout_silver_drop");
    assert!(
        next.version < drop.version,
        "{} {}",
        next.version,
        drop.version
    );
}

#[test]
fn an_unset_schema_is_the_workbench_s_supabase_schema() {
    let wb = |schema: Option<&str>| -> ipai_codegen::spec::WorkbenchSpec {
        let mut v = json!({"name": "ipai"});
        if let Some(s) = schema {
            v["supabase"] = json!({"project_ref": "ref", "schema": s});
        }
        serde_json::from_value(v).unwrap()
    };
    let mut unset = silver();
    unset.as_object_mut().unwrap().remove("schema");
    let workbenches = [wb(Some("finance")), wb(None)];
    for (w, expected) in workbenches.iter().zip(["finance", "scout"]) {
        let (models, d) = supabase::layer_models(&[w], &[spec(unset.clone())]);
        assert!(!d.has_errors(), "{d:?}");
        assert_eq!(models[0].schema, expected);
    }
    // A schema the layer names wins over the workbench's.
    let (models, _) = supabase::layer_models(&[&workbenches[0]], &[spec(silver())]);
    assert_eq!(models[0].schema, "scout");

    for (schema, summary) in [
        ("auth", "Reserved schema"),
        ("fin;ance", "Invalid identifier"),
    ] {
        let d = ipai_codegen::expand::validate_workbench(&wb(Some(schema)));
        let d: Vec<_> =
            d.0.iter()
                .map(|d| (d.path.to_string(), d.summary.as_str()))
                .collect();
        assert!(
            d.contains(&("supabase.schema".into(), summary)),
            "{schema}: {d:?}"
        );
    }
}

/// A layer applied by an earlier version, whose state spells `numeric(12)` and `char` as it
/// wrote them, plans no change once read: the spellings are today's (`numeric(12,0)`,
/// `character(1)`, as PostgreSQL prints them).
#[test]
fn types_recorded_in_an_older_spelling_plan_no_change() {
    let mut v = silver();
    v["tables"][0]["columns"].as_array_mut().unwrap().extend([
        json!({"name": "whole", "type": "numeric(12)"}),
        json!({"name": "flag", "type": "char"}),
    ]);
    let (model, d) = supabase::layer_model(&spec(v), &ctx());
    let model = model.unwrap_or_else(|| panic!("{d:?}"));
    let old_state = serde_json::to_string(&model)
        .unwrap()
        .replace("\"numeric(12,0)\"", "\"numeric(12)\"")
        .replace("\"character(1)\"", "\"character\"");
    let mut prev: LayerModel = serde_json::from_str(&old_state).unwrap();
    assert!(
        !supabase::plan::change(&prev, &model).is_empty(),
        "the old spellings differ from today's"
    );
    prev.respell_types();
    assert!(supabase::plan::change(&prev, &model).is_empty());
}
