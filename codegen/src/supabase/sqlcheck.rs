//! Checks the SQL a user writes inside a spec (view queries, CHECK rules, defaults, policy
//! expressions) with sqlparser's PostgreSQL dialect: it must be one expression or one
//! SELECT, and every table and column it names must exist. What is emitted is sqlparser's
//! canonical print of the checked tree, with table names schema-qualified and quoted.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::ControlFlow;

use sqlparser::ast::{
    Expr, Ident, ObjectName, ObjectNamePart, Query, Select, SelectItem, SetExpr, Statement,
    TableFactor, Visit, VisitMut, Visitor, visit_relations_mut,
};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::Token;

/// Relations a piece of SQL may read: `(schema, name)` to column names.
pub type Relations = BTreeMap<(String, String), Vec<String>>;

/// A checked SELECT.
#[derive(Debug, Clone)]
pub struct CheckedQuery {
    /// Canonical SQL, table names qualified.
    pub sql: String,
    /// Names of the columns the query returns.
    pub output_columns: Vec<String>,
}

/// A checked expression.
#[derive(Debug, Clone)]
pub struct CheckedExpr {
    /// Canonical SQL.
    pub sql: String,
    /// `auth.*()` calls made outside a sub-select (evaluated once per row instead of once per
    /// statement).
    pub bare_auth_calls: Vec<String>,
}

/// The case-folded name PostgreSQL gives an identifier.
fn name_of(id: &Ident) -> String {
    if id.quote_style.is_some() {
        id.value.clone()
    } else {
        id.value.to_lowercase()
    }
}

fn parts(name: &ObjectName) -> Vec<String> {
    name.0
        .iter()
        .map(|p| match p {
            ObjectNamePart::Identifier(id) => name_of(id),
            other => other.to_string(),
        })
        .collect()
}

#[derive(Default)]
struct Collect {
    tables: Vec<(Vec<String>, Option<String>)>,
    derived: BTreeSet<String>,
    ctes: BTreeSet<String>,
    aliases: BTreeSet<String>,
    idents: Vec<Vec<String>>,
    bare_auth_calls: Vec<String>,
    /// A `*` or `t.*` in some SELECT list: the query reads every column.
    wildcard: bool,
    depth: usize,
    queries: usize,
}

impl Visitor for Collect {
    type Break = ();

    fn pre_visit_query(&mut self, q: &Query) -> ControlFlow<()> {
        self.depth += 1;
        self.queries += 1;
        if let Some(with) = &q.with {
            for cte in &with.cte_tables {
                self.ctes.insert(name_of(&cte.alias.name));
                self.aliases
                    .extend(cte.alias.columns.iter().map(|c| name_of(&c.name)));
            }
        }
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, _q: &Query) -> ControlFlow<()> {
        self.depth -= 1;
        ControlFlow::Continue(())
    }

