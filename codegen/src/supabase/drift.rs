//! Drift of a layer at the level of expressions.
//!
//! PostgreSQL reprints every expression it stores (column defaults, CHECK rules, policies'
//! USING and WITH CHECK, view queries), so the catalog never shows this crate's text. The
//! provider records the catalog's text of each expression right after applying a layer
//! ([`expressions`] of the introspected model); on read, [`reconcile`] puts the canonical
//! text back wherever the catalog still shows the recorded one. What a hand edit changed
//! keeps the catalog's text, so the planner (comparing exactly) sees it and repairs it,
//! and [`describe`] names it.

use std::collections::{BTreeMap, BTreeSet};

use super::model::{LayerModel, TableModel, ViewModel};

/// Expression text keyed by the object it belongs to, e.g. `table orders policy mine using`.
pub type Expressions = BTreeMap<String, String>;

/// Calls `f` with the key and slot of every expression of `m`. Keys are made of names and
/// words separated by spaces (identifiers hold none), so they are unambiguous.
fn visit(m: &mut LayerModel, mut f: impl FnMut(String, &mut Option<String>)) {
    for t in &mut m.tables {
        for c in &mut t.columns {
            f(
                format!("table {} column {} default", t.name, c.name),
                &mut c.default,
            );
        }
        for c in &mut t.constraints {
            f(
                format!("table {} check {}", t.name, c.name),
                &mut c.expression,
            );
        }
        for p in &mut t.policies {
            f(
                format!("table {} policy {} using", t.name, p.name),
                &mut p.using,
            );
            f(
                format!("table {} policy {} with_check", t.name, p.name),
                &mut p.with_check,
            );
        }
    }
    for v in &mut m.views {
        let mut query = Some(std::mem::take(&mut v.query));
        f(format!("view {} query", v.name), &mut query);
        v.query = query.unwrap_or_default();
    }
}

/// Every expression of `m`, keyed by its object.
pub fn expressions(m: &LayerModel) -> Expressions {
    let mut out = Expressions::new();
    // `visit` needs a model it may write to; the copy is left unchanged.
    visit(&mut m.clone(), |key, text| {
        if let Some(t) = text {
            out.insert(key, t.clone());
        }
    });
    out
}

/// The catalog's model `seen` with the canonical text of `applied` wherever the catalog
/// still shows the text `recorded` after the last apply: a model the planner may compare
/// exactly with `applied` (when that is exact), in which only hand edits differ.
pub fn reconcile(applied: &LayerModel, mut seen: LayerModel, recorded: &Expressions) -> LayerModel {
    let canonical = expressions(applied);
    visit(&mut seen, |key, text| {
        if let (Some(live), Some(mine)) = (text.as_ref(), canonical.get(&key))
            && recorded.get(&key) == Some(live)
        {
            *text = Some(mine.clone());
        }
    });
    seen.exact = applied.exact;
    seen
}

/// What differs between `applied` and what the catalog shows (`observed`), one line per
/// object, e.g. `policy tenant_isolation on scout.orders: USING is now (true)`. Expressions
/// are compared only when both models are exact (see [`reconcile`]).
pub fn describe(applied: &LayerModel, observed: &LayerModel) -> Vec<String> {
    let exact = applied.exact && observed.exact;
    let mut out = Vec::new();
    let schema = &applied.schema;
    for t in &applied.tables {
        let on = format!("{schema}.{}", t.name);
        match observed.table(&t.name) {
            None => out.push(format!("table {on} is missing")),
            Some(o) => table(&mut out, &on, t, o, exact),
        }
    }
    for v in &applied.views {
        let on = format!("{schema}.{}", v.name);
        match observed.view(&v.name) {
            None => out.push(format!("view {on} is missing")),
            Some(o) => view(&mut out, &on, v, o, exact),
        }
    }
    if applied.retention_days != observed.retention_days {
        out.push(format!(
            "retention of the {} layer of {schema} changed in ip_workbench.tables",
            applied.layer.as_str()
        ));
    }
    out
}

fn changed(what: &str, now: &Option<String>) -> String {
    match now {
        Some(t) => format!("{what} is now ({t})"),
        None => format!("{what} was removed"),
    }
}

