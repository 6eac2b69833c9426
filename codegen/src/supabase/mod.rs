//! Supabase SQL: the `ip_workbench` metadata schema, medallion layers, RLS and grants.
//!
//! A layer spec is validated into a [`LayerModel`]; the planner compares models and emits
//! statements rendered from `templates/supabase/`. Every migration is one transaction, has
//! a deterministic version (no clock: layer rank, schema and generation) and is written in
//! the Supabase CLI layout `<workbench>/supabase/migrations/<version>_<name>.sql`.

pub mod datacheck;
pub mod drift;
pub mod model;
pub mod plan;
pub mod retention;
pub mod sqlcheck;
pub mod types;
pub mod validate;

use serde_json::{Value, json};

pub use model::LayerModel;
pub use plan::Plan;
pub use validate::{
    Dependency, DependencyKind, LayerContext, LayerSummary, RelationKind, RelationSummary,
    layer_model,
};

use crate::spec::medallion::{Layer, MedallionLayerSpec};
use crate::{AttrPath, Diagnostics, Error, Expansion, Migration, Renderer, Result};
use crate::{sha256_hex, spec::WorkbenchSpec};

/// Ledger resource name of the metadata schema migration.
pub const METADATA_RESOURCE: &str = "ip_workbench";

/// The workbench's `ip_workbench` metadata schema and migration ledger.
pub fn workbench(spec: &WorkbenchSpec, r: &Renderer) -> Result<Expansion> {
    let m = metadata_migration(r)?;
    let mut exp = Expansion::default();
    exp.files
        .insert(migration_path(&spec.name, &m), m.sql.clone());
    exp.migrations.push(m);
    Ok(exp)
}

/// The metadata schema migration (idempotent: several workbenches may share a database).
pub fn metadata_migration(r: &Renderer) -> Result<Migration> {
    let body = r.render("supabase/workbench.sql", &json!({}))?;
    let version = version(0, "", 0);
    let sql = r.render(
        "supabase/migration.sql",
        &json!({
            "title": "ip_workbench metadata schema and migration ledger",
            "resource": "ipai_workbench",
            "version": version,
            "statements": [body.trim()],
        }),
    )?;
    Ok(Migration::new(version, "ip_workbench_metadata", sql))
}

/// `<workbench>/supabase/migrations/<version>_<name>.sql`.
pub fn migration_path(workbench: &str, m: &Migration) -> String {
    migration_file(workbench, &m.version, &m.name)
}

/// `<workbench>/supabase/migrations/<version>_<name>.sql` from a version and name (e.g. a
/// ledger row's).
pub fn migration_file(workbench: &str, version: &str, name: &str) -> String {
    format!("{workbench}/supabase/migrations/{version}_{name}.sql")
}

/// `<workbench>/supabase/layers/<schema>.<layer>.json`: the summary other layers check against.
pub fn summary_path(workbench: &str, schema: &str, layer: Layer) -> String {
    format!(
        "{workbench}/supabase/layers/{schema}.{}.json",
        layer.as_str()
    )
}

/// A 14-digit migration version: layer rank (0 for the metadata schema), five digits from
/// the schema name (so layers of different schemas never share a version) and the
/// generation (0 creates the layer, each later change adds one).
pub fn version(rank: u8, schema: &str, generation: u32) -> String {
    let schema_digits = if schema.is_empty() {
        0
    } else {
        u64::from_str_radix(&sha256_hex(schema.as_bytes())[..12], 16).unwrap_or(0) % 100_000
    };
    format!("{rank}{schema_digits:05}{generation:08}")
}

/// Renders a plan as one migration of layer `m`: generation 0 creates the layer
/// (`<schema>_<layer>`), each later one changes it (`<schema>_<layer>_change_<generation>`).
pub fn migration(m: &LayerModel, plan: &Plan, generation: u32, r: &Renderer) -> Result<Migration> {
    let (name, title) = if generation == 0 {
        (
            format!("{}_{}", m.schema, m.layer.as_str()),
            format!("{} layer of schema {}", m.layer.as_str(), m.schema),
        )
    } else {
        (
            format!("{}_{}_change_{generation}", m.schema, m.layer.as_str()),
            format!(
                "{} layer of schema {}: change {generation}",
                m.layer.as_str(),
                m.schema
            ),
        )
    };
    render_migration(m, plan, generation, name, title, r)
}

