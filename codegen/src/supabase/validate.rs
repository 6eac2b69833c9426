//! Spec → model: validates a medallion layer and resolves its defaults, presets and SQL
//! expressions. Every user error becomes a diagnostic on the offending attribute.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use rayon::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::model::{
    ColumnModel, ConstraintKind, ConstraintModel, IndexModel, LayerModel, PolicyModel,
    TABLE_PRIVILEGES, TableModel, ViewModel, object_name,
};
use super::sqlcheck::{self, Relations};
use super::types;
use crate::spec::medallion::{ColumnSpec, Layer, MedallionLayerSpec, TableSpec};
use crate::sql::{quote_ident, quote_literal};
use crate::{AttrPath, Diagnostics, names};

/// Schemas Supabase or PostgreSQL manage; a layer never creates or alters objects in them.
pub const MANAGED_SCHEMAS: &[&str] = &[
    "auth",
    "storage",
    "ip_workbench",
    "public",
    "extensions",
    "graphql",
    "graphql_public",
    "realtime",
    "supabase_functions",
    "supabase_migrations",
    "vault",
    "pgsodium",
    "pgsodium_masks",
    "net",
    "cron",
    "information_schema",
];

/// Table or view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RelationKind {
    /// A table.
    Table,
    /// A view.
    View,
}

/// A table or view another layer may read or reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RelationSummary {
    /// Schema.
    pub schema: String,
    /// Name.
    pub name: String,
    /// Layer it belongs to.
    pub layer: Layer,
    /// Table or view.
    pub kind: RelationKind,
    /// Column names in order.
    pub columns: Vec<String>,
    /// Primary key columns (tables).
    pub primary_key: Vec<String>,
    /// What it needs of relations of other layers: the keys its foreign keys reference
    /// (tables), the columns its query reads (views). A layer checks its changes against
    /// these, since PostgreSQL refuses to drop or retype what they depend on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<Dependency>,
}

/// How a relation depends on a relation of another layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DependencyKind {
    /// A foreign key references a key.
    ForeignKey,
    /// A view's query reads columns.
    View,
}

/// A relation of another layer, and the columns of it a relation depends on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Dependency {
    /// Foreign key or view.
    pub kind: DependencyKind,
    /// Schema of the relation depended on.
    pub schema: String,
    /// Name of the relation depended on.
    pub relation: String,
    /// The key a foreign key references, the columns a view reads; empty when a view reads
    /// them all (`*`).
    pub columns: Vec<String>,
}

/// The public summary of a layer, written to `<workbench>/supabase/layers/<schema>.<layer>.json`
/// so other layers can check their views and foreign keys against it at plan time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LayerSummary {
    /// Workbench.
    pub workbench: String,
    /// Schema.
    pub schema: String,
    /// Layer.
    pub layer: Layer,
    /// Its tables and views.
    pub relations: Vec<RelationSummary>,
    /// The spec the layer was generated from, from which `terraform import` rebuilds the
    /// configuration exactly (the catalog reprints expressions); no secrets in it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<MedallionLayerSpec>,
}

/// What a layer is checked against besides its own spec.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LayerContext {
    /// Workbenches that exist; `None` when not known (the check is skipped).
    pub workbenches: Option<BTreeSet<String>>,
    /// Tables and views of the workbench's other layers.
    pub relations: Vec<RelationSummary>,
}

/// Checks a medallion domain schema name: a plain identifier, not one Supabase or
/// PostgreSQL manages.
pub fn domain_schema(path: &AttrPath, schema: &str, d: &mut Diagnostics) {
    if names::pg_identifier(path, schema, d)
        && (MANAGED_SCHEMAS.contains(&schema) || schema.starts_with("pg_"))
    {
        d.error(
            path.clone(),
            "Reserved schema",
            format!(
                "Schema {schema:?} is managed by Supabase or PostgreSQL; medallion layers never \
                 create or alter objects in it. Use a domain schema such as \"scout\"."
            ),
        );
    }
}

impl LayerContext {
    /// What the provider sees of the other layers when it plans layer `i` of a change
    /// from `before` to `after` (both in application order): the lower ones as planned in
    /// the same run (Terraform plans them first), the higher ones as last applied.
    pub fn while_changing(before: &[LayerModel], after: &[LayerModel], i: usize) -> Self {
        Self {
            workbenches: None,
            relations: after[..i]
                .iter()
                .chain(&before[i + 1..])
                .flat_map(|m| m.summary().relations)
                .collect(),
        }
    }
}

