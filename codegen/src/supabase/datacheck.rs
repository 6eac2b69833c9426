//! What the rows already in a table must satisfy for a change to apply: a new NOT NULL
//! column without default needs an empty table, a column turning NOT NULL needs no NULLs,
//! a new CHECK rule, key or foreign key needs rows that keep it, a retyped column needs
//! values that convert. The planner describes each check ([`DataCheck`]) with read-only
//! queries quoted by [`crate::sql`]; the provider runs them at plan when it has a database
//! and turns what they find into a diagnostic ([`DataCheck::diagnostic`]).
//!
//! The queries count the offending rows and return the primary key of one of them, never
//! other values: rows may hold personal data, keys identify a row without showing it.

use crate::sql::{quote_ident, quote_literal, quote_qualified};
use crate::{AttrPath, Diagnostic};

/// How a check finds the rows a change would fail on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// One query returning one row: the number of offending rows (`bigint`) and the
    /// primary key of the first of them as text (NULL when there is none or no key).
    Rows(String),
    /// A cast the migration runs (`ALTER COLUMN … TYPE t USING c::t`).
    ///
    /// PostgreSQL 15 has no function telling whether a cast succeeds for a value
    /// (`pg_input_is_valid`, PG16, checks text input of the new type, not the migration's
    /// own cast from the old type: numeric 1.5 casts to integer, the text '1.5' does not).
    /// So `any` evaluates the cast over the whole column in one statement, which fails on
    /// the first value that does not convert; the provider runs it in a subtransaction
    /// and, only then, runs `count`: a `DO` block trying the cast row by row (one
    /// subtransaction each), which leaves the count and a key in transaction-local
    /// settings that `result` returns like [`Probe::Rows`].
    Cast {
        /// Fails (with a data exception) when any value does not convert.
        any: String,
        /// Counts, row by row, the values that do not convert.
        count: String,
        /// Returns what `count` found: rows (`bigint`) and a key (text or NULL).
        result: String,
    },
}

/// A check of the rows already in a table, run before the change that needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataCheck {
    /// Attribute path in the new spec of what asks for the change.
    pub path: AttrPath,
    /// Diagnostic summary, e.g. `Column cannot become NOT NULL`.
    pub summary: String,
    /// The change, e.g. `column scout.orders.note becomes NOT NULL`.
    pub change: String,
    /// `<schema>.<table>` whose rows are checked.
    pub table: String,
    /// What the offending rows are, e.g. `hold NULL in note`.
    pub offending: String,
    /// What to do about it.
    pub fix: String,
    /// Primary key columns of the table (for the sample), empty when it has none.
    pub key: Vec<String>,
    /// How to find the rows.
    pub probe: Probe,
}

impl DataCheck {
    /// The diagnostic for `rows` offending rows (`sample`: the key of one of them), on
    /// [`DataCheck::path`].
    pub fn diagnostic(&self, rows: i64, sample: Option<&str>) -> Diagnostic {
        let count = if rows == 1 {
            "1 existing row".to_owned()
        } else {
            format!("{rows} existing rows")
        };
        let verb = if rows == 1 {
            self.offending.clone()
        } else {
            plural(&self.offending)
        };
        let example = match (sample, self.key.as_slice()) {
            (Some(s), [k]) => format!(" (for example the row with {k} = {s})"),
            (Some(s), keys) if !keys.is_empty() => {
                format!(" (for example the row with ({}) = ({s}))", keys.join(", "))
            }
            _ => String::new(),
        };
        Diagnostic::error(
            self.path.clone(),
            self.summary.clone(),
            format!(
                "The change {}, but {count} of {}{example} {verb}: PostgreSQL would refuse \
                 the migration at apply. {} Nothing was changed.",
                self.change, self.table, self.fix
            ),
        )
    }
}

/// `holds` → `hold`, `has` → `have`, `breaks` → `break`, `does` → `do`: the offending
/// phrases are written for one row.
fn plural(phrase: &str) -> String {
    let (verb, rest) = phrase.split_once(' ').unwrap_or((phrase, ""));
    let verb = match verb {
        "has" => "have".to_owned(),
        "does" => "do".to_owned(),
        "is" => "are".to_owned(),
        v => v.strip_suffix('s').unwrap_or(v).to_owned(),
    };
    if rest.is_empty() {
        verb
    } else {
        format!("{verb} {rest}")
    }
}

/// The table whose rows a check reads: its quoted name and primary key.
#[derive(Debug, Clone)]
pub(crate) struct Target<'a> {
    pub schema: &'a str,
    pub table: &'a str,
    /// Primary key columns as they are now (before the change).
    pub key: Vec<String>,
}

