//! The migration planner: desired model (and optionally the current one) → the ordered
//! statements that get the database there, each rendered from a template in
//! `templates/supabase/`.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde::Serialize;
use serde_json::{Value, json};

use super::model::{
    API_ROLES, ColumnModel, ConstraintModel, LayerModel, PolicyModel, TableModel, ViewModel,
};
use crate::{AttrPath, Renderer, Result};

/// One statement to render: a template under `templates/supabase/` and its context.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    /// Template name, e.g. `supabase/add_column.sql`.
    pub template: &'static str,
    /// Template context.
    pub ctx: Value,
}

/// A change that loses data, with the attribute that asks for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destructive {
    /// Attribute path in the new spec.
    pub path: AttrPath,
    /// What would be lost, e.g. `drop column scout.silver_tx.note`.
    pub what: String,
}

/// The statements of one migration, and what in them loses data.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    /// Statements in order.
    pub steps: Vec<Step>,
    /// Destructive statements, by name.
    pub destructive: Vec<Destructive>,
}

impl Plan {
    /// True when nothing needs to run.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    fn push(&mut self, template: &'static str, ctx: Value) {
        self.steps.push(Step { template, ctx });
    }

    /// Renders every statement.
    pub fn render(&self, r: &Renderer) -> Result<Vec<String>> {
        self.steps
            .iter()
            .map(|s| {
                r.render_json(s.template, s.ctx.clone())
                    .map(|t| t.trim().to_owned())
            })
            .collect()
    }
}

/// Everything needed to create `next` from nothing.
pub fn create(next: &LayerModel) -> Plan {
    let mut p = Plan::default();
    schema(&mut p, next);
    for t in &next.tables {
        create_table(&mut p, next, t);
    }
    for t in &next.tables {
        for fk in &t.foreign_keys {
            add_constraint(&mut p, next, t, fk);
        }
    }
    for v in &next.views {
        create_view(&mut p, next, v);
    }
    p
}

/// Drops every view and table of `prev` and forgets them in the metadata.
pub fn drop(prev: &LayerModel) -> Plan {
    let mut p = Plan::default();
    for v in prev.views.iter().rev() {
        drop_view(&mut p, prev, v);
    }
    for t in &prev.tables {
        for fk in &t.foreign_keys {
            p.push(
                "supabase/drop_constraint.sql",
                json!({"schema": prev.schema, "table": t.name, "name": fk.name}),
            );
        }
    }
    for t in prev.tables.iter().rev() {
        drop_table(&mut p, prev, t);
    }
    p
}

