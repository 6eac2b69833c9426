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

/// The catalog's model `seen` made the base of a rehearsal: every expression differs from
/// any other model's (and a policy without one gets one), and the model counts as exact,
/// so the planner's change from it to an intended model drops and creates again every
/// policy, CHECK rule and view of that model and sets every default. Run in a transaction
/// that is rolled back, that change shows the text PostgreSQL gives the intended
/// expressions without changing anything.
pub fn stale(seen: &LayerModel) -> LayerModel {
    const MARK: &str = "/* replaced by the rehearsal */ ";
    let mut out = seen.clone();
    visit(&mut out, |_, text| {
        if let Some(t) = text {
            t.insert_str(0, MARK);
        }
    });
    for p in out.tables.iter_mut().flat_map(|t| &mut t.policies) {
        if p.using.is_none() && p.with_check.is_none() {
            p.using = Some(MARK.to_owned());
        }
    }
    out.exact = true;
    out
}

/// The record an import starts from: for every expression of `intended`, the text the
/// catalog showed for it in the rehearsal (`rehearsed`, see [`stale`]); where the rehearsal
/// could not create an object (another layer's view reads a view of this one, rows break a
/// CHECK rule), the catalog's text as found in `seen`, the only text there is.
pub fn baseline(
    intended: &LayerModel,
    rehearsed: Option<&LayerModel>,
    seen: &LayerModel,
) -> Expressions {
    let rehearsed = rehearsed.map(expressions).unwrap_or_default();
    let live = expressions(seen);
    expressions(intended)
        .into_keys()
        .filter_map(|key| {
            let text = rehearsed.get(&key).or_else(|| live.get(&key))?.clone();
            Some((key, text))
        })
        .collect()
}