impl LayerModel {
    /// Whether `schema.name` is one of this layer's tables or views.
    fn owns(&self, schema: &str, name: &str) -> bool {
        schema == self.schema && (self.table(name).is_some() || self.view(name).is_some())
    }

    /// The layer's public summary.
    pub fn summary(&self) -> LayerSummary {
        let mut relations: Vec<RelationSummary> = self
            .tables
            .iter()
            .map(|t| RelationSummary {
                schema: self.schema.clone(),
                name: t.name.clone(),
                layer: self.layer,
                kind: RelationKind::Table,
                columns: t.columns.iter().map(|c| c.name.clone()).collect(),
                primary_key: t
                    .constraints
                    .iter()
                    .find(|c| c.kind == ConstraintKind::PrimaryKey)
                    .map(|c| c.columns.clone())
                    .unwrap_or_default(),
                depends_on: t
                    .foreign_keys
                    .iter()
                    .filter_map(|fk| {
                        let (schema, relation) = (fk.ref_schema.clone()?, fk.ref_table.clone()?);
                        (!self.owns(&schema, &relation)).then(|| Dependency {
                            kind: DependencyKind::ForeignKey,
                            schema,
                            relation,
                            columns: fk.ref_columns.clone(),
                        })
                    })
                    .collect(),
            })
            .collect();
        relations.extend(self.views.iter().map(|v| {
            RelationSummary {
                schema: self.schema.clone(),
                name: v.name.clone(),
                layer: self.layer,
                kind: RelationKind::View,
                columns: v.columns.clone(),
                primary_key: Vec::new(),
                depends_on: sqlcheck::reads(&v.query, &self.schema)
                    .into_iter()
                    .filter(|((schema, relation), _)| !self.owns(schema, relation))
                    .map(|((schema, relation), columns)| Dependency {
                        kind: DependencyKind::View,
                        schema,
                        relation,
                        columns,
                    })
                    .collect(),
            }
        }));
        LayerSummary {
            workbench: self.workbench.clone(),
            schema: self.schema.clone(),
            layer: self.layer,
            relations,
            spec: None,
        }
    }
}

/// The raw ingestion columns of a bronze table declared without columns.
pub fn bronze_default_columns() -> Vec<ColumnSpec> {
    let col =
        |name: &str, ty: &str, nullable: bool, default: Option<&str>, comment: &str| ColumnSpec {
            name: name.into(),
            r#type: ty.into(),
            nullable,
            default: default.map(Into::into),
            comment: Some(comment.into()),
        };
    vec![
        col(
            "id",
            "uuid",
            false,
            Some("gen_random_uuid()"),
            "Row id, assigned on ingestion.",
        ),
        col(
            "source",
            "text",
            false,
            None,
            "System the record came from.",
        ),
        col("payload", "jsonb", false, None, "The record as received."),
        col("batch_id", "text", true, None, "Ingestion batch."),
        col(
            "ingested_at",
            "timestamptz",
            false,
            Some("now()"),
            "When the record arrived; retention is measured on it.",
        ),
    ]
}

const PRESETS: [&str; 3] = [
    "service_role_full_access",
    "authenticated_read_only",
    "tenant_isolation",
];
const COMMANDS: [&str; 5] = ["all", "select", "insert", "update", "delete"];
const ON_DELETE: [(&str, &str); 5] = [
    ("no_action", "NO ACTION"),
    ("restrict", "RESTRICT"),
    ("cascade", "CASCADE"),
    ("set_null", "SET NULL"),
    ("set_default", "SET DEFAULT"),
];
/// Tables checked by one parallel job: enough that splitting costs less than it saves.
const TABLES_PER_JOB: usize = 64;
const INDEX_METHODS: [&str; 5] = ["btree", "hash", "gin", "gist", "brin"];

