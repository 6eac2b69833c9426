//! SQL target: every input bundle in `tests/inputs/` expands to the migrations of its
//! snapshot, every change in `tests/changes/` plans the migration of its snapshot,
//! and every statement parses with sqlparser's PostgreSQL dialect and round-trips.

mod common;

use std::borrow::Cow;

use ipai_codegen::spec::BundleSpec;
use ipai_codegen::supabase::{self, LayerContext, LayerModel, plan};
use ipai_codegen::{Expansion, Renderer};
use serde::Deserialize;
use sqlparser::ast::Statement;
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

/// Parses `sql`, prints each statement, parses the print again and compares the trees.
fn assert_round_trips(file: &str, sql: &str) -> usize {
    let dialect = PostgreSqlDialect {};
    let statements = Parser::parse_sql(&dialect, sql)
        .unwrap_or_else(|e| panic!("{file} does not parse: {e}\n{sql}"));
    for s in &statements {
        let printed = printable(s).to_string();
        let again = Parser::parse_sql(&dialect, &printed).unwrap_or_else(|e| {
            panic!("{file}: the print of a statement does not parse: {e}\n{printed}")
        });
        assert_eq!(again.len(), 1, "{file}: {printed}");
        assert_eq!(
            &again[0], s,
            "{file}: a statement changed in a round trip:\n{printed}"
        );
    }
    statements.len()
}

/// sqlparser 0.63 (the latest release) prints `COMMENT ON … IS '<text>'` without doubling
/// the quotes inside the text, so its print of `IS 'it''s'` does not parse: such a statement
/// is printed with the quotes doubled, everything else as sqlparser prints it.
fn printable(s: &Statement) -> Cow<'_, Statement> {
    match s {
        Statement::Comment {
            comment: Some(text),
            ..
        } if text.contains('\'') => {
            let mut escaped = s.clone();
            if let Statement::Comment { comment, .. } = &mut escaped {
                *comment = Some(text.replace('\'', "''"));
            }
            Cow::Owned(escaped)
        }
        _ => Cow::Borrowed(s),
    }
}

#[test]
fn supabase_migrations() {
    insta::glob!("inputs/*.yaml", |path| {
        let exp = common::expand(path);
        assert_eq!(exp, common::expand(path), "expansion is not deterministic");
        check_migrations(&common::load(path).workbench.name, &exp);
        let versions: Vec<_> = exp.migrations.iter().map(|m| m.version.clone()).collect();
        let mut sorted = versions.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(
            versions, sorted,
            "versions are unique and in application order"
        );
        insta::assert_snapshot!(common::files_under(&exp, "supabase"));
    });
}

/// The layers of a bundle as the planner sees them, in application order.
fn layer_models(b: &BundleSpec) -> Vec<LayerModel> {
    let (models, d) = supabase::layer_models(&[&b.workbench], &b.medallion_layers);
    assert!(!d.has_errors(), "{d:?}");
    models
}

/// Checks that every migration of `exp` is written, is not empty and round-trips; returns
/// how many statements they hold.
fn check_migrations(workbench: &str, exp: &Expansion) -> usize {
    let mut statements = 0;
    for m in &exp.migrations {
        let file = supabase::migration_path(workbench, m);
        assert_eq!(exp.files.get(&file), Some(&m.sql), "{file} is not written");
        let n = assert_round_trips(&file, &m.sql);
        assert!(n > 0, "{file} is empty");
        statements += n;
    }
    statements
}

/// A change input: the same bundle before and after an edit. Each layer whose spec changed
/// gets the migration an update of its `ipai_medallion_layer` would apply; a layer sets
/// `allow_destructive_changes` exactly when its change loses data.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangeInput {
    before: BundleSpec,
    after: BundleSpec,
    /// Rows inserted between the two (the acceptance tests apply both to PostgreSQL).
    #[serde(default)]
    #[allow(dead_code)]
    rows: Vec<String>,
}

