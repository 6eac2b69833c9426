//! The migration planner: desired model (and optionally the current one) → the ordered
//! statements that get the database there. The statements of one table or view are one
//! step, rendered by one call of `templates/supabase/relation.sql` from a context built
//! here once, every name and literal in it already quoted by [`crate::sql`].

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use rayon::prelude::*;
use serde::Serialize;
use serde_json::json;

use super::datacheck::{DataCheck, Target};
use super::model::{
    API_ROLES, ColumnModel, ConstraintKind, ConstraintModel, IndexModel, LayerModel, PolicyModel,
    TableModel, ViewModel,
};
use super::{sqlcheck, types};
use crate::render::Context;
use crate::sql::{quote_ident, quote_literal, quote_qualified};
use crate::{AttrPath, Renderer, Result};

/// Statements to render: a template under `templates/supabase/` and its context.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// Template name, e.g. `supabase/relation.sql`.
    pub template: &'static str,
    ctx: StepContext,
}

#[derive(Debug, Clone, PartialEq)]
enum StepContext {
    /// A table's or view's statements, kept typed until rendered: a large layer holds
    /// thousands, and the JSON tree handlebars reads takes several times the memory.
    Relation(Box<Relation>),
    Json(Context),
}

/// A change that loses data, with the attribute that asks for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destructive {
    /// Attribute path in the new spec.
    pub path: AttrPath,
    /// What would be lost, e.g. `drop column scout.silver_tx.note`.
    pub what: String,
}

/// The part of a table or view a change drops (for good or to create it again) or retypes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// The table or view itself.
    Whole,
    /// One column.
    Column(String),
    /// A primary or unique key on these columns.
    Key(Vec<String>),
}

/// Something a change drops or retypes, which a relation of another layer may depend on
/// (see [`super::check_dependents`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disturbed {
    /// Attribute path in the new spec.
    pub path: AttrPath,
    /// Name of the table or view (in the layer's schema).
    pub relation: String,
    /// What of it.
    pub part: Part,
    /// What the change does, e.g. `changes the type of column scout.orders.amount`.
    pub what: String,
}

/// The statements of one migration, what in them loses data and what they take away from
/// under other layers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    /// Statements in order, grouped by table or view.
    pub steps: Vec<Step>,
    /// Destructive statements, by name.
    pub destructive: Vec<Destructive>,
    /// Tables, views, columns and keys dropped or retyped.
    pub disturbed: Vec<Disturbed>,
    /// What the rows already in changed tables must satisfy for the statements to apply
    /// (a database the plan can read checks them before anything runs).
    pub checks: Vec<DataCheck>,
}

impl Plan {
    /// True when nothing needs to run.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Renders every step: one or more statements each, separated by a blank line. Steps
    /// render in parallel (each is independent) and come back in plan order.
    pub fn render(&self, r: &Renderer) -> Result<Vec<String>> {
        self.steps
            .par_iter()
            .with_min_len(RELATIONS_PER_JOB)
            .map(|s| {
                let text = match &s.ctx {
                    StepContext::Json(ctx) => r.render_context(s.template, ctx),
                    StepContext::Relation(_) => r.render_context(s.template, &s.context()),
                };
                text.map(|mut t| {
                    // Steps end in a blank line; trimmed in place, without a copy.
                    t.truncate(t.trim_end().len());
                    t
                })
            })
            .collect()
    }

    fn disturb(&mut self, path: AttrPath, relation: &str, part: Part, what: String) {
        self.disturbed.push(Disturbed {
            path,
            relation: relation.to_owned(),
            part,
            what,
        });
    }

    fn relation(&mut self, r: Relation) {
        self.steps.extend(r.step());
    }

    /// Adds the steps of `relations` (built and turned into contexts in parallel), in
    /// their order.
    fn relations<'a, T: Sync + 'a>(
        &mut self,
        items: &'a [T],
        relation: impl Fn(&'a T) -> Relation + Sync + Send,
    ) {
        self.steps.par_extend(
            items
                .par_iter()
                .with_min_len(RELATIONS_PER_JOB)
                .filter_map(|x| relation(x).step()),
        );
    }

    fn push(&mut self, template: &'static str, ctx: &impl Serialize) {
        self.steps.push(Step::new(template, ctx));
    }
}

/// Tables or views planned or rendered by one parallel job: enough that splitting costs
/// less than it saves.
const RELATIONS_PER_JOB: usize = 32;

impl Step {
    fn new(template: &'static str, ctx: &impl Serialize) -> Self {
        Self {
            template,
            ctx: StepContext::Json(json_context(ctx)),
        }
    }