/// Validates `spec` against `ctx` and resolves it into a model. The diagnostics may hold
/// warnings even when a model is returned; on any error there is no model.
pub fn layer_model(
    spec: &MedallionLayerSpec,
    ctx: &LayerContext,
) -> (Option<LayerModel>, Diagnostics) {
    let mut d = Diagnostics::new();
    let wb_path = AttrPath::attr("workbench");
    if names::dns1123_label(&wb_path, &spec.workbench, &mut d)
        && let Some(known) = &ctx.workbenches
        && !known.contains(&spec.workbench)
    {
        d.error(
            wb_path,
            "Unknown workbench",
            format!(
                "No ipai_workbench named {:?} exists{}. Create the workbench first, or fix the name.",
                spec.workbench,
                if known.is_empty() {
                    String::new()
                } else {
                    format!(
                        " (known: {})",
                        known.iter().cloned().collect::<Vec<_>>().join(", ")
                    )
                }
            ),
        );
    }
    let schema = spec.schema();
    domain_schema(&AttrPath::attr("schema"), schema, &mut d);
    let retention_days = match spec.retention_days {
        Some(n) if n < 0 => {
            d.error(
                AttrPath::attr("retention_days"),
                "Invalid retention",
                format!("retention_days is {n}; use a positive number of days, or 0 to keep rows forever."),
            );
            None
        }
        Some(0) => None,
        Some(n) => Some(n),
        None => spec.layer.default_retention_days(),
    };

    // Relations this layer may read: lower (or equal) layers, then its own as they appear.
    let mut known: Relations = ctx
        .relations
        .iter()
        .filter(|r| r.layer <= spec.layer && !(r.schema == schema && r.layer == spec.layer))
        .map(|r| ((r.schema.clone(), r.name.clone()), r.columns.clone()))
        .collect();
    let other_names: BTreeMap<&str, Layer> = ctx
        .relations
        .iter()
        .filter(|r| r.schema == schema && r.layer != spec.layer)
        .map(|r| (r.name.as_str(), r.layer))
        .collect();

    // Each table is checked on its own, in parallel; the results (and their diagnostics)
    // come back in spec order, so the outcome does not depend on the threads. Defaults
    // repeat across tables (now(), 0, ...): each distinct one is parsed once per job.
    let checked: Vec<(Option<TableModel>, Diagnostics)> = spec
        .tables
        .par_iter()
        .enumerate()
        .with_min_len(TABLES_PER_JOB)
        .map_init(HashMap::new, |defaults, (i, t)| {
            let mut d = Diagnostics::new();
            let path = || AttrPath::attr("tables").index(i);
            let model = table_model(spec, t, &path, schema, defaults, &mut d);
            (model, d)
        })
        .collect();
    let mut seen = BTreeSet::new();
    let mut tables = Vec::with_capacity(spec.tables.len());
    for ((i, t), (model, table_diags)) in spec.tables.iter().enumerate().zip(checked) {
        // Paths are built only for a diagnostic: most names are fine.
        let path = || AttrPath::attr("tables").index(i);
        let name_ok = names::pg_identifier_at(|| path().at("name"), &t.name, &mut d);
        if name_ok {
            duplicate_check(
                &|| path().at("name"),
                &t.name,
                &mut seen,
                &other_names,
                &mut d,
            );
        }
        // Known even when invalid, so views reading it report their own problems only.
        let declared = if t.columns.is_empty() && spec.layer == Layer::Bronze {
            bronze_default_columns()
                .into_iter()
                .map(|c| c.name)
                .collect()
        } else {
            t.columns.iter().map(|c| c.name.clone()).collect()
        };
        known.insert((schema.to_owned(), t.name.clone()), declared);
        d.extend(table_diags);
        tables.extend(model);
    }
    // Foreign keys resolve once every table of the layer is known; looked up by name, not
    // by scanning, so a layer of thousands of tables stays linear.
    let by_name = index_by_name(&tables);
    for (i, t) in spec.tables.iter().enumerate() {
        if t.foreign_keys.is_empty() {
            continue;
        }
        let Some(&me) = by_name.get(&t.name) else {
            continue;
        };
        let path = AttrPath::attr("tables").index(i);
        let fks = foreign_keys(spec, t, &path, &tables[me], &tables, &by_name, ctx, &mut d);
        tables[me].foreign_keys = fks;
    }

    let mut views = Vec::new();
    for (i, v) in spec.views.iter().enumerate() {
        let path = AttrPath::attr("views").index(i);
        if names::pg_identifier(&path.at("name"), &v.name, &mut d) {
            duplicate_check(
                &|| path.at("name"),
                &v.name,
                &mut seen,
                &other_names,
                &mut d,
            );
        }
        match sqlcheck::check_query(&v.query, schema, &known) {
            Ok(q) => {
                known.insert(
                    (schema.to_owned(), v.name.clone()),
                    q.output_columns.clone(),
                );
                views.push(ViewModel {
                    name: v.name.clone(),
                    query: q.sql,
                    columns: q.output_columns,
                    grants: BTreeMap::new(),
                    comment: v.comment.clone(),
                    security_invoker: true,
                });
            }
            Err(why) => d.error(
                path.at("query"),
                "Invalid view query",
                format!("The query of view {:?} is not valid: {why}.", v.name),
            ),
        }
    }

    rls(spec, schema, &known, &mut tables, &mut d);
    grants(spec, &mut tables, &mut views, &mut d);

    if d.has_errors() {
        return (None, d);
    }
    let model = LayerModel {
        workbench: spec.workbench.clone(),
        schema: schema.to_owned(),
        layer: spec.layer,
        tables,
        views,
        retention_days,
        comment: spec.comment.clone(),
        exact: true,
    };
    (Some(model), d)
}