impl Target<'_> {
    fn relation(&self) -> String {
        quote_qualified(self.schema, self.table)
    }

    fn name(&self) -> String {
        format!("{}.{}", self.schema, self.table)
    }

    /// The key of a row as text (`a, b` for a composite key), or NULL without a key.
    fn key_text(&self) -> String {
        match self.key.as_slice() {
            [] => "NULL::text".to_owned(),
            [k] => format!("{}::text", quote_ident(k)),
            keys => format!(
                "concat_ws(', ', {})",
                keys.iter()
                    .map(|k| format!("{}::text", quote_ident(k)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }

    fn order(&self) -> String {
        if self.key.is_empty() {
            String::new()
        } else {
            format!(
                " ORDER BY {}",
                self.key
                    .iter()
                    .map(|k| quote_ident(k))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    }

    /// One row: how many rows satisfy `cond`, and the key of the first.
    fn rows(&self, cond: &str) -> Probe {
        let rel = self.relation();
        Probe::Rows(format!(
            "SELECT (SELECT count(*) FROM {rel} WHERE {cond}), \
             (SELECT {} FROM {rel} WHERE {cond}{} LIMIT 1)",
            self.key_text(),
            self.order()
        ))
    }

    fn check(
        &self,
        path: AttrPath,
        summary: &str,
        change: String,
        offending: String,
        fix: String,
        probe: Probe,
    ) -> DataCheck {
        DataCheck {
            path,
            summary: summary.to_owned(),
            change,
            table: self.name(),
            offending,
            fix,
            key: self.key.clone(),
            probe,
        }
    }

    /// A new column `column` that is NOT NULL without a default: the table must be empty.
    pub fn new_not_null(&self, path: AttrPath, column: &str) -> DataCheck {
        self.check(
            path,
            "New NOT NULL column needs a default",
            format!(
                "adds column {}.{column} as NOT NULL without a default",
                self.name()
            ),
            "exists and would get NULL in it".to_owned(),
            "Give the column a default (every existing row gets it), or add it with \
             nullable = true, fill it, then set nullable = false with a later apply."
                .to_owned(),
            self.rows("TRUE"),
        )
    }

    /// Column `column` becomes NOT NULL without a default: no row may hold NULL in it.
    pub fn becomes_not_null(&self, path: AttrPath, column: &str) -> DataCheck {
        let c = quote_ident(column);
        self.check(
            path,
            "Column cannot become NOT NULL",
            format!(
                "makes column {}.{column} NOT NULL without a default",
                self.name()
            ),
            format!("holds NULL in {column}"),
            format!(
                "Set a default for the column (the rows holding NULL get it first), or fill \
                 those rows (UPDATE {} SET {c} = … WHERE {c} IS NULL) and plan again, or keep \
                 nullable = true.",
                self.relation()
            ),
            self.rows(&format!("{c} IS NULL")),
        )
    }

    /// A new CHECK rule `name` with expression `expr`: rows for which it is false.
    pub fn check_rule(&self, path: AttrPath, name: &str, expr: &str) -> DataCheck {
        self.check(
            path,
            "CHECK rule broken by existing rows",
            format!("adds CHECK rule {name} ({expr}) to {}", self.name()),
            "breaks it".to_owned(),
            "Fix or delete the rows that break the rule, or loosen the rule, then plan again."
                .to_owned(),
            self.rows(&format!("NOT ({expr})")),
        )
    }

    /// A new primary key (`primary`) or unique key on `columns`: no duplicate values (and
    /// for a primary key no NULLs; a unique key lets rows with a NULL in it repeat).
    pub fn key(&self, path: AttrPath, columns: &[String], primary: bool) -> DataCheck {
        let cols = columns
            .iter()
            .map(|c| quote_ident(c))
            .collect::<Vec<_>>()
            .join(", ");
        let tuple = if columns.len() == 1 {
            cols.clone()
        } else {
            format!("({cols})")
        };
        let rel = self.relation();
        let duplicates =
            format!("{tuple} IN (SELECT {cols} FROM {rel} GROUP BY {cols} HAVING count(*) > 1)");
        let (what, cond, offending) = if primary {
            let nulls = columns
                .iter()
                .map(|c| format!("{} IS NULL", quote_ident(c)))
                .collect::<Vec<_>>()
                .join(" OR ");
            (
                "primary key",
                format!("{nulls} OR {duplicates}"),
                "has a NULL or a duplicate in",
            )
        } else {
            ("unique key", duplicates, "has a duplicate in")
        };
        self.check(
            path,
            &format!("Duplicate rows for the new {what}"),
            format!(
                "adds the {what} ({}) to {}",
                columns.join(", "),
                self.name()
            ),
            format!("{offending} ({})", columns.join(", ")),
            format!(
                "Remove or fix the duplicates (keep one row per value) and plan again, or \
                 leave out the {what}."
            ),
            self.rows(&cond),
        )
    }

    /// A new foreign key from `columns` into `ref_schema.ref_table (ref_columns)`: rows
    /// with every column set must find their row there. `ref_is_new`: the referenced table
    /// is created by the same migration, so it is empty.
    pub fn foreign_key(
        &self,
        path: AttrPath,
        columns: &[String],
        (ref_schema, ref_table, ref_columns): (&str, &str, &[String]),
        ref_is_new: bool,
    ) -> DataCheck {
        let rel = self.relation();
        let set = columns
            .iter()
            .map(|c| format!("{rel}.{} IS NOT NULL", quote_ident(c)))
            .collect::<Vec<_>>()
            .join(" AND ");
        // The referenced table is aliased, so the outer columns qualified with the
        // table's name are the checked row's even when the key references its own table.
        let cond = if ref_is_new {
            set
        } else {
            let matches = columns
                .iter()
                .zip(ref_columns)
                .map(|(c, r)| format!("ipai_ref.{} = {rel}.{}", quote_ident(r), quote_ident(c)))
                .collect::<Vec<_>>()
                .join(" AND ");
            format!(
                "{set} AND NOT EXISTS (SELECT 1 FROM {} AS ipai_ref WHERE {matches})",
                quote_qualified(ref_schema, ref_table)
            )
        };
        let target = format!("{ref_schema}.{ref_table} ({})", ref_columns.join(", "));
        self.check(
            path,
            "Foreign key broken by existing rows",
            format!(
                "adds a foreign key ({}) from {} to {target}",
                columns.join(", "),
                self.name()
            ),
            format!("references a row {target} does not have"),
            format!(
                "Add the missing rows to {ref_schema}.{ref_table}, or fix, delete or set to \
                 NULL the referencing ones, then plan again."
            ),
            self.rows(&cond),
        )
    }

    /// Column `column` changes type to `new_type` through `column::new_type`: every
    /// value must convert.
    pub fn cast(&self, path: AttrPath, column: &str, old_type: &str, new_type: &str) -> DataCheck {
        let c = quote_ident(column);
        let rel = self.relation();
        let key = self.key_text();
        let order = self.order();
        // A string literal rather than dollar quoting: quote_literal is the one way
        // text reaches SQL, and no name can end the body early.
        let body = format!(
            "DECLARE n bigint := 0; sample text; r record; \
             BEGIN \
               FOR r IN SELECT {c} AS ipai_value, {key} AS ipai_key FROM {rel} \
                        WHERE {c} IS NOT NULL{order} LOOP \
                 BEGIN \
                   PERFORM r.ipai_value::{new_type}; \
                 EXCEPTION WHEN others THEN \
                   n := n + 1; \
                   sample := coalesce(sample, r.ipai_key); \
                 END; \
               END LOOP; \
               PERFORM set_config({}, n::text, true), \
                       set_config({}, coalesce(sample, ''), true); \
             END",
            quote_literal("ipai.bad_rows"),
            quote_literal("ipai.sample_key"),
        );
        self.check(
            path,
            "Column values do not convert to the new type",
            format!(
                "changes column {}.{column} from {old_type} to {new_type} (converting each \
                 value with {column}::{new_type})",
                self.name()
            ),
            format!("holds a value in {column} that does not convert"),
            format!(
                "Fix those values or set them to NULL and plan again, or keep the type \
                 {old_type}; the conversion is the plain cast {column}::{new_type} (the spec \
                 takes no USING expression)."
            ),
            Probe::Cast {
                any: format!("SELECT count({c}::{new_type}) FROM {rel}"),
                count: format!("DO {}", quote_literal(&body)),
                result: "SELECT coalesce(nullif(current_setting('ipai.bad_rows', true), ''), \
                         '0')::bigint, nullif(current_setting('ipai.sample_key', true), '')"
                    .to_owned(),
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> Target<'static> {
        Target {
            schema: "scout",
            table: "orders",
            key: vec!["id".into()],
        }
    }

    #[test]
    fn diagnostics_count_rows_show_a_key_and_say_what_to_do() {
        let c = target().becomes_not_null(
            AttrPath::attr("tables")
                .index(0)
                .at("columns")
                .index(2)
                .at("nullable"),
            "note",
        );
        let one = c.diagnostic(1, Some("7"));
        assert_eq!(one.path.to_string(), "tables[0].columns[2].nullable");
        assert!(
            one.detail.contains("1 existing row of scout.orders (for example the row with id = 7) holds NULL in note"),
            "{}",
            one.detail
        );
        assert!(one.detail.contains("Set a default"), "{}", one.detail);
        let many = c.diagnostic(3, None);
        assert!(
            many.detail
                .contains("3 existing rows of scout.orders hold NULL in note"),
            "{}",
            many.detail
        );
    }

    fn layer(orders: serde_json::Value) -> crate::supabase::LayerModel {
        let spec = serde_json::from_value(serde_json::json!({
            "workbench": "wb", "layer": "silver", "schema": "s",
            "tables": [
                {"name": "customers", "primary_key": ["id"],
                 "columns": [{"name": "id", "type": "text", "nullable": false}]},
                orders
            ]
        }))
        .unwrap();
        let (m, d) = crate::supabase::layer_model(&spec, &Default::default());
        m.unwrap_or_else(|| panic!("{d:?}"))
    }

    #[test]
    fn the_planner_checks_only_what_the_change_needs_on_existing_rows() {
        let cols = |extra: serde_json::Value| {
            let mut c = serde_json::json!([
                {"name": "id", "type": "text", "nullable": false},
                {"name": "customer_id", "type": "text"},
                {"name": "code", "type": "text"}
            ]);
            c.as_array_mut()
                .unwrap()
                .extend(extra.as_array().unwrap().clone());
            c
        };
        let v0 = layer(
            serde_json::json!({"name": "orders", "primary_key": ["id"], "columns": cols(serde_json::json!([]))}),
        );
        // A rule and a key on a column added by the same change, a retype and a rule on
        // the retyped column: only the cast is checked (the rest is left to the migration).
        let v1 = layer(serde_json::json!({
            "name": "orders", "primary_key": ["id"],
            "columns": cols(serde_json::json!([{"name": "n", "type": "integer", "nullable": false, "default": "0"}]))
                .as_array().unwrap().iter().cloned().map(|mut c| {
                    if c["name"] == "code" { c["type"] = "integer".into(); }
                    c
                }).collect::<Vec<_>>(),
            "unique": [["n"], ["customer_id"]],
            "checks": [{"name": "n_small", "expression": "n < 10"}, {"name": "code_pos", "expression": "code > 0"}],
            "indexes": [{"columns": ["customer_id", "id"], "unique": true}],
            "foreign_keys": [{"columns": ["customer_id"], "references_table": "customers", "references_columns": ["id"]}]
        }));
        let paths: Vec<String> = crate::supabase::plan::change(&v0, &v1)
            .checks
            .iter()
            .map(|c| format!("{} {}", c.path, c.summary))
            .collect();
        assert_eq!(
            paths,
            [
                "tables[1].columns[2].type Column values do not convert to the new type",
                "tables[1].unique[1] Duplicate rows for the new unique key",
                "tables[1].foreign_keys[0] Foreign key broken by existing rows",
                "tables[1].indexes[0] Duplicate rows for the new unique key",
            ]
        );
        // Creating the layer reads no rows.
        assert!(crate::supabase::plan::create(&v1).checks.is_empty());
    }

    #[test]
    fn composite_keys_are_shown_as_tuples() {
        let t = Target {
            key: vec!["tenant_id".into(), "id".into()],
            ..target()
        };
        let c = t.check_rule(AttrPath::attr("tables"), "positive", "amount > 0");
        let d = c.diagnostic(2, Some("a, 1"));
        assert!(
            d.detail
                .contains("(for example the row with (tenant_id, id) = (a, 1)) break it"),
            "{}",
            d.detail
        );
        let Probe::Rows(sql) = &c.probe else {
            panic!("{c:?}")
        };
        assert!(
            sql.contains("concat_ws(', ', \"tenant_id\"::text, \"id\"::text)"),
            "{sql}"
        );
        assert!(sql.contains("ORDER BY \"tenant_id\", \"id\""), "{sql}");
    }

    #[test]
    fn names_in_the_cast_body_are_quoted_once_more_as_a_literal() {
        let t = Target {
            schema: "s",
            table: "it's",
            key: Vec::new(),
        };
        let c = t.cast(AttrPath::attr("tables"), "v", "text", "integer");
        let Probe::Cast { any, count, .. } = &c.probe else {
            panic!("{c:?}")
        };
        assert_eq!(any, "SELECT count(\"v\"::integer) FROM \"s\".\"it's\"");
        assert!(count.starts_with("DO 'DECLARE"), "{count}");
        assert!(count.contains("FROM \"s\".\"it''s\""), "{count}");
        assert!(count.contains("set_config(''ipai.bad_rows''"), "{count}");
    }
}
