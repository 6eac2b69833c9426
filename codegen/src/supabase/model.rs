//! The desired (or observed) state of one medallion layer in PostgreSQL terms.
//!
//! A validated spec becomes a [`LayerModel`]; the provider's catalog introspection builds
//! one too. The planner compares two models, so an update can be computed from the previous
//! spec or from what the database really holds.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::spec::medallion::Layer;

/// Every table privilege PostgreSQL 15 knows, in the order `GRANT` lists them.
pub const TABLE_PRIVILEGES: [&str; 7] = [
    "SELECT",
    "INSERT",
    "UPDATE",
    "DELETE",
    "TRUNCATE",
    "REFERENCES",
    "TRIGGER",
];

/// The roles Supabase's API connects as; every table's grants to them are set explicitly.
pub const API_ROLES: [&str; 3] = ["anon", "authenticated", "service_role"];

/// One medallion layer in PostgreSQL terms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerModel {
    /// Workbench name.
    pub workbench: String,
    /// Schema holding the layer.
    pub schema: String,
    /// The layer.
    pub layer: Layer,
    /// Tables, in creation order.
    pub tables: Vec<TableModel>,
    /// Views, in creation order (a view only reads earlier ones).
    pub views: Vec<ViewModel>,
    /// Days rows are kept; `None` keeps them forever.
    pub retention_days: Option<i64>,
    /// Comment on the layer.
    pub comment: Option<String>,
    /// True when expressions (defaults, CHECK rules, policies, view queries) are this crate's
    /// canonical text; false when they come from a catalog, where PostgreSQL reprints them.
    pub exact: bool,
}

/// A table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableModel {
    /// Name.
    pub name: String,
    /// Columns in order.
    pub columns: Vec<ColumnModel>,
    /// Primary key, unique and CHECK constraints.
    pub constraints: Vec<ConstraintModel>,
    /// Foreign keys (added after every table of the layer exists).
    pub foreign_keys: Vec<ConstraintModel>,
    /// Secondary indexes.
    pub indexes: Vec<IndexModel>,
    /// Whether row-level security is enabled.
    pub rls: bool,
    /// Row-level security policies.
    pub policies: Vec<PolicyModel>,
    /// Role to privileges (upper case, e.g. `SELECT`).
    pub grants: BTreeMap<String, BTreeSet<String>>,
    /// Comment.
    pub comment: Option<String>,
    /// Column retention is measured on.
    pub retention_column: Option<String>,
}

/// A column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnModel {
    /// Name.
    pub name: String,
    /// Type as PostgreSQL's `format_type` prints it.
    pub r#type: String,
    /// Accepts NULL.
    pub nullable: bool,
    /// Default expression.
    pub default: Option<String>,
    /// Comment.
    pub comment: Option<String>,
}

/// What a constraint is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConstraintKind {
    /// PRIMARY KEY.
    PrimaryKey,
    /// UNIQUE.
    Unique,
    /// CHECK.
    Check,
    /// FOREIGN KEY.
    ForeignKey,
}

/// A table constraint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConstraintModel {
    /// Constraint name.
    pub name: String,
    /// Kind.
    pub kind: ConstraintKind,
    /// Constrained columns (primary key, unique, foreign key).
    pub columns: Vec<String>,
    /// CHECK expression.
    pub expression: Option<String>,
    /// Referenced schema (foreign key).
    pub ref_schema: Option<String>,
    /// Referenced table (foreign key).
    pub ref_table: Option<String>,
    /// Referenced columns (foreign key).
    pub ref_columns: Vec<String>,
    /// ON DELETE action in SQL, e.g. `NO ACTION` (foreign key).
    pub on_delete: Option<String>,
}

/// A secondary index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndexModel {
    /// Index name.
    pub name: String,
    /// Unique index.
    pub unique: bool,
    /// Access method.
    pub method: String,
    /// Indexed columns.
    pub columns: Vec<String>,
}

/// A row-level security policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyModel {
    /// Policy name.
    pub name: String,
    /// `ALL`, `SELECT`, `INSERT`, `UPDATE` or `DELETE`.
    pub command: String,
    /// Roles.
    pub roles: Vec<String>,
    /// USING expression.
    pub using: Option<String>,
    /// WITH CHECK expression.
    pub with_check: Option<String>,
    /// Restrictive (ANDed) rather than permissive.
    pub restrictive: bool,
}

/// A view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ViewModel {
    /// Name.
    pub name: String,
    /// Canonical query, table names qualified.
    pub query: String,
    /// Output columns.
    pub columns: Vec<String>,
    /// Role to privileges.
    pub grants: BTreeMap<String, BTreeSet<String>>,
    /// Comment.
    pub comment: Option<String>,
    /// The view runs with the rights of the role querying it (`security_invoker`), so the
    /// row level security of the tables it reads applies; without it the view reads them
    /// as its owner and bypasses their policies. Every generated view has it (state
    /// written before it was recorded too).
    #[serde(default = "security_invoker")]
    pub security_invoker: bool,
}

fn security_invoker() -> bool {
    true
}

impl LayerModel {
    /// Column types as this version spells them. A model recorded in Terraform state by an
    /// earlier version may spell a type the way that version did (`numeric(12)`,
    /// `character`); read as today's spelling, it plans no change for a column nobody
    /// changed.
    pub fn respell_types(&mut self) {
        for c in self.tables.iter_mut().flat_map(|t| t.columns.iter_mut()) {
            if let Ok(t) = super::types::canonical_type(&c.r#type) {
                c.r#type = t;
            }
        }
    }

    /// `<workbench>/<schema>/<layer>`: the resource id, the import id and the ledger key.
    pub fn resource_id(&self) -> String {
        resource_id(&self.workbench, &self.schema, self.layer)
    }

    /// The table named `name`.
    pub fn table(&self, name: &str) -> Option<&TableModel> {
        self.tables.iter().find(|t| t.name == name)
    }

    /// The view named `name`.
    pub fn view(&self, name: &str) -> Option<&ViewModel> {
        self.views.iter().find(|v| v.name == name)
    }
}

impl TableModel {
    /// The column named `name`.
    pub fn column(&self, name: &str) -> Option<&ColumnModel> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// `<workbench>/<schema>/<layer>`.
pub fn resource_id(workbench: &str, schema: &str, layer: Layer) -> String {
    format!("{workbench}/{schema}/{}", layer.as_str())
}

/// A PostgreSQL name made from parts, kept within 63 bytes: a longer one is cut and gets a
/// hash suffix, so two long names never collide after PostgreSQL would truncate them.
pub fn object_name(parts: &[&str], suffix: &str) -> String {
    let full = format!("{}_{suffix}", parts.join("_"));
    if full.len() <= crate::names::MAX_NAME_LEN {
        return full;
    }
    let hash = &crate::sha256_hex(full.as_bytes())[..8];
    let keep = crate::names::MAX_NAME_LEN - suffix.len() - hash.len() - 2;
    let mut cut = full[..keep].to_owned();
    while !full.is_char_boundary(cut.len()) {
        cut.pop();
    }
    format!("{cut}_{hash}_{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_object_names_fit_and_stay_distinct() {
        let a = object_name(&[&"t".repeat(40), &"c".repeat(30)], "key");
        let b = object_name(&[&"t".repeat(40), &"d".repeat(30)], "key");
        assert!(a.len() <= 63 && b.len() <= 63);
        assert_ne!(a, b);
        assert!(a.ends_with("_key"));
        assert_eq!(object_name(&["t", "c"], "idx"), "t_c_idx");
    }
}