/// Position of each table by name (the first, should a name repeat).
fn index_by_name(tables: &[TableModel]) -> HashMap<String, usize> {
    let mut out = HashMap::with_capacity(tables.len());
    for (k, t) in tables.iter().enumerate() {
        out.entry(t.name.clone()).or_insert(k);
    }
    out
}

fn duplicate_check(
    path: &dyn Fn() -> AttrPath,
    name: &str,
    seen: &mut BTreeSet<String>,
    other: &BTreeMap<&str, Layer>,
    d: &mut Diagnostics,
) {
    if !seen.insert(name.to_owned()) {
        d.error(
            path(),
            "Duplicate table",
            format!("{name:?} is declared more than once in this layer; table and view names must be unique."),
        );
    } else if let Some(layer) = other.get(name) {
        d.error(
            path(),
            "Duplicate table",
            format!(
                "{name:?} already exists in the {} layer of the same schema; pick another name.",
                layer.as_str()
            ),
        );
    }
}

fn table_model(
    spec: &MedallionLayerSpec,
    t: &TableSpec,
    path: &dyn Fn() -> AttrPath,
    schema: &str,
    defaults: &mut HashMap<String, Result<String, String>>,
    d: &mut Diagnostics,
) -> Option<TableModel> {
    let errors_before = d.0.len();
    let defaulted = t.columns.is_empty() && spec.layer == Layer::Bronze;
    let bronze_columns;
    let column_specs: &[ColumnSpec] = if defaulted {
        bronze_columns = bronze_default_columns();
        &bronze_columns
    } else {
        &t.columns
    };
    if column_specs.is_empty() {
        d.error(
            path().at("columns"),
            "Missing columns",
            format!(
                "Table {:?} has no columns. Only bronze tables get default (raw ingestion) columns; \
                 {} tables declare theirs.",
                t.name,
                spec.layer.as_str()
            ),
        );
    }
    let mut columns = Vec::new();
    let mut col_names = BTreeSet::new();
    for (j, c) in column_specs.iter().enumerate() {
        let cp = || path().at("columns").index(j);
        if names::pg_identifier_at(|| cp().at("name"), &c.name, d)
            && !col_names.insert(c.name.clone())
        {
            d.error(
                cp().at("name"),
                "Duplicate column",
                format!("Column {:?} appears twice in table {:?}.", c.name, t.name),
            );
        }
        let ty = match types::canonical_type(&c.r#type) {
            Ok(ty) => ty,
            Err(why) => {
                // Kept under its raw type so rules and views naming it are still checked.
                d.error(cp().at("type"), "Unknown column type", format!("{why}."));
                c.r#type.clone()
            }
        };
        let default = match &c.default {
            None => None,
            Some(expr) => match defaults
                .entry(expr.clone())
                .or_insert_with(|| sqlcheck::check_default(expr))
            {
                Ok(sql) => Some(sql.clone()),
                Err(why) => {
                    d.error(
                        cp().at("default"),
                        "Invalid default",
                        format!("The default of column {:?} is not valid: {why}.", c.name),
                    );
                    None
                }
            },
        };
        columns.push(ColumnModel {
            name: c.name.clone(),
            r#type: ty,
            nullable: c.nullable,
            default,
            comment: c.comment.clone(),
        });
    }
    let col_list: Vec<String> = columns.iter().map(|c| c.name.clone()).collect();
    let check_cols = |attr: &dyn Fn() -> AttrPath,
                      cols: &[String],
                      what: &str,
                      d: &mut Diagnostics| {
        if cols.is_empty() {
            d.error(
                attr(),
                format!("Empty {what}"),
                format!("The {what} of table {:?} lists no columns.", t.name),
            );
        }
        for (k, c) in cols.iter().enumerate() {
            if !col_list.contains(c) {
                d.error(
                    attr().index(k),
                    "Unknown column",
                    format!(
                        "The {what} of table {:?} names column {c:?}, which the table does not have.",
                        t.name
                    ),
                );
            }
        }
    };

    let mut constraints = Vec::new();
    let pk = if defaulted && t.primary_key.is_empty() {
        vec!["id".to_owned()]
    } else {
        t.primary_key.clone()
    };
    if pk.is_empty() {
        if matches!(spec.layer, Layer::Silver | Layer::Gold) {
            d.error(
                path().at("primary_key"),
                "Missing primary key",
                format!(
                    "Table {:?} has no primary key; {} tables are constrained and need one.",
                    t.name,
                    spec.layer.as_str()
                ),
            );
        }
    } else {
        check_cols(&|| path().at("primary_key"), &pk, "primary key", d);
        constraints.push(constraint(
            object_name(&[&t.name], "pkey"),
            ConstraintKind::PrimaryKey,
            pk,
        ));
    }
    for (k, u) in t.unique.iter().enumerate() {
        check_cols(&|| path().at("unique").index(k), u, "unique key", d);
        let mut parts = vec![t.name.as_str()];
        parts.extend(u.iter().map(String::as_str));
        constraints.push(constraint(
            object_name(&parts, "key"),
            ConstraintKind::Unique,
            u.clone(),
        ));
    }
    let known_for_checks = Relations::new();
    for (k, c) in t.checks.iter().enumerate() {
        let cp = || path().at("checks").index(k);
        names::pg_identifier_at(|| cp().at("name"), &c.name, d);
        match sqlcheck::check_expr(&c.expression, schema, &t.name, &col_list, &known_for_checks) {
            Ok(e) => {
                let mut m = constraint(
                    object_name(&[&t.name, &c.name], "check"),
                    ConstraintKind::Check,
                    Vec::new(),
                );
                m.expression = Some(e.sql);
                constraints.push(m);
            }
            Err(why) => d.error(
                cp().at("expression"),
                "Invalid CHECK rule",
                format!(
                    "Rule {:?} of table {:?} is not valid: {why}.",
                    c.name, t.name
                ),
            ),
        }
    }
    let mut indexes = Vec::new();
    let mut index_specs = t.indexes.clone();
    if defaulted {
        index_specs.push(crate::spec::medallion::IndexSpec {
            name: None,
            columns: vec!["ingested_at".into()],
            unique: false,
            method: "btree".into(),
        });
    }
    for (k, ix) in index_specs.iter().enumerate() {
        let ip = || path().at("indexes").index(k);
        check_cols(&|| ip().at("columns"), &ix.columns, "index", d);
        let name = match &ix.name {
            Some(n) => {
                names::pg_identifier_at(|| ip().at("name"), n, d);
                n.clone()
            }
            None => {
                let mut parts = vec![t.name.as_str()];
                parts.extend(ix.columns.iter().map(String::as_str));
                object_name(&parts, "idx")
            }
        };
        if !INDEX_METHODS.contains(&ix.method.as_str()) {
            d.error(
                ip().at("method"),
                "Unknown index method",
                format!(
                    "{:?} is not an index method; use one of {}.",
                    ix.method,
                    INDEX_METHODS.join(", ")
                ),
            );
        }
        indexes.push(IndexModel {
            name,
            unique: ix.unique,
            method: ix.method.clone(),
            columns: ix.columns.clone(),
        });
    }
    let retention_column = match &t.retention_column {
        Some(c) => {
            match columns.iter().find(|m| &m.name == c) {
                None => d.error(
                    path().at("retention_column"),
                    "Unknown column",
                    format!(
                        "Retention column {c:?} is not a column of table {:?}.",
                        t.name
                    ),
                ),
                Some(m) if !types::is_temporal(&m.r#type) => d.error(
                    path().at("retention_column"),
                    "Retention column is not a date",
                    format!(
                        "Retention is measured on a date or timestamp column; {c:?} is {}.",
                        m.r#type
                    ),
                ),
                Some(_) => {}
            }
            Some(c.clone())
        }
        None if spec.layer == Layer::Bronze && col_list.iter().any(|c| c == "ingested_at") => {
            Some("ingested_at".to_owned())
        }
        None => None,
    };
    if d.0[errors_before..]
        .iter()
        .any(|x| x.severity == crate::Severity::Error)
    {
        return None;
    }
    Some(TableModel {
        name: t.name.clone(),
        columns,
        constraints,
        foreign_keys: Vec::new(),
        indexes,
        rls: spec.rls.enabled,
        policies: Vec::new(),
        grants: BTreeMap::new(),
        comment: t.comment.clone(),
        retention_column,
    })
}