/// The smallest change from `prev` to `next`. When either model comes from a catalog
/// (not `exact`), expressions are compared by name only, since PostgreSQL reprints them.
pub fn change(prev: &LayerModel, next: &LayerModel) -> Plan {
    let exact = prev.exact && next.exact;
    let mut p = Plan::default();
    // Looked up by name, not by scanning, so a change to a large layer stays linear.
    let prev_tables: HashMap<&str, &TableModel> =
        prev.tables.iter().map(|t| (t.name.as_str(), t)).collect();
    let next_tables: HashMap<&str, &TableModel> =
        next.tables.iter().map(|t| (t.name.as_str(), t)).collect();
    let next_views: HashSet<&str> = next.views.iter().map(|v| v.name.as_str()).collect();

    // Views depend on columns: drop the first changed one and every later one, recreate after.
    let first_changed_view = (0..prev.views.len().max(next.views.len()))
        .find(|&i| match (prev.views.get(i), next.views.get(i)) {
            (Some(a), Some(b)) => !same_view(a, b, exact),
            _ => true,
        })
        .unwrap_or(prev.views.len());
    // A dropped or retyped column may be read by any view: rebuild them all.
    let columns_lost = prev.tables.iter().any(|old| {
        next_tables.get(old.name.as_str()).is_some_and(|t| {
            old.columns
                .iter()
                .any(|c| t.column(&c.name).is_none_or(|n| n.r#type != c.r#type))
        })
    });
    let first_changed_view = if columns_lost { 0 } else { first_changed_view };
    for v in prev.views.iter().skip(first_changed_view).rev() {
        drop_view(&mut p, prev, v);
    }

    let new_roles: BTreeSet<&String> = roles(next).difference(&roles(prev)).copied().collect();
    if !new_roles.is_empty() {
        schema(&mut p, next);
    }

    for (ti, t) in prev.tables.iter().enumerate() {
        if !next_tables.contains_key(t.name.as_str()) {
            for fk in &t.foreign_keys {
                p.push(
                    "supabase/drop_constraint.sql",
                    json!({"schema": prev.schema, "table": t.name, "name": fk.name}),
                );
            }
            drop_table(&mut p, prev, t);
            p.destructive.push(Destructive {
                path: AttrPath::attr("tables"),
                what: format!(
                    "drop table {}.{} (table {ti} of the previous spec)",
                    prev.schema, t.name
                ),
            });
        }
    }

    let mut added_fks = Vec::new();
    for (ti, t) in next.tables.iter().enumerate() {
        let tpath = AttrPath::attr("tables").index(ti);
        let Some(&old) = prev_tables.get(t.name.as_str()) else {
            create_table(&mut p, next, t);
            added_fks.extend(t.foreign_keys.iter().map(|fk| (t, fk)));
            continue;
        };
        let tab = json!({"schema": next.schema, "table": t.name});
        for pol in &old.policies {
            if t.policies.iter().all(|n| !same_policy(pol, n, exact)) {
                p.push("supabase/drop_policy.sql", with(&tab, "policy", json!(pol)));
            }
        }
        for (olds, news) in [
            (&old.foreign_keys, &t.foreign_keys),
            (&old.constraints, &t.constraints),
        ] {
            for c in olds {
                if news.iter().all(|n| !same_constraint(c, n, exact)) {
                    p.push(
                        "supabase/drop_constraint.sql",
                        with(&tab, "name", json!(c.name)),
                    );
                }
            }
        }
        for ix in &old.indexes {
            if !t.indexes.contains(ix) {
                p.push(
                    "supabase/drop_index.sql",
                    json!({"schema": next.schema, "name": ix.name}),
                );
            }
        }
        for c in &old.columns {
            if t.column(&c.name).is_none() {
                p.push("supabase/drop_column.sql", with(&tab, "column", json!(c)));
                p.destructive.push(Destructive {
                    path: tpath.at("columns"),
                    what: format!("drop column {}.{}.{}", next.schema, t.name, c.name),
                });
            }
        }
        for (ci, c) in t.columns.iter().enumerate() {
            match old.column(&c.name) {
                None => p.push("supabase/add_column.sql", with(&tab, "column", json!(c))),
                Some(o) => alter_column(
                    &mut p,
                    &tab,
                    &tpath.at("columns").index(ci),
                    next,
                    t,
                    o,
                    c,
                    exact,
                ),
            }
        }
        for (olds, news) in [
            (&old.constraints, &t.constraints),
            (&old.foreign_keys, &t.foreign_keys),
        ] {
            for c in news {
                if olds.iter().all(|o| !same_constraint(o, c, exact)) {
                    add_constraint(&mut p, next, t, c);
                }
            }
        }
        for ix in &t.indexes {
            if !old.indexes.contains(ix) {
                p.push("supabase/create_index.sql", with(&tab, "index", json!(ix)));
            }
        }
        if old.rls != t.rls {
            p.push("supabase/rls.sql", with(&tab, "enabled", json!(t.rls)));
        }
        for pol in &t.policies {
            if old.policies.iter().all(|o| !same_policy(o, pol, exact)) {
                p.push(
                    "supabase/create_policy.sql",
                    with(&tab, "policy", json!(pol)),
                );
            }
        }
        grant_changes(
            &mut p,
            &next.schema,
            &t.name,
            "TABLE",
            &old.grants,
            &t.grants,
        );
        if old.comment != t.comment {
            comment(&mut p, next, "TABLE", &t.name, None, &t.comment);
        }
        for c in &t.columns {
            if let Some(o) = old.column(&c.name)
                && o.comment != c.comment
            {
                comment(&mut p, next, "COLUMN", &t.name, Some(&c.name), &c.comment);
            }
        }
        if old.retention_column != t.retention_column
            || old.comment != t.comment
            || prev.retention_days != next.retention_days
        {
            register(
                &mut p,
                next,
                &t.name,
                "table",
                t.retention_column.as_deref(),
                &t.comment,
            );
        }
    }
    for (t, fk) in added_fks {
        add_constraint(&mut p, next, t, fk);
    }

    for (i, v) in next.views.iter().enumerate() {
        if i >= first_changed_view {
            create_view(&mut p, next, v);
        } else {
            let old = &prev.views[i];
            grant_changes(
                &mut p,
                &next.schema,
                &v.name,
                "TABLE",
                &old.grants,
                &v.grants,
            );
            if old.comment != v.comment {
                comment(&mut p, next, "VIEW", &v.name, None, &v.comment);
                register(&mut p, next, &v.name, "view", None, &v.comment);
            }
        }
    }
    for v in &prev.views {
        if !next_views.contains(v.name.as_str()) {
            p.push(
                "supabase/unregister.sql",
                json!({"schema": prev.schema, "name": v.name}),
            );
        }
    }
    p
}

fn with(base: &Value, key: &str, v: Value) -> Value {
    let mut out = base.clone();
    out[key] = v;
    out
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
        json!({"schema": m.schema, "roles": roles(m)}),
    );
}

fn create_table(p: &mut Plan, m: &LayerModel, t: &TableModel) {
    let tab = json!({"schema": m.schema, "table": t.name});
    p.push("supabase/create_table.sql", with(&tab, "model", json!(t)));
    for ix in &t.indexes {
        p.push("supabase/create_index.sql", with(&tab, "index", json!(ix)));
    }
    p.push("supabase/rls.sql", with(&tab, "enabled", json!(t.rls)));
    for pol in &t.policies {
        p.push(
            "supabase/create_policy.sql",
            with(&tab, "policy", json!(pol)),
        );
    }
    grant_changes(p, &m.schema, &t.name, "TABLE", &BTreeMap::new(), &t.grants);
    if t.comment.is_some() {
        comment(p, m, "TABLE", &t.name, None, &t.comment);
    }
    for c in &t.columns {
        if c.comment.is_some() {
            comment(p, m, "COLUMN", &t.name, Some(&c.name), &c.comment);
        }
    }
    register(
        p,
        m,
        &t.name,
        "table",
        t.retention_column.as_deref(),
        &t.comment,
    );
}

fn drop_table(p: &mut Plan, m: &LayerModel, t: &TableModel) {
    p.push(
        "supabase/drop_table.sql",
        json!({"schema": m.schema, "table": t.name}),
    );
    p.push(
        "supabase/unregister.sql",
        json!({"schema": m.schema, "name": t.name}),
    );
}

fn create_view(p: &mut Plan, m: &LayerModel, v: &ViewModel) {
    p.push(
        "supabase/create_view.sql",
        json!({"schema": m.schema, "view": v.name, "query": v.query}),
    );
    grant_changes(p, &m.schema, &v.name, "TABLE", &BTreeMap::new(), &v.grants);
    if v.comment.is_some() {
        comment(p, m, "VIEW", &v.name, None, &v.comment);
    }
    register(p, m, &v.name, "view", None, &v.comment);
}

fn drop_view(p: &mut Plan, m: &LayerModel, v: &ViewModel) {
    p.push(
        "supabase/drop_view.sql",
        json!({"schema": m.schema, "view": v.name}),
    );
}

fn add_constraint(p: &mut Plan, m: &LayerModel, t: &TableModel, c: &ConstraintModel) {
    p.push(
        "supabase/add_constraint.sql",
        json!({"schema": m.schema, "table": t.name, "constraint": c}),
    );
}

#[allow(clippy::too_many_arguments)]
fn alter_column(
    p: &mut Plan,
    tab: &Value,
    path: &AttrPath,
    m: &LayerModel,
    t: &TableModel,
    old: &ColumnModel,
    new: &ColumnModel,
    exact: bool,
) {
    if old.r#type != new.r#type {
        p.push(
            "supabase/alter_column_type.sql",
            with(tab, "column", json!(new)),
        );
        p.destructive.push(Destructive {
            path: path.at("type"),
            what: format!(
                "change type of column {}.{}.{} from {} to {}",
                m.schema, t.name, new.name, old.r#type, new.r#type
            ),
        });
    }
    let default_changed = if exact {
        old.default != new.default
    } else {
        old.default.is_some() != new.default.is_some()
    };
    if default_changed {
        p.push(
            "supabase/alter_column_default.sql",
            with(tab, "column", json!(new)),
        );
    }
    if old.nullable != new.nullable {
        p.push(
            "supabase/alter_column_null.sql",
            with(tab, "column", json!(new)),
        );
    }
}