    /// The context the template renders from.
    pub fn context(&self) -> Context {
        match &self.ctx {
            StepContext::Relation(r) => json_context(&**r),
            StepContext::Json(ctx) => ctx.clone(),
        }
    }
}

fn json_context(ctx: &impl Serialize) -> Context {
    // Serializing these plain structs into JSON cannot fail.
    Context::from(serde_json::to_value(ctx).unwrap_or_default())
}

/// The context of `supabase/relation.sql`: the statements of one table or view, section by
/// section in the order they run. Names and literals are quoted; lists of names are joined.
/// Empty sections are left out of the context (fewer values to build and look up).
#[derive(Debug, Default, Clone, PartialEq, Serialize)]
struct Relation {
    relation: String,
    #[serde(skip_serializing_if = "is_false")]
    drop_view: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    drop_policies: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    drop_constraints: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    drop_indexes: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    drop_columns: Vec<String>,
    #[serde(skip_serializing_if = "is_false")]
    drop_table: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    create_table: Option<CreateTable>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    columns: Vec<ColumnChange>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    add_constraints: Vec<Constraint>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    create_indexes: Vec<Index>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rls: Option<Rls>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    create_policies: Vec<Policy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    create_view: Option<String>,
    /// Options of a kept view to set again, e.g. `security_invoker = true`.
    #[serde(skip_serializing_if = "Option::is_none")]
    view_options: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    grants: Option<Grants>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    comments: Vec<Comment>,
    #[serde(skip_serializing_if = "Option::is_none")]
    register: Option<Register>,
    #[serde(skip_serializing_if = "Option::is_none")]
    unregister: Option<Unregister>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
struct CreateTable {
    columns: Vec<Column>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    constraints: Vec<Constraint>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
struct Column {
    name: String,
    r#type: String,
    nullable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    default: Option<String>,
}

#[derive(Debug, Default, Clone, PartialEq, Serialize)]
struct ColumnChange {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    add: Option<Column>,
    #[serde(skip_serializing_if = "Option::is_none")]
    new_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    default: Option<DefaultChange>,
    #[serde(skip_serializing_if = "Option::is_none")]
    nullability: Option<NullChange>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
struct DefaultChange {
    value: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
struct NullChange {
    nullable: bool,
    /// The default, set first in the rows where the column is NULL.
    #[serde(skip_serializing_if = "Option::is_none")]
    backfill: Option<String>,
}

#[derive(Debug, Default, Clone, PartialEq, Serialize)]
struct Constraint {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    primary_key: Option<String>,
    unique: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    check: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    foreign_key: Option<ForeignKey>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
struct ForeignKey {
    columns: String,
    references: String,
    ref_columns: String,
    on_delete: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
struct Index {
    name: String,
    unique: bool,
    method: String,
    columns: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
struct Rls {
    enabled: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
struct Policy {
    name: String,
    restrictive: bool,
    command: String,
    roles: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    using: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    with_check: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
struct Grants {
    revoke: String,
    grant: Vec<Grant>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
struct Grant {
    role: String,
    privileges: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
struct Comment {
    kind: &'static str,
    target: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
struct Register {
    workbench: String,
    schema: String,
    name: String,
    layer: String,
    kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    retention_days: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    retention_column: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
struct Unregister {
    schema: String,
    name: String,
}

fn is_false(b: &bool) -> bool {
    !b
}

impl Relation {
    fn new(schema: &str, name: &str) -> Self {
        Self {
            relation: quote_qualified(schema, name),
            ..Self::default()
        }
    }

    /// The step rendering this relation, none when it has nothing to do.
    fn step(self) -> Option<Step> {
        (!self.is_empty()).then(|| Step {
            template: "supabase/relation.sql",
            ctx: StepContext::Relation(Box::new(self)),
        })
    }

    fn is_empty(&self) -> bool {
        !self.drop_view
            && self.drop_policies.is_empty()
            && self.drop_constraints.is_empty()
            && self.drop_indexes.is_empty()
            && self.drop_columns.is_empty()
            && !self.drop_table
            && self.create_table.is_none()
            && self.columns.is_empty()
            && self.add_constraints.is_empty()
            && self.create_indexes.is_empty()
            && self.rls.is_none()
            && self.create_policies.is_empty()
            && self.create_view.is_none()
            && self.view_options.is_none()
            && self.grants.is_none()
            && self.comments.is_empty()
            && self.register.is_none()
            && self.unregister.is_none()
    }