fn constraint(name: String, kind: ConstraintKind, columns: Vec<String>) -> ConstraintModel {
    ConstraintModel {
        name,
        kind,
        columns,
        expression: None,
        ref_schema: None,
        ref_table: None,
        ref_columns: Vec::new(),
        on_delete: None,
    }
}

#[allow(clippy::too_many_arguments)]
fn foreign_keys(
    spec: &MedallionLayerSpec,
    t: &TableSpec,
    path: &AttrPath,
    me: &TableModel,
    tables: &[TableModel],
    by_name: &HashMap<String, usize>,
    ctx: &LayerContext,
    d: &mut Diagnostics,
) -> Vec<ConstraintModel> {
    let mut out = Vec::new();
    for (k, fk) in t.foreign_keys.iter().enumerate() {
        let fp = path.at("foreign_keys").index(k);
        for (n, c) in fk.columns.iter().enumerate() {
            if me.column(c).is_none() {
                d.error(
                    fp.at("columns").index(n),
                    "Unknown column",
                    format!(
                        "Foreign key column {c:?} is not a column of table {:?}.",
                        t.name
                    ),
                );
            }
        }
        // The target: a table of this layer, or of a lower layer in the same schema.
        let target: Option<(Vec<String>, Vec<String>)> = by_name
            .get(&fk.references_table)
            .map(|&k| &tables[k])
            .map(|m| {
                (
                    m.columns.iter().map(|c| c.name.clone()).collect(),
                    m.constraints
                        .iter()
                        .find(|c| c.kind == ConstraintKind::PrimaryKey)
                        .map(|c| c.columns.clone())
                        .unwrap_or_default(),
                )
            })
            .or_else(|| {
                ctx.relations
                    .iter()
                    .find(|r| {
                        r.schema == spec.schema()
                            && r.name == fk.references_table
                            && r.kind == RelationKind::Table
                            && r.layer < spec.layer
                    })
                    .map(|r| (r.columns.clone(), r.primary_key.clone()))
            });
        let Some((target_cols, target_pk)) = target else {
            let higher = ctx.relations.iter().any(|r| {
                r.schema == spec.schema() && r.name == fk.references_table && r.layer > spec.layer
            });
            d.error(
                fp.at("references_table"),
                "Unknown referenced table",
                if higher {
                    format!(
                        "{:?} belongs to a higher layer; foreign keys point to this layer or a lower one.",
                        fk.references_table
                    )
                } else {
                    format!(
                        "{:?} is not a table of this layer or of a lower layer in schema {:?}.",
                        fk.references_table,
                        spec.schema()
                    )
                },
            );
            continue;
        };
        let ref_cols = if fk.references_columns.is_empty() {
            target_pk
        } else {
            fk.references_columns.clone()
        };
        for (n, c) in ref_cols.iter().enumerate() {
            if !target_cols.contains(c) {
                d.error(
                    fp.at("references_columns").index(n),
                    "Unknown column",
                    format!(
                        "Referenced column {c:?} is not a column of table {:?}.",
                        fk.references_table
                    ),
                );
            }
        }
        if ref_cols.len() != fk.columns.len() || fk.columns.is_empty() {
            d.error(
                fp.at("references_columns"),
                "Foreign key column count mismatch",
                format!(
                    "The foreign key has {} columns but references {} (the referenced table's \
                     primary key unless references_columns is set).",
                    fk.columns.len(),
                    ref_cols.len()
                ),
            );
        }
        let on_delete = ON_DELETE.iter().find(|(k, _)| *k == fk.on_delete);
        if on_delete.is_none() {
            d.error(
                fp.at("on_delete"),
                "Unknown ON DELETE action",
                format!(
                    "{:?} is not an action; use one of {}.",
                    fk.on_delete,
                    ON_DELETE.map(|(k, _)| k).join(", ")
                ),
            );
        }
        let mut parts = vec![t.name.as_str()];
        parts.extend(fk.columns.iter().map(String::as_str));
        out.push(ConstraintModel {
            name: object_name(&parts, "fkey"),
            kind: ConstraintKind::ForeignKey,
            columns: fk.columns.clone(),
            expression: None,
            ref_schema: Some(spec.schema().to_owned()),
            ref_table: Some(fk.references_table.clone()),
            ref_columns: ref_cols,
            on_delete: on_delete.map(|(_, sql)| (*sql).to_owned()),
        });
    }
    out
}