/// Renders the plan that drops layer `m` (see [`plan::drop`]) as its migration
/// `<schema>_<layer>_drop`, numbered as the generation after the layer's last change so
/// versions keep growing (a layer created again after a drop continues from there).
pub fn drop_migration(
    m: &LayerModel,
    plan: &Plan,
    generation: u32,
    r: &Renderer,
) -> Result<Migration> {
    let name = format!("{}_{}_drop", m.schema, m.layer.as_str());
    let title = format!("{} layer of schema {}: dropped", m.layer.as_str(), m.schema);
    render_migration(m, plan, generation, name, title, r)
}

fn render_migration(
    m: &LayerModel,
    plan: &Plan,
    generation: u32,
    name: String,
    title: String,
    r: &Renderer,
) -> Result<Migration> {
    let version = version(m.layer.rank(), &m.schema, generation);
    let statements = plan.render(r)?.into_iter().map(Value::String).collect();
    let sql = r.render_context(
        "supabase/migration.sql",
        &crate::render::Context::from(json!({
            "title": title,
            "resource": format!("ipai_medallion_layer {}", m.resource_id()),
            "version": version,
            "statements": Value::Array(statements),
        })),
    )?;
    Ok(Migration::new(version, name, sql))
}

/// Validates a layer; the error carries every diagnostic.
pub fn validate(
    spec: &MedallionLayerSpec,
    ctx: &LayerContext,
) -> Result<(LayerModel, Diagnostics)> {
    match layer_model(spec, ctx) {
        (Some(m), d) => Ok((m, d)),
        (None, d) => Err(Error::Invalid(d)),
    }
}

/// Expands a layer from scratch: its creating migration (as a migration and a file) and its
/// summary file.
pub fn medallion(spec: &MedallionLayerSpec, ctx: &LayerContext, r: &Renderer) -> Result<Expansion> {
    let (model, _) = validate(spec, ctx)?;
    expand_layer(spec, &model, &plan::create(&model), 0, r)
}

/// The expansion of `model` with the given plan as generation `generation`; its summary
/// file records no spec (see [`expand_layer`]).
pub fn expand_model(
    model: &LayerModel,
    plan: &Plan,
    generation: u32,
    r: &Renderer,
) -> Result<Expansion> {
    expand(None, model, plan, generation, r)
}

/// [`expand_model`] of `model` validated from `spec`, whose summary file records `spec` so
/// that `terraform import` rebuilds the configuration as written.
pub fn expand_layer(
    spec: &MedallionLayerSpec,
    model: &LayerModel,
    plan: &Plan,
    generation: u32,
    r: &Renderer,
) -> Result<Expansion> {
    expand(Some(spec), model, plan, generation, r)
}

fn expand(
    spec: Option<&MedallionLayerSpec>,
    model: &LayerModel,
    plan: &Plan,
    generation: u32,
    r: &Renderer,
) -> Result<Expansion> {
    let mut exp = Expansion::default();
    let summary = LayerSummary {
        spec: spec.cloned(),
        ..model.summary()
    };
    let summary = serde_json::to_string_pretty(&summary).map_err(|e| Error::Template {
        name: "layer summary".into(),
        message: e.to_string(),
    })? + "\n";
    exp.files.insert(
        summary_path(&model.workbench, &model.schema, model.layer),
        summary,
    );
    if !plan.is_empty() {
        let m = migration(model, plan, generation, r)?;
        exp.files
            .insert(migration_path(&model.workbench, &m), m.sql.clone());
        exp.migrations.push(m);
    }
    Ok(exp)
}

/// The change from `prev` to `next` as a plan, refused with a diagnostic naming every
/// destructive statement unless `allow_destructive` is set.
pub fn plan_change(
    prev: &LayerModel,
    next: &LayerModel,
    allow_destructive: bool,
) -> std::result::Result<Plan, Diagnostics> {
    let plan = plan::change(prev, next);
    if allow_destructive || plan.destructive.is_empty() {
        return Ok(plan);
    }
    let mut d = Diagnostics::new();
    let lost: Vec<&str> = plan.destructive.iter().map(|x| x.what.as_str()).collect();
    let path = plan
        .destructive
        .first()
        .map(|x| x.path.clone())
        .unwrap_or_else(|| AttrPath::attr("allow_destructive_changes"));
    d.error(
        path,
        "Destructive change refused",
        format!(
            "This change would lose data: {}. Set allow_destructive_changes = true to allow it.",
            lost.join("; ")
        ),
    );
    Err(d)
}