    fn comment(&mut self, kind: &'static str, target: String, text: &Option<String>) {
        self.comments.push(Comment {
            kind,
            target,
            comment: literal(text),
        });
    }
}

/// Names quoted one by one and joined with `, `.
fn idents(names: impl IntoIterator<Item = impl AsRef<str>>) -> String {
    let mut out = String::new();
    for n in names {
        if !out.is_empty() {
            out.push_str(", ");
        }
        out.push_str(&quote_ident(n.as_ref()));
    }
    out
}

/// A quoted literal, `None` for no text (rendered as NULL).
fn literal(text: &Option<String>) -> Option<String> {
    text.as_deref().filter(|t| !t.is_empty()).map(quote_literal)
}

fn column(c: &ColumnModel) -> Column {
    Column {
        name: quote_ident(&c.name),
        r#type: c.r#type.clone(),
        nullable: c.nullable,
        default: c.default.clone(),
    }
}

fn constraint(c: &ConstraintModel) -> Constraint {
    let cols = || Some(idents(&c.columns));
    let mut out = Constraint {
        name: quote_ident(&c.name),
        ..Constraint::default()
    };
    match c.kind {
        ConstraintKind::PrimaryKey => out.primary_key = cols(),
        ConstraintKind::Unique => out.unique = cols(),
        ConstraintKind::Check => out.check = c.expression.clone(),
        ConstraintKind::ForeignKey => {
            out.foreign_key = Some(ForeignKey {
                columns: idents(&c.columns),
                references: quote_qualified(
                    c.ref_schema.as_deref().unwrap_or_default(),
                    c.ref_table.as_deref().unwrap_or_default(),
                ),
                ref_columns: idents(&c.ref_columns),
                on_delete: c.on_delete.clone().unwrap_or_default(),
            })
        }
    }
    out
}

fn index(ix: &IndexModel) -> Index {
    Index {
        name: quote_ident(&ix.name),
        unique: ix.unique,
        method: ix.method.clone(),
        columns: idents(&ix.columns),
    }
}

fn policy(p: &PolicyModel) -> Policy {
    Policy {
        name: quote_ident(&p.name),
        restrictive: p.restrictive,
        command: p.command.clone(),
        roles: idents(&p.roles),
        using: p.using.clone(),
        with_check: p.with_check.clone(),
    }
}

fn column_target(schema: &str, table: &str, column: &str) -> String {
    format!("{}.{}", quote_qualified(schema, table), quote_ident(column))
}

/// Everything needed to create `next` from nothing.
pub fn create(next: &LayerModel) -> Plan {
    let mut p = Plan::default();
    schema(&mut p, next);
    p.relations(&next.tables, |t| create_table(next, t));
    p.relations(&next.tables, |t| add_constraints(next, t, &t.foreign_keys));
    for v in &next.views {
        create_view(&mut p, next, v);
    }
    p
}

/// Drops every view and table of `prev` and forgets them in the metadata.
pub fn drop(prev: &LayerModel) -> Plan {
    let mut p = Plan::default();
    for v in prev.views.iter().rev() {
        let mut r = Relation::new(&prev.schema, &v.name);
        r.drop_view = true;
        r.unregister = Some(unregister(prev, &v.name));
        p.relation(r);
    }
    drop_foreign_keys(&mut p, prev, &prev.tables);
    for t in prev.tables.iter().rev() {
        p.relation(drop_table(prev, t));
    }
    p
}

/// Drops the foreign keys of `tables`, so that they and what they reference can be dropped
/// in any order.
fn drop_foreign_keys<'a>(
    p: &mut Plan,
    m: &LayerModel,
    tables: impl IntoIterator<Item = &'a TableModel>,
) {
    for t in tables {
        let mut r = Relation::new(&m.schema, &t.name);
        r.drop_constraints = t
            .foreign_keys
            .iter()
            .map(|fk| quote_ident(&fk.name))
            .collect();
        p.relation(r);
    }
}

/// The smallest change from `prev` to `next`. When either model comes from a catalog
/// (not `exact`), expressions are compared by name only, since PostgreSQL reprints them.
///
/// Everything that goes is dropped before anything is created, so a new table, index or
/// key may take the name of one that goes (index and key names are unique per schema).
/// What PostgreSQL refuses to keep across a change is dropped first and created again
/// after it, in the same migration: the policies and foreign keys on a retyped column,
/// the foreign keys into a key that changes, and the views (they may read any column).
pub fn change(prev: &LayerModel, next: &LayerModel) -> Plan {
    let exact = prev.exact && next.exact;
    let mut p = Plan::default();
    // Looked up by name, not by scanning, so a change to a large layer stays linear.
    let prev_tables: HashMap<&str, &TableModel> =
        prev.tables.iter().map(|t| (t.name.as_str(), t)).collect();
    let next_tables: HashMap<&str, &TableModel> =
        next.tables.iter().map(|t| (t.name.as_str(), t)).collect();
    let kept = |old: &'_ TableModel| next_tables.get(old.name.as_str()).copied();

    // Kept tables' columns for which `changed(old column, new column)` holds; the new
    // column is `None` when the change takes it away.
    let kept_columns = |changed: &dyn Fn(&ColumnModel, Option<&ColumnModel>) -> bool| {
        prev.tables
            .iter()
            .filter_map(|old| {
                let t = kept(old)?;
                let cols: HashSet<&str> = old
                    .columns
                    .iter()
                    .filter(|c| changed(c, t.column(&c.name)))
                    .map(|c| c.name.as_str())
                    .collect();
                (!cols.is_empty()).then_some((old.name.as_str(), cols))
            })
            .collect::<HashMap<&str, HashSet<&str>>>()
    };
    // Kept tables' columns whose type changes.
    let retyped = kept_columns(&|c, n| n.is_some_and(|n| n.r#type != c.r#type));
    // Kept tables losing a primary or unique key a foreign key may depend on.
    let rekeyed: HashSet<&str> = prev
        .tables
        .iter()
        .filter(|old| {
            kept(old).is_some_and(|t| {
                old.constraints.iter().any(|c| {
                    matches!(c.kind, ConstraintKind::PrimaryKey | ConstraintKind::Unique)
                        && t.constraints.iter().all(|n| !same_constraint(c, n, exact))
                })
            })
        })
        .map(|t| t.name.as_str())
        .collect();
    // A kept foreign key PostgreSQL would refuse to keep: its columns or the ones it
    // references change type, or the key it references is dropped.
    let rebuilt_fk = |table: &str, fk: &ConstraintModel| {
        let retyped_in = |t: &str, cols: &[String]| {
            retyped
                .get(t)
                .is_some_and(|r| cols.iter().any(|c| r.contains(c.as_str())))
        };
        retyped_in(table, &fk.columns)
            || (fk.ref_schema.as_deref() == Some(prev.schema.as_str())
                && fk
                    .ref_table
                    .as_deref()
                    .is_some_and(|rt| rekeyed.contains(rt) || retyped_in(rt, &fk.ref_columns)))
    };

    // A policy PostgreSQL would refuse to keep: it names a retyped column of its table, or
    // the table itself (a whole-row reference reads every column), or a retyped column of
    // another table its sub-selects name (PostgreSQL records those dependencies too).
    let reads_retyped = |table: &str, pol: &PolicyModel| {
        [&pol.using, &pol.with_check]
            .into_iter()
            .flatten()
            .any(|sql| {
                retyped.iter().any(|(t, cols)| {
                    let own = *t == table;
                    (own && mentions(sql, table))
                        || ((own || mentions(sql, t)) && cols.iter().any(|c| mentions(sql, c)))
                })
            })
    };

    // Columns a change takes away from a kept table or retypes.
    let lost = kept_columns(&|c, n| n.is_none_or(|n| n.r#type != c.r#type));
    // A view is dropped before and created again after when it changes, reads a lost
    // column or reads a view that is rebuilt (a view only reads earlier ones). One whose
    // query names no relation may read anything. Views are matched by name: a catalog lists
    // them in creation order, which a change that keeps some of them makes differ from the
    // spec's.
    let next_view: HashMap<&str, &ViewModel> =
        next.views.iter().map(|v| (v.name.as_str(), v)).collect();
    let prev_view: HashMap<&str, &ViewModel> =
        prev.views.iter().map(|v| (v.name.as_str(), v)).collect();
    let mut rebuilt: Vec<bool> = Vec::with_capacity(prev.views.len());
    let mut rebuilt_names: HashSet<&str> = HashSet::new();
    for old in &prev.views {
        let changed = next_view
            .get(old.name.as_str())
            .is_none_or(|n| !same_view(old, n, exact));
        let reads = sqlcheck::reads(&old.query, &prev.schema);
        let reads_lost = (reads.is_empty() && !lost.is_empty())
            || reads.iter().any(|((schema, rel), cols)| {
                *schema == prev.schema
                    && (rebuilt_names.contains(rel.as_str())
                        || lost.get(rel.as_str()).is_some_and(|l| {
                            cols.is_empty() || cols.iter().any(|c| l.contains(c.as_str()))
                        }))
            });
        if changed || reads_lost {
            rebuilt_names.insert(old.name.as_str());
        }
        rebuilt.push(changed || reads_lost);
    }
    for v in prev
        .views
        .iter()
        .zip(&rebuilt)
        .filter_map(|(v, r)| r.then_some(v))
        .rev()
    {
        let mut r = Relation::new(&prev.schema, &v.name);
        r.drop_view = true;
        // Forgotten now, so a table taking its name is registered after.
        let what = if next_view.contains_key(v.name.as_str()) {
            "drops and creates again"
        } else {
            r.unregister = Some(unregister(prev, &v.name));
            "drops"
        };
        p.disturb(
            AttrPath::attr("views"),
            &v.name,
            Part::Whole,
            format!("{what} view {}.{}", prev.schema, v.name),
        );
        p.relation(r);
    }

    let new_roles: BTreeSet<&String> = roles(next).difference(&roles(prev)).copied().collect();
    if !new_roles.is_empty() {
        schema(&mut p, next);
    }

    // Foreign keys go first: those of dropped tables (they may hold keys of kept tables
    // that change), removed or changed ones, and the ones PostgreSQL would not keep.
    let mut dropped = Vec::new();
    let mut rebuilt_fks: HashMap<&str, Vec<&ConstraintModel>> = HashMap::new();
    for (ti, old) in prev.tables.iter().enumerate() {
        let mut r = Relation::new(&prev.schema, &old.name);
        match kept(old) {
            None => {
                dropped.push(old);
                p.disturb(
                    AttrPath::attr("tables"),
                    &old.name,
                    Part::Whole,
                    format!("drops table {}.{}", prev.schema, old.name),
                );
                p.destructive.push(Destructive {
                    path: AttrPath::attr("tables"),
                    what: format!(
                        "drop table {}.{} (table {ti} of the previous spec)",
                        prev.schema, old.name
                    ),
                });
                r.drop_constraints = old
                    .foreign_keys
                    .iter()
                    .map(|fk| quote_ident(&fk.name))
                    .collect();
            }
            Some(t) => {
                for fk in &old.foreign_keys {
                    match t
                        .foreign_keys
                        .iter()
                        .find(|n| same_constraint(fk, n, exact))
                    {
                        None => r.drop_constraints.push(quote_ident(&fk.name)),
                        Some(n) if rebuilt_fk(&old.name, fk) => {
                            r.drop_constraints.push(quote_ident(&fk.name));
                            rebuilt_fks.entry(t.name.as_str()).or_default().push(n);
                        }
                        Some(_) => {}
                    }
                }
            }
        }
        p.relation(r);
    }

    // Then what goes from kept tables; a retyped column's policies go too (PostgreSQL
    // refuses to retype a column a policy reads) and come back below.
    for (ti, t) in next.tables.iter().enumerate() {
        let Some(&old) = prev_tables.get(t.name.as_str()) else {
            continue;
        };
        let mut r = Relation::new(&next.schema, &t.name);
        for pol in &old.policies {
            if reads_retyped(&t.name, pol) || t.policies.iter().all(|n| !same_policy(pol, n, exact))
            {
                r.drop_policies.push(quote_ident(&pol.name));
            }
        }
        let tpath = AttrPath::attr("tables").index(ti);
        let mut keys_dropped = Vec::new();
        for c in &old.constraints {
            if t.constraints.iter().all(|n| !same_constraint(c, n, exact)) {
                r.drop_constraints.push(quote_ident(&c.name));
                if c.kind != ConstraintKind::Check {
                    keys_dropped.push(&c.columns);
                }
            }
        }
        for ix in &old.indexes {
            if !t.indexes.contains(ix) {
                r.drop_indexes.push(quote_qualified(&next.schema, &ix.name));
                if ix.unique {
                    keys_dropped.push(&ix.columns);
                }
            }
        }
        for cols in keys_dropped {
            p.disturb(
                tpath.at("primary_key"),
                &t.name,
                Part::Key(cols.clone()),
                format!(
                    "drops the key ({}) of table {}.{}",
                    cols.join(", "),
                    next.schema,
                    t.name
                ),
            );
        }
        for c in &old.columns {
            if t.column(&c.name).is_none() {
                r.drop_columns.push(quote_ident(&c.name));
                p.destructive.push(Destructive {
                    path: tpath.at("columns"),
                    what: format!("drop column {}.{}.{}", next.schema, t.name, c.name),
                });
                p.disturb(
                    tpath.at("columns"),
                    &t.name,
                    Part::Column(c.name.clone()),
                    format!("drops column {}.{}.{}", next.schema, t.name, c.name),
                );
            }
        }
        p.relation(r);
    }
    // Once no kept table's foreign key references them.
    for t in dropped.iter().rev() {
        p.relation(drop_table(prev, t));
    }

    // Foreign keys are added once every table exists, new ones of kept tables too.
    let mut added_fks: Vec<(&TableModel, Vec<&ConstraintModel>)> = Vec::new();
    for (ti, t) in next.tables.iter().enumerate() {
        let tpath = AttrPath::attr("tables").index(ti);
        let Some(&old) = prev_tables.get(t.name.as_str()) else {
            p.relation(create_table(next, t));
            added_fks.push((t, t.foreign_keys.iter().collect()));
            continue;
        };
        let mut r = Relation::new(&next.schema, &t.name);
        let rows = Target {
            schema: &next.schema,
            table: &t.name,
            key: primary_key(old),
        };
        for (ci, c) in t.columns.iter().enumerate() {
            let cpath = tpath.at("columns").index(ci);
            let change = match old.column(&c.name) {
                None => {
                    if !c.nullable && c.default.is_none() {
                        p.checks
                            .push(rows.new_not_null(cpath.at("nullable"), &c.name));
                    }
                    Some(ColumnChange {
                        name: quote_ident(&c.name),
                        add: Some(column(c)),
                        ..ColumnChange::default()
                    })
                }
                Some(o) => alter_column(&mut p, &cpath, &rows, o, c, exact),
            };
            r.columns.extend(change);
        }
        // Rules and keys on a column added or retyped here hold values that exist only
        // once the migration ran: those are left to the migration (it rolls back).
        let changing: HashSet<&str> = t
            .columns
            .iter()
            .filter(|c| old.column(&c.name).is_none_or(|o| o.r#type != c.r#type))
            .map(|c| c.name.as_str())
            .collect();
        let settled = |cols: &[String]| cols.iter().all(|c| !changing.contains(c.as_str()));
        let added = |olds: &[ConstraintModel], c: &ConstraintModel| {
            olds.iter().all(|o| !same_constraint(o, c, exact))
        };
        let (mut nth_unique, mut nth_check) = (0, 0);
        for c in &t.constraints {
            let path = match c.kind {
                ConstraintKind::Unique => {
                    nth_unique += 1;
                    tpath.at("unique").index(nth_unique - 1)
                }
                ConstraintKind::Check => {
                    nth_check += 1;
                    tpath.at("checks").index(nth_check - 1)
                }
                _ => tpath.at("primary_key"),
            };
            if !added(&old.constraints, c) {
                continue;
            }
            r.add_constraints.push(constraint(c));
            match (c.kind, &c.expression) {
                (ConstraintKind::Check, Some(expr))
                    if changing.iter().all(|col| !mentions(expr, col)) =>
                {
                    p.checks.push(rows.check_rule(path, &c.name, expr));
                }
                (ConstraintKind::PrimaryKey | ConstraintKind::Unique, _) if settled(&c.columns) => {
                    p.checks
                        .push(rows.key(path, &c.columns, c.kind == ConstraintKind::PrimaryKey));
                }
                _ => {}
            }
        }
        let mut fks: Vec<&ConstraintModel> = Vec::new();
        for (k, c) in t.foreign_keys.iter().enumerate() {
            if !added(&old.foreign_keys, c) {
                continue;
            }
            fks.push(c);
            let (ref_schema, ref_table) = (
                c.ref_schema.as_deref().unwrap_or_default(),
                c.ref_table.as_deref().unwrap_or_default(),
            );
            // A referenced table of this layer created now is empty; one whose referenced
            // columns are added or retyped here is left to the migration.
            let own = (ref_schema == next.schema)
                .then(|| next_tables.get(ref_table))
                .flatten();
            let ref_is_new = own.is_some() && !prev_tables.contains_key(ref_table);
            let ref_settled = own.is_none_or(|rt| {
                ref_is_new
                    || c.ref_columns.iter().all(|rc| {
                        prev_tables[ref_table]
                            .column(rc)
                            .zip(rt.column(rc))
                            .is_some_and(|(o, n)| o.r#type == n.r#type)
                    })
            });
            if settled(&c.columns) && ref_settled {
                p.checks.push(rows.foreign_key(
                    tpath.at("foreign_keys").index(k),
                    &c.columns,
                    (ref_schema, ref_table, &c.ref_columns),
                    ref_is_new,
                ));
            }
        }
        fks.extend(rebuilt_fks.remove(t.name.as_str()).unwrap_or_default());
        if !fks.is_empty() {
            added_fks.push((t, fks));
        }
        for (k, ix) in t.indexes.iter().enumerate() {
            if !old.indexes.contains(ix) {
                r.create_indexes.push(index(ix));
                if ix.unique && settled(&ix.columns) {
                    p.checks
                        .push(rows.key(tpath.at("indexes").index(k), &ix.columns, false));
                }
            }
        }
        if old.rls != t.rls {
            r.rls = Some(Rls { enabled: t.rls });
        }
        for pol in &t.policies {
            // A kept policy dropped above for a retyped column comes back too.
            if old
                .policies
                .iter()
                .all(|o| !same_policy(o, pol, exact) || reads_retyped(&t.name, o))
            {
                r.create_policies.push(policy(pol));
            }
        }
        r.grants = grant_changes(&old.grants, &t.grants);
        if old.comment != t.comment {
            r.comment("TABLE", r.relation.clone(), &t.comment);
        }
        for c in &t.columns {
            // A new column's comment too: ADD COLUMN does not set it.
            if old.column(&c.name).and_then(|o| o.comment.as_ref()) != c.comment.as_ref() {
                r.comment(
                    "COLUMN",
                    column_target(&next.schema, &t.name, &c.name),
                    &c.comment,
                );
            }
        }
        if old.retention_column != t.retention_column
            || old.comment != t.comment
            || prev.retention_days != next.retention_days
        {
            r.register = Some(register(
                next,
                &t.name,
                "table",
                t.retention_column.as_deref(),
                &t.comment,
            ));
        }
        p.relation(r);
    }
    for (t, fks) in added_fks {
        p.relation(add_constraints(next, t, fks));
    }

    for v in &next.views {
        let kept = prev_view
            .get(v.name.as_str())
            .filter(|_| !rebuilt_names.contains(v.name.as_str()));
        if let Some(old) = kept {
            let mut r = Relation::new(&next.schema, &v.name);
            if old.security_invoker != v.security_invoker {
                r.view_options = Some(format!("security_invoker = {}", v.security_invoker));
            }
            r.grants = grant_changes(&old.grants, &v.grants);
            if old.comment != v.comment {
                r.comment("VIEW", r.relation.clone(), &v.comment);
                r.register = Some(register(next, &v.name, "view", None, &v.comment));
            }
            p.relation(r);
        } else {
            create_view(&mut p, next, v);
        }
    }
    p
}

/// Whether `sql` names `name` as a whole identifier, bare or quoted (a string literal
/// holding the word counts too: the policy is then rebuilt without need, never kept wrongly).
fn mentions(sql: &str, name: &str) -> bool {
    let ident = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$');
    sql.match_indices(name).any(|(i, _)| {
        !ident(sql[..i].chars().next_back()) && !ident(sql[i + name.len()..].chars().next())
    })
}

fn roles(m: &LayerModel) -> BTreeSet<&String> {
    m.tables
        .iter()
        .flat_map(|t| t.grants.keys())
        .chain(m.views.iter().flat_map(|v| v.grants.keys()))
        .collect()
}

fn schema(p: &mut Plan, m: &LayerModel) {
    p.push(
        "supabase/schema.sql",
        &json!({
            "schema": quote_ident(&m.schema),
            "roles": idents(roles(m)),
        }),
    );
}

fn create_table(m: &LayerModel, t: &TableModel) -> Relation {
    let mut r = Relation::new(&m.schema, &t.name);
    r.create_table = Some(CreateTable {
        columns: t.columns.iter().map(column).collect(),
        constraints: t.constraints.iter().map(constraint).collect(),
    });
    r.create_indexes = t.indexes.iter().map(index).collect();
    r.rls = Some(Rls { enabled: t.rls });
    r.create_policies = t.policies.iter().map(policy).collect();
    r.grants = grant_changes(&BTreeMap::new(), &t.grants);
    if t.comment.is_some() {
        r.comment("TABLE", r.relation.clone(), &t.comment);
    }
    for c in &t.columns {
        if c.comment.is_some() {
            r.comment(
                "COLUMN",
                column_target(&m.schema, &t.name, &c.name),
                &c.comment,
            );
        }
    }
    r.register = Some(register(
        m,
        &t.name,
        "table",
        t.retention_column.as_deref(),
        &t.comment,
    ));
    r
}

fn drop_table(m: &LayerModel, t: &TableModel) -> Relation {
    let mut r = Relation::new(&m.schema, &t.name);
    r.drop_table = true;
    r.unregister = Some(unregister(m, &t.name));
    r
}

fn create_view(p: &mut Plan, m: &LayerModel, v: &ViewModel) {
    let mut r = Relation::new(&m.schema, &v.name);
    r.create_view = Some(v.query.clone());
    r.grants = grant_changes(&BTreeMap::new(), &v.grants);
    if v.comment.is_some() {
        r.comment("VIEW", r.relation.clone(), &v.comment);
    }
    r.register = Some(register(m, &v.name, "view", None, &v.comment));
    p.relation(r);
}

fn add_constraints<'a>(
    m: &LayerModel,
    t: &TableModel,
    cs: impl IntoIterator<Item = &'a ConstraintModel>,
) -> Relation {
    let mut r = Relation::new(&m.schema, &t.name);
    r.add_constraints = cs.into_iter().map(constraint).collect();
    r
}

/// The statements turning column `old` into `new`, if any differ.
fn alter_column(
    p: &mut Plan,
    path: &AttrPath,
    rows: &Target,
    old: &ColumnModel,
    new: &ColumnModel,
    exact: bool,
) -> Option<ColumnChange> {
    let mut change = ColumnChange {
        name: quote_ident(&new.name),
        ..ColumnChange::default()
    };
    let (schema, table) = (rows.schema, rows.table);
    if old.r#type != new.r#type {
        change.new_type = Some(new.r#type.clone());
        p.disturb(
            path.at("type"),
            table,
            Part::Column(new.name.clone()),
            format!("changes the type of column {schema}.{table}.{}", new.name),
        );
        // A widening keeps every value as it is: no data lost, no row to check. What reads
        // the column is still rebuilt around it (PostgreSQL refuses any ALTER TYPE under a
        // view or policy), so it stays disturbed.
        if !types::widens(&old.r#type, &new.r#type) {
            p.destructive.push(Destructive {
                path: path.at("type"),
                what: format!(
                    "change type of column {schema}.{table}.{} from {} to {}",
                    new.name, old.r#type, new.r#type
                ),
            });
            p.checks
                .push(rows.cast(path.at("type"), &new.name, &old.r#type, &new.r#type));
        }
    }
    let default_changed = if exact {
        old.default != new.default
    } else {
        old.default.is_some() != new.default.is_some()
    };
    if default_changed {
        change.default = Some(DefaultChange {
            value: new.default.clone(),
        });
    }
    if old.nullable != new.nullable {
        if !new.nullable && new.default.is_none() {
            p.checks
                .push(rows.becomes_not_null(path.at("nullable"), &new.name));
        }
        change.nullability = Some(NullChange {
            nullable: new.nullable,
            // Rows holding NULL would make SET NOT NULL fail; with a default they get it,
            // as ADD COLUMN … NOT NULL DEFAULT fills the rows already there.
            backfill: (!new.nullable).then(|| new.default.clone()).flatten(),
        });
    }
    (change.new_type.is_some() || change.default.is_some() || change.nullability.is_some())
        .then_some(change)
}

fn grant_changes(
    old: &BTreeMap<String, BTreeSet<String>>,
    new: &BTreeMap<String, BTreeSet<String>>,
) -> Option<Grants> {
    // A fresh object starts from a clean slate: whatever default privileges granted goes.
    let fresh = old.is_empty();
    let mut revoke: BTreeSet<&str> = if fresh {
        API_ROLES.into_iter().collect()
    } else {
        BTreeSet::new()
    };
    let mut grant = Vec::new();
    for role in old.keys().chain(new.keys()).collect::<BTreeSet<_>>() {
        let (o, n) = (old.get(role), new.get(role));
        if o == n {
            continue;
        }
        if o.is_some() {
            revoke.insert(role);
        }
        if let Some(privs) = n.filter(|n| !n.is_empty()) {
            let ordered: Vec<&str> = super::model::TABLE_PRIVILEGES
                .into_iter()
                .filter(|x| privs.contains(*x))
                .collect();
            grant.push(Grant {
                role: quote_ident(role),
                privileges: ordered.join(", "),
            });
        }
    }
    if revoke.is_empty() && grant.is_empty() {
        return None;
    }
    Some(Grants {
        revoke: idents(revoke),
        grant,
    })
}

fn register(
    m: &LayerModel,
    name: &str,
    kind: &str,
    retention_column: Option<&str>,
    text: &Option<String>,
) -> Register {
    // Kept on every table (purge skips those without a column) so the catalog gives it back.
    let retention_days = if kind == "table" {
        m.retention_days
    } else {
        None
    };
    Register {
        workbench: quote_literal(&m.workbench),
        schema: quote_literal(&m.schema),
        name: quote_literal(name),
        layer: quote_literal(m.layer.as_str()),
        kind: quote_literal(kind),
        retention_days,
        retention_column: retention_column
            .filter(|c| !c.is_empty())
            .map(quote_literal),
        comment: literal(text),
    }
}

fn unregister(m: &LayerModel, name: &str) -> Unregister {
    Unregister {
        schema: quote_literal(&m.schema),
        name: quote_literal(name),
    }
}

/// Primary key columns of `t`, empty without one.
fn primary_key(t: &TableModel) -> Vec<String> {
    t.constraints
        .iter()
        .find(|c| c.kind == ConstraintKind::PrimaryKey)
        .map(|c| c.columns.clone())
        .unwrap_or_default()
}

fn same_constraint(a: &ConstraintModel, b: &ConstraintModel, exact: bool) -> bool {
    if exact {
        a == b
    } else {
        a.name == b.name && a.kind == b.kind && a.columns == b.columns
    }
}

fn same_policy(a: &PolicyModel, b: &PolicyModel, exact: bool) -> bool {
    if exact {
        a == b
    } else {
        a.name == b.name
            && a.command == b.command
            && a.roles == b.roles
            && a.restrictive == b.restrictive
    }
}

fn same_view(a: &ViewModel, b: &ViewModel, exact: bool) -> bool {
    a.name == b.name && (!exact || a.query == b.query)
}