fn rls(
    spec: &MedallionLayerSpec,
    schema: &str,
    known: &Relations,
    tables: &mut [TableModel],
    d: &mut Diagnostics,
) {
    let rp = AttrPath::attr("rls");
    if !spec.rls.enabled {
        d.warning(
            rp.at("enabled"),
            "Row-level security is off",
            format!(
                "Schema {schema:?} is exposed through Supabase's API; without row-level security \
                 every role granted a table sees all of its rows."
            ),
        );
    }
    let mut presets = BTreeSet::new();
    for (i, p) in spec.rls.presets.iter().enumerate() {
        if !PRESETS.contains(&p.as_str()) {
            d.error(
                rp.at("presets").index(i),
                "Unknown policy preset",
                format!("{p:?} is not a preset; use one of {}.", PRESETS.join(", ")),
            );
        }
        presets.insert(p.as_str());
    }
    let tenant = if presets.contains("tenant_isolation") {
        match &spec.rls.tenant_column {
            None => {
                d.error(
                    rp.at("tenant_column"),
                    "Missing tenant column",
                    "The tenant_isolation preset needs tenant_column: the column holding each row's tenant.",
                );
                None
            }
            Some(c) => {
                names::pg_identifier(&rp.at("tenant_column"), c, d);
                Some(c.as_str())
            }
        }
    } else {
        None
    };
    for t in tables.iter_mut() {
        let cols: Vec<String> = t.columns.iter().map(|c| c.name.clone()).collect();
        let mut policies = Vec::new();
        if presets.contains("service_role_full_access") {
            policies.push(PolicyModel {
                name: "service_role_full_access".into(),
                command: "ALL".into(),
                roles: vec!["service_role".into()],
                using: Some("true".into()),
                with_check: Some("true".into()),
                restrictive: false,
            });
        }
        if presets.contains("authenticated_read_only") {
            policies.push(PolicyModel {
                name: "authenticated_read_only".into(),
                command: "SELECT".into(),
                roles: vec!["authenticated".into()],
                using: Some("true".into()),
                with_check: None,
                restrictive: false,
            });
        }
        if let Some(col) = tenant {
            match t.column(col) {
                None => d.error(
                    rp.at("tenant_column"),
                    "Unknown column",
                    format!(
                        "Tenant isolation needs column {col:?} in every table; table {:?} has none.",
                        t.name
                    ),
                ),
                Some(c) => {
                    let claim = format!(
                        "(select (auth.jwt() ->> {}))",
                        quote_literal(&spec.rls.tenant_claim)
                    );
                    let rhs = if c.r#type == "text" {
                        claim
                    } else {
                        format!("CAST({claim} AS {})", c.r#type)
                    };
                    let expr = format!("{} = {rhs}", quote_ident(col));
                    match sqlcheck::check_expr(&expr, schema, &t.name, &cols, known) {
                        Ok(e) => policies.push(PolicyModel {
                            name: "tenant_isolation".into(),
                            command: "ALL".into(),
                            roles: vec!["authenticated".into()],
                            using: Some(e.sql.clone()),
                            with_check: Some(e.sql),
                            restrictive: true,
                        }),
                        Err(why) => d.error(
                            rp.at("tenant_claim"),
                            "Invalid tenant claim",
                            format!("The tenant isolation policy is not valid: {why}."),
                        ),
                    }
                }
            }
        }
        t.policies = policies;
    }
    let by_name = index_by_name(tables);
    for (i, p) in spec.rls.policies.iter().enumerate() {
        let pp = rp.at("policies").index(i);
        names::pg_identifier(&pp.at("name"), &p.name, d);
        let Some(t) = by_name.get(&p.table).map(|&k| &mut tables[k]) else {
            d.error(
                pp.at("table"),
                "Unknown table",
                format!(
                    "Policy {:?} is on table {:?}, which this layer does not declare.",
                    p.name, p.table
                ),
            );
            continue;
        };
        if t.policies.iter().any(|x| x.name == p.name) {
            d.error(
                pp.at("name"),
                "Duplicate policy",
                format!(
                    "Table {:?} already has a policy named {:?} (presets included).",
                    t.name, p.name
                ),
            );
        }
        if !COMMANDS.contains(&p.command.as_str()) {
            d.error(
                pp.at("command"),
                "Unknown policy command",
                format!(
                    "{:?} is not a command; use one of {}.",
                    p.command,
                    COMMANDS.join(", ")
                ),
            );
        }
        if p.command == "insert" && p.using.is_some() {
            d.error(
                pp.at("using"),
                "USING on an INSERT policy",
                "An INSERT policy only has with_check; PostgreSQL refuses USING there.",
            );
        }
        if matches!(p.command.as_str(), "select" | "delete") && p.with_check.is_some() {
            d.error(
                pp.at("with_check"),
                "WITH CHECK on a read or delete policy",
                "Only ALL, INSERT and UPDATE policies have with_check.",
            );
        }
        if p.using.is_none() && p.with_check.is_none() {
            d.error(
                pp.clone(),
                "Empty policy",
                format!("Policy {:?} has neither using nor with_check.", p.name),
            );
        }
        if p.roles.is_empty() {
            d.error(
                pp.at("roles"),
                "No roles",
                format!("Policy {:?} applies to no role.", p.name),
            );
        }
        for (k, r) in p.roles.iter().enumerate() {
            names::pg_identifier(&pp.at("roles").index(k), r, d);
        }
        let cols: Vec<String> = t.columns.iter().map(|c| c.name.clone()).collect();
        let check = |attr: &str, sql: &Option<String>, d: &mut Diagnostics| -> Option<String> {
            let sql = sql.as_ref()?;
            match sqlcheck::check_expr(sql, schema, &t.name, &cols, known) {
                Ok(e) => {
                    for call in e.bare_auth_calls {
                        d.warning(
                            pp.at(attr),
                            "auth function evaluated per row",
                            format!("Write (select {call}()) instead of {call}() so PostgreSQL evaluates it once per statement."),
                        );
                    }
                    Some(e.sql)
                }
                Err(why) => {
                    d.error(
                        pp.at(attr),
                        "Invalid policy expression",
                        format!("Policy {:?}: {why}.", p.name),
                    );
                    None
                }
            }
        };
        let using = check("using", &p.using, d);
        let with_check = check("with_check", &p.with_check, d);
        // PostgreSQL keeps a policy's roles as a set and pg_policies lists them by name:
        // the model does too, so roles written in another order are not a perpetual diff.
        let mut roles = p.roles.clone();
        roles.sort();
        roles.dedup();
        t.policies.push(PolicyModel {
            name: p.name.clone(),
            command: p.command.to_uppercase(),
            roles,
            using,
            with_check,
            restrictive: p.restrictive,
        });
    }
}