#[test]
fn supabase_change_migrations() {
    let r = Renderer::embedded().unwrap();
    insta::glob!("changes/*.yaml", |path| {
        let input: ChangeInput = common::load_as(path);
        let (before, after) = (layer_models(&input.before), layer_models(&input.after));
        let key = |m: &LayerModel| (m.schema.clone(), m.layer);
        assert_eq!(
            before.iter().map(key).collect::<Vec<_>>(),
            after.iter().map(key).collect::<Vec<_>>(),
            "a change input keeps its layers (creates and drops have their own tests)"
        );
        let mut out = String::new();
        let mut statements = 0;
        for (i, (prev, next)) in before.iter().zip(&after).enumerate() {
            let spec = input
                .after
                .medallion_layers
                .iter()
                .find(|s| key(next) == (s.schema().to_owned(), s.layer))
                .unwrap();
            let allow = spec.allow_destructive_changes;
            match supabase::plan_change(prev, next, false) {
                Ok(_) => assert!(
                    !allow,
                    "{}: nothing destructive, flag set",
                    next.resource_id()
                ),
                Err(d) => {
                    assert!(allow, "{}: destructive, flag not set", next.resource_id());
                    out.push_str(&format!(
                        "==> refused without allow_destructive_changes <==\n{}\n\n",
                        d.0[0].detail
                    ));
                }
            }
            let change = supabase::plan_change(prev, next, allow).unwrap();
            if let Err(d) = supabase::check_dependents(
                next,
                &change,
                &LayerContext::while_changing(&before, &after, i),
            ) {
                out.push_str("==> refused: another layer depends on what it changes <==\n");
                for x in &d.0 {
                    out.push_str(&format!("{}: {}\n", x.path, x.detail));
                }
                out.push('\n');
                continue;
            }
            let exp = supabase::expand_model(next, &change, 1, &r).unwrap();
            assert_eq!(exp, supabase::expand_model(next, &change, 1, &r).unwrap());
            statements += check_migrations(&next.workbench, &exp);
            out.push_str(&common::files_under(&exp, "migrations"));
        }
        assert!(statements > 0, "the change plans nothing");
        insta::assert_snapshot!(out);
    });
}

#[test]
fn supabase_drop_migrations() {
    let r = Renderer::embedded().unwrap();
    insta::glob!("inputs/*.yaml", |path| {
        let models = layer_models(&common::load(path));
        if models.is_empty() {
            return;
        }
        let mut out = String::new();
        // Highest layer first, as Terraform destroys dependents before what they read.
        for m in models.iter().rev() {
            let drop = supabase::drop_migration(m, &plan::drop(m), 1, &r).unwrap();
            let file = supabase::migration_path(&m.workbench, &drop);
            assert!(
                file.ends_with(&format!("_{}_{}_drop.sql", m.schema, m.layer.as_str())),
                "{file}"
            );
            assert!(assert_round_trips(&file, &drop.sql) > 0, "{file} is empty");
            out.push_str(&format!("==> {file} <==\n{}\n", drop.sql));
        }
        insta::assert_snapshot!(out);
    });
}

/// The statements that schedule and remove a workbench's purge job parse and round-trip,
/// with a workbench name that needs its quote doubled.
#[test]
fn purge_job_statements_round_trip() {
    let r = Renderer::embedded().unwrap();
    let job = supabase::retention::purge_job("o'brien");
    assert_eq!(
        assert_round_trips("schedule", &job.schedule_sql(&r).unwrap()),
        1
    );
    assert_eq!(
        assert_round_trips("unschedule", &job.unschedule_sql(&r).unwrap()),
        1
    );
    // The job's command is itself SQL pg_cron runs.
    assert_eq!(assert_round_trips("command", &job.command), 1);
}

/// Every SQL template renders through the compiled evaluator, and every statement of every
/// plan the inputs make (create, change, drop) comes out byte-identical to what the
/// handlebars crate renders from the same context.
#[test]
fn every_plan_renders_as_handlebars_does() {
    let r = Renderer::embedded().unwrap();
    for name in r.template_names() {
        if name.starts_with("supabase/") {
            assert!(
                r.is_compiled(name),
                "{name} uses more than the compiled core of handlebars"
            );
        }
    }
    let mut plans = Vec::new();
    insta::glob!("inputs/*.yaml", |path| {
        for m in layer_models(&common::load(path)) {
            plans.push(plan::create(&m));
            plans.push(plan::drop(&m));
        }
    });
    insta::glob!("changes/*.yaml", |path| {
        let input: ChangeInput = common::load_as(path);
        let (before, after) = (layer_models(&input.before), layer_models(&input.after));
        for (prev, next) in before.iter().zip(&after) {
            plans.push(plan::change(prev, next));
        }
    });
    let mut steps = 0;
    for step in plans.iter().flat_map(|p| &p.steps) {
        let ctx = step.context();
        assert_eq!(
            r.render_context(step.template, &ctx).unwrap(),
            r.render_interpreted(step.template, &ctx).unwrap(),
            "{:?}",
            ctx
        );
        steps += 1;
    }
    assert!(steps > 50, "only {steps} steps compared");
}