fn grant_changes(
    p: &mut Plan,
    schema: &str,
    object: &str,
    kind: &str,
    old: &BTreeMap<String, BTreeSet<String>>,
    new: &BTreeMap<String, BTreeSet<String>>,
) {
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
            grant.push(json!({"role": role, "privileges": ordered}));
        }
    }
    if revoke.is_empty() && grant.is_empty() {
        return;
    }
    p.push(
        "supabase/grants.sql",
        json!({"schema": schema, "object": object, "kind": kind, "revoke": revoke, "grant": grant}),
    );
}

fn comment(
    p: &mut Plan,
    m: &LayerModel,
    kind: &str,
    object: &str,
    column: Option<&str>,
    text: &Option<String>,
) {
    p.push(
        "supabase/comment.sql",
        json!({"schema": m.schema, "kind": kind, "object": object, "column": column, "comment": text}),
    );
}

fn register(
    p: &mut Plan,
    m: &LayerModel,
    name: &str,
    kind: &str,
    retention_column: Option<&str>,
    text: &Option<String>,
) {
    // Kept on every table (purge skips those without a column) so the catalog gives it back.
    let retention_days = if kind == "table" {
        m.retention_days
    } else {
        None
    };
    p.push(
        "supabase/register.sql",
        json!({
            "workbench": m.workbench, "schema": m.schema, "name": name, "layer": m.layer.as_str(),
            "kind": kind, "retention_days": retention_days,
            "retention_column": retention_column, "comment": text,
        }),
    );
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