fn table(out: &mut Vec<String>, on: &str, t: &TableModel, o: &TableModel, exact: bool) {
    let expr_differs = |a: &Option<String>, b: &Option<String>| {
        if exact {
            a != b
        } else {
            a.is_some() != b.is_some()
        }
    };
    for c in &t.columns {
        let Some(oc) = o.column(&c.name) else {
            out.push(format!("column {on}.{} is missing", c.name));
            continue;
        };
        if oc.r#type != c.r#type {
            out.push(format!(
                "column {on}.{} is now of type {}",
                c.name, oc.r#type
            ));
        }
        if oc.nullable != c.nullable {
            let now = if oc.nullable { "accepts" } else { "refuses" };
            out.push(format!("column {on}.{} now {now} NULL", c.name));
        }
        if expr_differs(&c.default, &oc.default) {
            out.push(changed(
                &format!("default of column {on}.{}", c.name),
                &oc.default,
            ));
        }
        if oc.comment != c.comment {
            out.push(format!("comment on column {on}.{} changed", c.name));
        }
    }
    for oc in &o.columns {
        if t.column(&oc.name).is_none() {
            out.push(format!(
                "column {on}.{} is not in the configuration",
                oc.name
            ));
        }
    }
    for (mine, theirs) in [
        (&t.constraints, &o.constraints),
        (&t.foreign_keys, &o.foreign_keys),
    ] {
        for c in mine {
            match theirs.iter().find(|x| x.name == c.name) {
                None => out.push(format!("constraint {} on {on} is missing", c.name)),
                Some(x) if x.kind != c.kind || x.columns != c.columns => {
                    out.push(format!("constraint {} on {on} was changed", c.name))
                }
                Some(x) if expr_differs(&c.expression, &x.expression) => out.push(changed(
                    &format!("constraint {} on {on}", c.name),
                    &x.expression,
                )),
                Some(x) if exact && x != c => {
                    out.push(format!("constraint {} on {on} was changed", c.name))
                }
                Some(_) => {}
            }
        }
        for x in theirs {
            if mine.iter().all(|c| c.name != x.name) {
                out.push(format!(
                    "constraint {} on {on} is not in the configuration",
                    x.name
                ));
            }
        }
    }
    for ix in &t.indexes {
        if !o.indexes.contains(ix) {
            out.push(format!("index {} on {on} is missing or changed", ix.name));
        }
    }
    for ix in &o.indexes {
        if t.indexes.iter().all(|x| x.name != ix.name) {
            out.push(format!(
                "index {} on {on} is not in the configuration",
                ix.name
            ));
        }
    }
    if t.rls != o.rls {
        let now = if o.rls { "enabled" } else { "disabled" };
        out.push(format!("row level security on {on} is {now}"));
    }
    for p in &t.policies {
        let what = format!("policy {} on {on}", p.name);
        let Some(x) = o.policies.iter().find(|x| x.name == p.name) else {
            out.push(format!("{what} is missing"));
            continue;
        };
        if x.command != p.command {
            out.push(format!("{what} now applies to {}", x.command));
        }
        if x.roles != p.roles {
            out.push(format!(
                "{what} now applies to roles {}",
                x.roles.join(", ")
            ));
        }
        if x.restrictive != p.restrictive {
            let now = if x.restrictive {
                "restrictive"
            } else {
                "permissive"
            };
            out.push(format!("{what} is now {now}"));
        }
        if expr_differs(&p.using, &x.using) {
            out.push(changed(&format!("{what}: USING"), &x.using));
        }
        if expr_differs(&p.with_check, &x.with_check) {
            out.push(changed(&format!("{what}: WITH CHECK"), &x.with_check));
        }
    }
    for x in &o.policies {
        if t.policies.iter().all(|p| p.name != x.name) {
            out.push(format!(
                "policy {} on {on} is not in the configuration",
                x.name
            ));
        }
    }
    grants(out, on, &t.grants, &o.grants);
    if t.comment != o.comment {
        out.push(format!("comment on {on} changed"));
    }
    if t.retention_column != o.retention_column {
        out.push(format!("retention column of {on} changed"));
    }
}

fn view(out: &mut Vec<String>, on: &str, v: &ViewModel, o: &ViewModel, exact: bool) {
    if exact && v.query != o.query {
        out.push(format!("view {on} was redefined as: {}", o.query));
    }
    grants(out, on, &v.grants, &o.grants);
    if v.comment != o.comment {
        out.push(format!("comment on {on} changed"));
    }
}

fn grants(
    out: &mut Vec<String>,
    on: &str,
    mine: &BTreeMap<String, BTreeSet<String>>,
    theirs: &BTreeMap<String, BTreeSet<String>>,
) {
    let none = BTreeSet::new();
    for role in mine.keys().chain(theirs.keys()).collect::<BTreeSet<_>>() {
        let (m, t) = (
            mine.get(role).unwrap_or(&none),
            theirs.get(role).unwrap_or(&none),
        );
        let added: Vec<&str> = t.difference(m).map(String::as_str).collect();
        let revoked: Vec<&str> = m.difference(t).map(String::as_str).collect();
        if !added.is_empty() {
            out.push(format!(
                "{} on {on} granted to {role} outside the configuration",
                added.join(", ")
            ));
        }
        if !revoked.is_empty() {
            out.push(format!(
                "{} on {on} revoked from {role}",
                revoked.join(", ")
            ));
        }
    }
}