    fn pre_visit_select(&mut self, s: &Select) -> ControlFlow<()> {
        for item in &s.projection {
            match item {
                SelectItem::ExprWithAlias { alias, .. } => {
                    self.aliases.insert(name_of(alias));
                }
                SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..) => self.wildcard = true,
                _ => {}
            }
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, t: &TableFactor) -> ControlFlow<()> {
        match t {
            TableFactor::Table {
                name, alias, args, ..
            } => {
                let alias_name = alias.as_ref().map(|a| name_of(&a.name));
                if args.is_some() {
                    // A set-returning function such as unnest(): its columns are its aliases.
                    if let Some(a) = alias {
                        self.derived.insert(name_of(&a.name));
                        self.aliases
                            .extend(a.columns.iter().map(|c| name_of(&c.name)));
                    }
                } else {
                    self.tables.push((parts(name), alias_name));
                }
            }
            other => {
                if let TableFactor::Derived { alias: Some(a), .. }
                | TableFactor::UNNEST { alias: Some(a), .. }
                | TableFactor::Function { alias: Some(a), .. }
                | TableFactor::TableFunction { alias: Some(a), .. } = other
                {
                    self.derived.insert(name_of(&a.name));
                    self.aliases
                        .extend(a.columns.iter().map(|c| name_of(&c.name)));
                }
            }
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, e: &Expr) -> ControlFlow<()> {
        match e {
            Expr::Identifier(id) => self.idents.push(vec![name_of(id)]),
            Expr::CompoundIdentifier(ids) => self.idents.push(ids.iter().map(name_of).collect()),
            Expr::Function(f) => {
                let name = parts(&f.name);
                if self.depth == 0 && name.len() == 2 && name[0] == "auth" {
                    self.bare_auth_calls.push(name.join("."));
                }
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }
}

fn parser_error(e: impl std::fmt::Display) -> String {
    format!("it does not parse as PostgreSQL: {e}")
}

/// Resolves every table and column `c` names against `known` (unqualified tables are in
/// `schema`). `scope` adds the table an expression belongs to.
fn resolve(
    c: &Collect,
    schema: &str,
    known: &Relations,
    scope: Option<(&str, &[String])>,
) -> Result<(), String> {
    let mut qualifiers: BTreeMap<String, Option<Vec<String>>> = BTreeMap::new();
    let mut universe: BTreeSet<String> = c.aliases.clone();
    if let Some((table, cols)) = scope {
        qualifiers.insert(table.to_owned(), Some(cols.to_vec()));
        universe.extend(cols.iter().cloned());
    }
    for cte in &c.ctes {
        qualifiers.insert(cte.clone(), None);
    }
    for d in &c.derived {
        qualifiers.insert(d.clone(), None);
    }
    for (name, alias) in &c.tables {
        let key = match name.as_slice() {
            [t] if c.ctes.contains(t) => {
                if let Some(a) = alias {
                    qualifiers.insert(a.clone(), None);
                }
                continue;
            }
            [t] => (schema.to_owned(), t.clone()),
            [s, t] => (s.clone(), t.clone()),
            _ => {
                return Err(format!(
                    "table name {:?} has too many parts",
                    name.join(".")
                ));
            }
        };
        let Some(cols) = known.get(&key) else {
            return Err(format!(
                "it reads table {}.{}, which is not a table or view of this layer or a lower one",
                key.0, key.1
            ));
        };
        universe.extend(cols.iter().cloned());
        qualifiers.insert(
            alias.clone().unwrap_or_else(|| key.1.clone()),
            Some(cols.clone()),
        );
    }
    for id in &c.idents {
        let ok = match id.as_slice() {
            [col] => universe.contains(col),
            [q, col] => match qualifiers.get(q) {
                Some(Some(cols)) => cols.contains(col),
                Some(None) => universe.contains(col),
                None => {
                    return Err(format!(
                        "it refers to {q}.{col}, but {q} is not a table or alias in scope"
                    ));
                }
            },
            [s, t, col] => match known.get(&(s.clone(), t.clone())) {
                Some(cols) => cols.contains(col),
                None => {
                    return Err(format!(
                        "it refers to {s}.{t}.{col}, but {s}.{t} does not exist"
                    ));
                }
            },
            _ => false,
        };
        if !ok {
            return Err(format!(
                "it refers to column {}, which does not exist",
                id.join(".")
            ));
        }
    }
    Ok(())
}

/// Checks a view query: exactly one SELECT reading only `known` relations. Unqualified
/// table names are qualified with `schema`.
pub fn check_query(sql: &str, schema: &str, known: &Relations) -> Result<CheckedQuery, String> {
    let mut statements = Parser::parse_sql(&PostgreSqlDialect {}, sql).map_err(parser_error)?;
    if statements.len() != 1 {
        return Err(format!(
            "it must be exactly one SELECT, not {} statements",
            statements.len()
        ));
    }
    let Some(Statement::Query(mut query)) = statements.pop() else {
        return Err("it must be a SELECT".into());
    };
    let mut c = Collect::default();
    let _ = query.visit(&mut c);
    resolve(&c, schema, known, None)?;
    let output_columns = output_columns(&query.body, schema, known, &c);
    qualify(&mut *query, schema, &c.ctes);
    Ok(CheckedQuery {
        sql: query.to_string(),
        output_columns,
    })
}

/// Qualifies every table name `node` reads with `schema` when it has none, and quotes it:
/// the SQL then means the same whatever the session's search_path (migrations run with the
/// default one). Common table expressions (`ctes`) are left as they are.
fn qualify<N: VisitMut>(node: &mut N, schema: &str, ctes: &BTreeSet<String>) {
    let _ = visit_relations_mut(node, |name| {
        let mut p = parts(name);
        if !(p.len() == 1 && ctes.contains(&p[0])) {
            if p.len() == 1 {
                p.insert(0, schema.to_owned());
            }
            *name = ObjectName(
                p.into_iter()
                    .map(|s| ObjectNamePart::Identifier(Ident::with_quote('"', s)))
                    .collect(),
            );
        }
        ControlFlow::<()>::Continue(())
    });
}

fn output_columns(body: &SetExpr, schema: &str, known: &Relations, c: &Collect) -> Vec<String> {
    match body {
        SetExpr::Select(s) => {
            let mut out = Vec::new();
            for item in &s.projection {
                match item {
                    SelectItem::ExprWithAlias { alias, .. } => out.push(name_of(alias)),
                    SelectItem::UnnamedExpr(e) => out.push(match e {
                        Expr::Identifier(id) => name_of(id),
                        Expr::CompoundIdentifier(ids) => {
                            ids.last().map(name_of).unwrap_or_default()
                        }
                        Expr::Function(f) => parts(&f.name).pop().unwrap_or_default(),
                        _ => "?column?".into(),
                    }),
                    SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..) => {
                        for (name, _) in &c.tables {
                            let key = match name.as_slice() {
                                [t] => (schema.to_owned(), t.clone()),
                                [s, t] => (s.clone(), t.clone()),
                                _ => continue,
                            };
                            out.extend(known.get(&key).cloned().unwrap_or_default());
                        }
                    }
                    SelectItem::ExprWithAliases { aliases, .. } => {
                        out.extend(aliases.iter().map(name_of))
                    }
                }
            }
            out
        }
        SetExpr::Query(q) => output_columns(&q.body, schema, known, c),
        SetExpr::SetOperation { left, .. } => output_columns(left, schema, known, c),
        _ => Vec::new(),
    }
}

fn parse_expr(sql: &str) -> Result<Expr, String> {
    let dialect = PostgreSqlDialect {};
    let mut parser = Parser::new(&dialect)
        .try_with_sql(sql)
        .map_err(parser_error)?;
    let expr = parser.parse_expr().map_err(parser_error)?;
    if parser.peek_token().token != Token::EOF {
        return Err(format!(
            "it must be one expression; unexpected {} after it",
            parser.peek_token().token
        ));
    }
    Ok(expr)
}

/// Checks an expression over the columns of `table` (a CHECK rule or a policy). Sub-selects
/// may read other `known` relations; their table names are qualified as a view's are.
pub fn check_expr(
    sql: &str,
    schema: &str,
    table: &str,
    columns: &[String],
    known: &Relations,
) -> Result<CheckedExpr, String> {
    let mut expr = parse_expr(sql)?;
    let mut c = Collect::default();
    let _ = expr.visit(&mut c);
    resolve(&c, schema, known, Some((table, columns)))?;
    qualify(&mut expr, schema, &c.ctes);
    Ok(CheckedExpr {
        sql: expr.to_string(),
        bare_auth_calls: c.bare_auth_calls,
    })
}

/// The relations a query reads (unqualified ones in `schema`, common table expressions left
/// out), each with the columns it names; an empty list when it reads them all (`*`). A bare
/// column name is counted against every relation of the query: a dependency is never
/// missed. Nothing when it does not parse.
pub fn reads(sql: &str, schema: &str) -> Vec<((String, String), Vec<String>)> {
    let Ok(statements) = Parser::parse_sql(&PostgreSqlDialect {}, sql) else {
        return Vec::new();
    };
    let mut c = Collect::default();
    let _ = statements.visit(&mut c);
    let mut out: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    let mut whole = BTreeSet::new();
    for (name, alias) in &c.tables {
        let (s, t) = match name.as_slice() {
            [t] if c.ctes.contains(t) => continue,
            [t] => (schema, t),
            [s, t] => (s.as_str(), t),
            _ => continue,
        };
        let key = (s.to_owned(), t.clone());
        if c.wildcard {
            whole.insert(key.clone());
        }
        let cols = out.entry(key).or_default();
        for id in &c.idents {
            match id.as_slice() {
                [col] => {
                    cols.insert(col.clone());
                }
                [q, col] if Some(q) == alias.as_ref() || q == t => {
                    cols.insert(col.clone());
                }
                [s2, t2, col] if s2 == s && t2 == t => {
                    cols.insert(col.clone());
                }
                _ => {}
            }
        }
    }
    out.into_iter()
        .map(|(k, cols)| {
            let cols = if whole.contains(&k) {
                Vec::new()
            } else {
                cols.into_iter().collect()
            };
            (k, cols)
        })
        .collect()
}

/// Checks a column default: an expression that reads no column and no table.
pub fn check_default(sql: &str) -> Result<String, String> {
    let expr = parse_expr(sql)?;
    let mut c = Collect::default();
    let _ = expr.visit(&mut c);
    if !c.tables.is_empty() || c.queries > 0 {
        return Err("a default cannot read tables".into());
    }
    if let Some(id) = c.idents.first() {
        return Err(format!(
            "a default cannot refer to column {} (quote text values: '{}')",
            id.join("."),
            id.join(".")
        ));
    }
    Ok(expr.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known() -> Relations {
        let mut r = Relations::new();
        r.insert(
            ("scout".into(), "silver_tx".into()),
            vec!["id".into(), "amount".into(), "txn_date".into()],
        );
        r
    }

    #[test]
    fn views_are_qualified_and_their_columns_known() {
        let q = check_query(
            "select date_trunc('month', txn_date) as month, sum(s.amount) total from silver_tx s group by 1",
            "scout",
            &known(),
        )
        .unwrap();
        assert!(
            q.sql.contains("FROM \"scout\".\"silver_tx\" s"),
            "{}",
            q.sql
        );
        assert_eq!(q.output_columns, ["month", "total"]);
    }

    #[test]
    fn unknown_tables_and_columns_are_named() {
        let e = check_query("select x from nope", "scout", &known()).unwrap_err();
        assert!(e.contains("scout.nope"), "{e}");
        let e = check_query("select amount, bogus from silver_tx", "scout", &known()).unwrap_err();
        assert!(e.contains("bogus"), "{e}");
        let e = check_query("select s.bogus from silver_tx s", "scout", &known()).unwrap_err();
        assert!(e.contains("s.bogus"), "{e}");
        assert!(check_query("select 1; drop table x", "scout", &known()).is_err());
        assert!(check_query("delete from silver_tx", "scout", &known()).is_err());
    }

    #[test]
    fn ctes_resolve() {
        let q = check_query(
            "with m as (select id as k from silver_tx) select m.k from m",
            "scout",
            &known(),
        )
        .unwrap();
        assert_eq!(q.output_columns, ["k"]);
    }

    #[test]
    fn expressions_are_checked_against_the_table() {
        let cols = vec!["amount".to_owned(), "tenant_id".to_owned()];
        assert!(check_expr("amount > 0", "scout", "t", &cols, &known()).is_ok());
        assert!(check_expr("amount > 0; drop table t", "scout", "t", &cols, &known()).is_err());
        assert!(check_expr("amout > 0", "scout", "t", &cols, &known()).is_err());
        let e = check_expr("tenant_id = auth.uid()", "scout", "t", &cols, &known()).unwrap();
        assert_eq!(e.bare_auth_calls, ["auth.uid"]);
        let e = check_expr(
            "tenant_id = (select auth.uid())",
            "scout",
            "t",
            &cols,
            &known(),
        )
        .unwrap();
        assert!(e.bare_auth_calls.is_empty());
        // A sub-select's table is qualified, as in a view: migrations run with the default
        // search_path, which does not hold the layer's schema.
        let e = check_expr(
            "exists (select 1 from silver_tx where silver_tx.id = amount)",
            "scout",
            "t",
            &cols,
            &known(),
        )
        .unwrap();
        assert!(
            e.sql
                .contains("FROM \"scout\".\"silver_tx\" WHERE silver_tx.id"),
            "{}",
            e.sql
        );
    }

    #[test]
    fn reads_names_each_relation_and_its_columns() {
        let mut known = known();
        known.insert(
            ("scout".into(), "orders".into()),
            vec!["id".into(), "amount".into(), "store_id".into()],
        );
        known.insert(
            ("scout".into(), "stores".into()),
            vec!["id".into(), "name".into()],
        );
        let q = check_query(
            "select o.id, sum(amount) as total from orders o join stores s on s.id = o.store_id group by o.id",
            "scout",
            &known,
        )
        .unwrap();
        let r = reads(&q.sql, "scout");
        let key = |t: &str| ("scout".to_owned(), t.to_owned());
        assert_eq!(
            r,
            [
                (
                    key("orders"),
                    vec!["amount".into(), "id".into(), "store_id".into()]
                ),
                (key("stores"), vec!["amount".into(), "id".into()]),
            ]
        );
        let q = check_query("select * from stores", "scout", &known).unwrap();
        assert_eq!(reads(&q.sql, "scout"), [(key("stores"), vec![])]);
        // A catalog's reprint may leave the schema out.
        assert_eq!(
            reads("SELECT stores.name FROM stores", "scout"),
            [(key("stores"), vec!["name".to_owned()])]
        );
    }

    #[test]
    fn defaults_read_nothing() {
        assert_eq!(check_default("now()").unwrap(), "now()");
        assert!(check_default("other_column").is_err());
        assert!(check_default("(select 1 from silver_tx)").is_err());
        assert!(check_default("(select 1)").is_err());
    }
}