fn grants(
    spec: &MedallionLayerSpec,
    tables: &mut [TableModel],
    views: &mut [ViewModel],
    d: &mut Diagnostics,
) {
    let all: BTreeSet<String> = TABLE_PRIVILEGES.iter().map(|p| (*p).to_owned()).collect();
    let select: BTreeSet<String> = BTreeSet::from(["SELECT".to_owned()]);
    let Some(specs) = &spec.grants else {
        for t in tables.iter_mut() {
            t.grants = BTreeMap::from([
                ("authenticated".to_owned(), select.clone()),
                ("service_role".to_owned(), all.clone()),
            ]);
        }
        for v in views.iter_mut() {
            v.grants = BTreeMap::from([
                ("authenticated".to_owned(), select.clone()),
                ("service_role".to_owned(), select.clone()),
            ]);
        }
        return;
    };
    let relation_names: BTreeSet<String> = tables
        .iter()
        .map(|t| t.name.clone())
        .chain(views.iter().map(|v| v.name.clone()))
        .collect();
    let gp = AttrPath::attr("grants");
    for (i, g) in specs.iter().enumerate() {
        let p = gp.index(i);
        names::pg_identifier(&p.at("role"), &g.role, d);
        let mut privs = BTreeSet::new();
        for (k, pr) in g.privileges.iter().enumerate() {
            let up = pr.to_uppercase();
            if up == "ALL" {
                privs.extend(all.iter().cloned());
            } else if TABLE_PRIVILEGES.contains(&up.as_str()) {
                privs.insert(up);
            } else {
                d.error(
                    p.at("privileges").index(k),
                    "Unknown privilege",
                    format!(
                        "{pr:?} is not a table privilege; use all or one of {}.",
                        TABLE_PRIVILEGES.join(", ").to_lowercase()
                    ),
                );
            }
        }
        let targets: Option<BTreeSet<&str>> = g
            .objects
            .as_ref()
            .map(|o| o.iter().map(String::as_str).collect());
        if let Some(objs) = &g.objects {
            for (k, o) in objs.iter().enumerate() {
                if !relation_names.contains(o.as_str()) {
                    d.error(
                        p.at("objects").index(k),
                        "Unknown table",
                        format!("Grant to {:?} names {o:?}, which is not a table or view of this layer.", g.role),
                    );
                }
            }
        }
        let hit = |n: &str| targets.as_ref().is_none_or(|s| s.contains(n));
        for t in tables.iter_mut().filter(|t| hit(&t.name)) {
            t.grants
                .entry(g.role.clone())
                .or_default()
                .extend(privs.iter().cloned());
        }
        for v in views.iter_mut().filter(|v| hit(&v.name)) {
            v.grants
                .entry(g.role.clone())
                .or_default()
                .extend(privs.iter().cloned());
        }
    }
}