/// Refuses a change that drops or retypes what a relation of another layer (in `ctx`)
/// depends on: a key its foreign key references, a column or view its view reads.
/// PostgreSQL would refuse the change, and this layer does not own that relation, so it
/// neither drops nor recreates it: the other layer has to let go first.
pub fn check_dependents(
    next: &LayerModel,
    plan: &Plan,
    ctx: &LayerContext,
) -> std::result::Result<(), Diagnostics> {
    use plan::Part;
    use validate::DependencyKind;
    let mut d = Diagnostics::new();
    for rel in &ctx.relations {
        for dep in rel.depends_on.iter().filter(|x| x.schema == next.schema) {
            for x in plan.disturbed.iter().filter(|x| x.relation == dep.relation) {
                let blocked = match (&x.part, dep.kind) {
                    (Part::Whole, _) => true,
                    (Part::Column(c), DependencyKind::View) => {
                        dep.columns.is_empty() || dep.columns.contains(c)
                    }
                    (Part::Column(c), DependencyKind::ForeignKey) => dep.columns.contains(c),
                    (Part::Key(k), DependencyKind::ForeignKey) => {
                        let mut k = k.clone();
                        let mut cols = dep.columns.clone();
                        k.sort();
                        cols.sort();
                        k == cols
                    }
                    (Part::Key(_), DependencyKind::View) => false,
                };
                if !blocked {
                    continue;
                }
                let (what, how) = match dep.kind {
                    DependencyKind::View => ("view", "reads it"),
                    DependencyKind::ForeignKey => ("table", "has a foreign key into it"),
                };
                d.error(
                    x.path.clone(),
                    "Change blocked by another layer",
                    format!(
                        "This change {}, but {what} {}.{} of the {} layer {how}. PostgreSQL \
                         refuses to drop or retype what another object depends on, and this \
                         layer does not own {}.{}. Change the {} layer first (drop or adjust \
                         that {}) and apply, then apply this change. Nothing was changed.",
                        x.what,
                        rel.schema,
                        rel.name,
                        rel.layer.as_str(),
                        rel.schema,
                        rel.name,
                        rel.layer.as_str(),
                        match dep.kind {
                            DependencyKind::View => "view",
                            DependencyKind::ForeignKey => "foreign key",
                        },
                    ),
                );
            }
        }
    }
    if d.has_errors() { Err(d) } else { Ok(()) }
}

/// `layers` with each unset `schema` taken from its workbench (see
/// [`MedallionLayerSpec::resolve_schema`]).
pub fn resolve_schemas(
    workbenches: &[&WorkbenchSpec],
    layers: &[MedallionLayerSpec],
) -> Vec<MedallionLayerSpec> {
    layers
        .iter()
        .map(|l| {
            let mut l = l.clone();
            l.resolve_schema(workbenches.iter().copied().find(|w| w.name == l.workbench));
            l
        })
        .collect()
}

/// Validates and resolves several layers at once (the CLI's bundle): lower layers first,
/// each checked against the ones before it. Diagnostics are prefixed with
/// `medallion_layers[i]`; models come back in application order.
pub fn layer_models(
    workbenches: &[&WorkbenchSpec],
    layers: &[MedallionLayerSpec],
) -> (Vec<LayerModel>, Diagnostics) {
    let layers = resolve_schemas(workbenches, layers);
    let mut order: Vec<usize> = (0..layers.len()).collect();
    order.sort_by_key(|&i| (layers[i].layer, layers[i].schema.clone(), i));
    let mut ctx = LayerContext {
        workbenches: Some(workbenches.iter().map(|w| w.name.clone()).collect()),
        relations: Vec::new(),
    };
    let mut models = Vec::new();
    let mut diags = Diagnostics::new();
    for i in order {
        let prefix = AttrPath::attr("medallion_layers").index(i);
        let (model, d) = layer_model(&layers[i], &ctx);
        diags.extend(d.prefixed(&prefix));
        if let Some(m) = model {
            ctx.relations.extend(m.summary().relations);
            models.push(m);
        }
    }
    (models, diags)
}

/// Expands several layers at once, each from scratch (see [`layer_models`]).
pub fn medallion_layers(
    workbenches: &[&WorkbenchSpec],
    layers: &[MedallionLayerSpec],
    r: &Renderer,
) -> Result<Expansion> {
    let layers = resolve_schemas(workbenches, layers);
    let (models, diags) = layer_models(workbenches, &layers);
    if diags.has_errors() {
        return Err(Error::Invalid(diags));
    }
    let mut exp = Expansion::default();
    for m in &models {
        let spec = layers
            .iter()
            .find(|s| s.workbench == m.workbench && s.schema() == m.schema && s.layer == m.layer)
            .ok_or_else(|| Error::Template {
                name: "layer summary".into(),
                message: format!("no spec for layer {}", m.resource_id()),
            })?;
        exp.merge(expand_layer(spec, m, &plan::create(m), 0, r)?);
    }
    Ok(exp)
}