/// The record after an apply that changed the layer from `prev` to `next`, given the
/// catalog's text of every expression just before the migration's DDL (`before`) and just
/// after it (`after`), in its transaction. An expression the migration made (its canonical
/// text changed, or the catalog's did) is recorded as the catalog now shows it; any other
/// keeps its previous record (`previous`), so an edit made by hand since the last read
/// (`terraform apply -refresh=false`, or between plan and apply) stays drift instead of
/// becoming the record. An expression without a previous record is recorded as found.
pub fn record_after(
    previous: Option<&Expressions>,
    prev: &LayerModel,
    next: &LayerModel,
    before: &Expressions,
    after: &Expressions,
) -> Expressions {
    let (was, is) = (expressions(prev), expressions(next));
    after
        .iter()
        .map(|(key, text)| {
            let untouched = before.get(key) == Some(text) && was.get(key) == is.get(key);
            let kept = previous
                .and_then(|p| p.get(key))
                .filter(|_| untouched)
                .unwrap_or(text);
            (key.clone(), kept.clone())
        })
        .collect()
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
    if v.security_invoker && !o.security_invoker {
        out.push(format!(
            "view {on} lost security_invoker: it reads its tables as its owner, bypassing \
             their row level security"
        ));
    } else if o.security_invoker != v.security_invoker {
        out.push(format!("view {on} now has security_invoker"));
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::Renderer;
    use crate::spec::MedallionLayerSpec;
    use crate::supabase::{LayerContext, layer_model, plan};

    fn model() -> LayerModel {
        let spec: MedallionLayerSpec = serde_json::from_value(json!({
            "workbench": "wb",
            "layer": "silver",
            "schema": "sales",
            "rls": {
                "presets": ["service_role_full_access", "tenant_isolation"],
                "tenant_column": "tenant_id",
                "tenant_claim": "org_id"
            },
            "tables": [{
                "name": "orders",
                "columns": [
                    {"name": "id", "type": "text", "nullable": false},
                    {"name": "tenant_id", "type": "text", "nullable": false},
                    {"name": "amount", "type": "numeric(12,2)", "nullable": false},
                    {"name": "status", "type": "text", "default": "'open'"}
                ],
                "primary_key": ["id"],
                "checks": [{"name": "amount_positive", "expression": "amount > 0"}]
            }],
            "views": [{"name": "open_orders", "query": "select id, amount from orders where status = 'open'"}]
        }))
        .unwrap();
        let (m, d) = layer_model(&spec, &LayerContext::default());
        m.unwrap_or_else(|| panic!("{d:?}"))
    }

    fn tenant_policy(m: &mut LayerModel) -> &mut crate::supabase::model::PolicyModel {
        let policies = &mut m.tables[0].policies;
        policies
            .iter_mut()
            .find(|p| p.name == "tenant_isolation")
            .unwrap()
    }

    /// The catalog's model of `m`: PostgreSQL reprints every expression.
    fn reprinted(m: &LayerModel) -> LayerModel {
        let mut seen = m.clone();
        visit(&mut seen, |_, text| {
            if let Some(t) = text {
                *t = format!("({t})");
            }
        });
        seen.exact = false;
        seen
    }

    #[test]
    fn a_rehearsal_makes_every_expression_of_the_layer_again() {
        let m = model();
        let sql = plan::change(&stale(&reprinted(&m)), &m)
            .render(&Renderer::embedded().unwrap())
            .unwrap()
            .join("\n");
        let policies = m.tables[0].policies.len();
        assert!(policies >= 2);
        assert_eq!(sql.matches("DROP POLICY").count(), policies, "{sql}");
        assert_eq!(sql.matches("CREATE POLICY").count(), policies, "{sql}");
        assert_eq!(
            sql.matches(r#"ADD CONSTRAINT "orders_amount_positive_check""#)
                .count(),
            1,
            "{sql}"
        );
        assert!(
            sql.contains(r#"ALTER COLUMN "status" SET DEFAULT 'open'"#),
            "{sql}"
        );
        assert!(sql.contains(r#"DROP VIEW "sales"."open_orders""#), "{sql}");
        assert!(
            sql.contains(r#"CREATE VIEW "sales"."open_orders""#),
            "{sql}"
        );
        assert!(
            !sql.contains("DROP TABLE") && !sql.contains("DROP COLUMN"),
            "{sql}"
        );
    }

    #[test]
    fn the_import_baseline_is_the_rehearsed_text_else_the_live_one() {
        let m = model();
        let seen = reprinted(&m);
        let mut rehearsed = reprinted(&m);
        rehearsed.views.clear();
        let base = baseline(&m, Some(&rehearsed), &seen);
        assert_eq!(
            base.keys().collect::<Vec<_>>(),
            expressions(&m).keys().collect::<Vec<_>>()
        );
        let view = "view open_orders query";
        assert_eq!(
            base[view],
            expressions(&seen)[view],
            "not rehearsed: as found"
        );
        // A policy edited by hand before the import differs from the baseline.
        let mut edited = seen.clone();
        tenant_policy(&mut edited).using = Some("true".to_owned());
        let observed = reconcile(&m, edited, &base);
        let found = describe(&m, &observed);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].ends_with("USING is now (true)"), "{found:?}");
    }

    #[test]
    fn an_apply_records_only_the_expressions_it_made() {
        let m = model();
        let key = |what: &str| format!("table orders {what}");
        let (policy, check) = (
            key("policy tenant_isolation using"),
            key("check orders_amount_positive_check"),
        );
        let previous = Expressions::from([
            (policy.clone(), "(recorded)".to_owned()),
            (check.clone(), "(amount > 0)".to_owned()),
        ]);
        // The policy was edited by hand since the record and the migration left it alone;
        // the CHECK rule was made again by it.
        let before = Expressions::from([
            (policy.clone(), "true".to_owned()),
            (check.clone(), "(amount > 0)".to_owned()),
        ]);
        let after = Expressions::from([
            (policy.clone(), "true".to_owned()),
            (check.clone(), "(amount > (0)::numeric)".to_owned()),
        ]);
        let record = record_after(Some(&previous), &m, &m, &before, &after);
        assert_eq!(record[&policy], "(recorded)");
        assert_eq!(record[&check], "(amount > (0)::numeric)");
        // A policy whose configured text changed is made by the migration, even when the
        // catalog's text is the same as before.
        let mut next = m.clone();
        tenant_policy(&mut next).using = Some("true".to_owned());
        let record = record_after(Some(&previous), &m, &next, &before, &after);
        assert_eq!(record[&policy], "true");
        assert_eq!(record_after(None, &m, &m, &before, &after), after);
    }

    #[test]
    fn a_view_without_security_invoker_is_drift_set_again_in_place() {
        let m = model();
        let mut seen = m.clone();
        seen.views[0].security_invoker = false;
        let found = describe(&m, &seen);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].contains("open_orders lost security_invoker"),
            "{found:?}"
        );
        let sql = plan::change(&seen, &m)
            .render(&Renderer::embedded().unwrap())
            .unwrap()
            .join("\n");
        assert_eq!(
            sql,
            r#"ALTER VIEW "sales"."open_orders" SET (security_invoker = true);"#
        );
    }
}