/// A spec that describes `m` (for import): tables with their columns, keys, rules, indexes
/// and comments, views, grants and policies as the catalog prints them. Policies named like
/// a preset become that preset; the others become custom policies.
pub fn spec_from_model(m: &LayerModel) -> MedallionLayerSpec {
    use crate::spec::medallion::{
        CheckSpec, ColumnSpec, ForeignKeySpec, GrantSpec, IndexSpec, PolicySpec, RlsSpec,
        TableSpec, ViewSpec,
    };
    use model::ConstraintKind;
    let strip = |name: &str, table: &str, suffix: &str| {
        name.strip_prefix(&format!("{table}_"))
            .and_then(|n| n.strip_suffix(suffix))
            .unwrap_or(name)
            .to_owned()
    };
    let tables = m
        .tables
        .iter()
        .map(|t| TableSpec {
            name: t.name.clone(),
            columns: t
                .columns
                .iter()
                .map(|c| ColumnSpec {
                    name: c.name.clone(),
                    r#type: c.r#type.clone(),
                    nullable: c.nullable,
                    default: c.default.clone(),
                    comment: c.comment.clone(),
                })
                .collect(),
            primary_key: t
                .constraints
                .iter()
                .find(|c| c.kind == ConstraintKind::PrimaryKey)
                .map(|c| c.columns.clone())
                .unwrap_or_default(),
            unique: t
                .constraints
                .iter()
                .filter(|c| c.kind == ConstraintKind::Unique)
                .map(|c| c.columns.clone())
                .collect(),
            checks: t
                .constraints
                .iter()
                .filter(|c| c.kind == ConstraintKind::Check)
                .map(|c| CheckSpec {
                    name: strip(&c.name, &t.name, "_check"),
                    expression: c.expression.clone().unwrap_or_default(),
                })
                .collect(),
            foreign_keys: t
                .foreign_keys
                .iter()
                .map(|f| ForeignKeySpec {
                    columns: f.columns.clone(),
                    references_table: f.ref_table.clone().unwrap_or_default(),
                    references_columns: f.ref_columns.clone(),
                    on_delete: f
                        .on_delete
                        .as_deref()
                        .unwrap_or("NO ACTION")
                        .to_lowercase()
                        .replace(' ', "_"),
                })
                .collect(),
            indexes: t
                .indexes
                .iter()
                .map(|i| IndexSpec {
                    name: Some(i.name.clone()),
                    columns: i.columns.clone(),
                    unique: i.unique,
                    method: i.method.clone(),
                })
                .collect(),
            retention_column: t.retention_column.clone(),
            comment: t.comment.clone(),
        })
        .collect();
    let views = m
        .views
        .iter()
        .map(|v| ViewSpec {
            name: v.name.clone(),
            query: v.query.clone(),
            comment: v.comment.clone(),
        })
        .collect();
    let presets: Vec<String> = ["service_role_full_access", "authenticated_read_only"]
        .into_iter()
        .filter(|p| {
            !m.tables.is_empty()
                && m.tables
                    .iter()
                    .all(|t| t.policies.iter().any(|x| x.name == *p))
        })
        .map(String::from)
        .collect();
    let policies = m
        .tables
        .iter()
        .flat_map(|t| {
            t.policies
                .iter()
                .filter(|p| !presets.contains(&p.name))
                .map(|p| PolicySpec {
                    name: p.name.clone(),
                    table: t.name.clone(),
                    command: p.command.to_lowercase(),
                    roles: p.roles.clone(),
                    using: p.using.clone(),
                    with_check: p.with_check.clone(),
                    restrictive: p.restrictive,
                })
        })
        .collect();
    let mut grants = Vec::new();
    for (name, g) in m
        .tables
        .iter()
        .map(|t| (&t.name, &t.grants))
        .chain(m.views.iter().map(|v| (&v.name, &v.grants)))
    {
        for (role, privs) in g {
            grants.push(GrantSpec {
                role: role.clone(),
                privileges: model::TABLE_PRIVILEGES
                    .iter()
                    .filter(|p| privs.contains(**p))
                    .map(|p| p.to_lowercase())
                    .collect(),
                objects: Some(vec![name.clone()]),
            });
        }
    }
    MedallionLayerSpec {
        workbench: m.workbench.clone(),
        layer: m.layer,
        schema: Some(m.schema.clone()),
        tables,
        views,
        retention_days: Some(m.retention_days.unwrap_or(0)),
        comment: m.comment.clone(),
        rls: RlsSpec {
            enabled: m.tables.iter().all(|t| t.rls),
            presets,
            policies,
            ..RlsSpec::default()
        },
        grants: Some(grants),
        deletion_protection: true,
        force_destroy: false,
        allow_destructive_changes: false,
    }
}
