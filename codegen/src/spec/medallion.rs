//! `ipai_medallion_layer`: one layer (bronze, silver, gold or platinum) of a medallion
//! domain schema in the workbench's Supabase Postgres.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::WorkbenchSpec;

/// One medallion layer: its tables, views, retention, row-level security and grants.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MedallionLayerSpec {
    /// Name of the `ipai_workbench` this layer belongs to.
    pub workbench: String,
    /// The layer: `bronze` (raw ingestion), `silver` (typed and validated), `gold` (marts)
    /// or `platinum` (AI/RAG views).
    pub layer: Layer,
    /// PostgreSQL schema holding the layer's tables and views (the medallion domain).
    /// Defaults to the workbench's `supabase.schema` (`scout` unless set there).
    #[serde(default)]
    #[schemars(extend("x-computed" = true))]
    pub schema: Option<String>,
    /// The layer's tables. A bronze table without columns gets the raw ingestion columns
    /// `id`, `source`, `payload` (jsonb), `batch_id` and `ingested_at`.
    #[serde(default)]
    pub tables: Vec<TableSpec>,
    /// The layer's views (silver → gold aggregations, platinum AI/RAG views).
    #[serde(default)]
    pub views: Vec<ViewSpec>,
    /// Days a row is kept before `ip_workbench.purge_expired()` deletes it. Defaults per
    /// layer: bronze 90, silver 730, gold 1825, platinum none. `0` keeps rows forever.
    /// When the database has the `pg_cron` extension, apply schedules the workbench's job
    /// `ipai/<workbench>/purge_expired` to run it daily at 03:17 UTC (a job missing or
    /// changed in `cron.job` is drift); without pg_cron plan warns that expired rows are not
    /// purged.
    #[serde(default)]
    pub retention_days: Option<i64>,
    /// Comment on the layer, recorded in the workbench metadata.
    #[serde(default)]
    pub comment: Option<String>,
    /// Row-level security. It is enabled on every table unless turned off.
    #[serde(default)]
    pub rls: RlsSpec,
    /// Explicit grants. Without any, `service_role` gets full access and `authenticated`
    /// read access to every table and view of the layer; `anon` gets nothing.
    #[serde(default)]
    pub grants: Option<Vec<GrantSpec>>,
    /// Refuses to destroy the layer while true.
    #[serde(default = "yes")]
    pub deletion_protection: bool,
    /// Allows destroying tables that still hold rows.
    #[serde(default)]
    pub force_destroy: bool,
    /// Allows changes that lose data: dropping a table or column, or changing a column's type.
    /// A widening keeps every value and is an ordinary in-place update without it: a longer
    /// or no `varchar` limit, `varchar` to `text`, `smallint` or `integer` to a larger
    /// integer type, a larger `numeric` precision with the same scale (or no limit), and the
    /// same for arrays of these.
    #[serde(default)]
    pub allow_destructive_changes: bool,
}

impl MedallionLayerSpec {
    /// The layer's schema: as configured (or resolved by [`Self::resolve_schema`]), else
    /// the seed's default.
    pub fn schema(&self) -> &str {
        self.schema.as_deref().unwrap_or(DEFAULT_SCHEMA)
    }

    /// Fills an unset `schema` from the workbench's `supabase.schema`; without the
    /// workbench, the seed's default.
    pub fn resolve_schema(&mut self, workbench: Option<&WorkbenchSpec>) {
        if self.schema.is_none() {
            self.schema = Some(
                workbench
                    .map_or(DEFAULT_SCHEMA, WorkbenchSpec::medallion_schema)
                    .to_owned(),
            );
        }
    }
}

/// A medallion layer.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Layer {
    /// Raw ingestion, JSONB payloads as received.
    Bronze,
    /// Typed, validated and constrained.
    Silver,
    /// Aggregated marts.
    Gold,
    /// Views serving AI and RAG workloads.
    Platinum,
}

impl Layer {
    /// Every layer, lowest first.
    pub const ALL: [Layer; 4] = [Layer::Bronze, Layer::Silver, Layer::Gold, Layer::Platinum];

    /// The layer's name as written in specs.
    pub fn as_str(self) -> &'static str {
        match self {
            Layer::Bronze => "bronze",
            Layer::Silver => "silver",
            Layer::Gold => "gold",
            Layer::Platinum => "platinum",
        }
    }

    /// 1 for bronze up to 4 for platinum; orders migrations and foreign keys.
    pub fn rank(self) -> u8 {
        match self {
            Layer::Bronze => 1,
            Layer::Silver => 2,
            Layer::Gold => 3,
            Layer::Platinum => 4,
        }
    }

    /// The layer named `s`, if any.
    pub fn parse(s: &str) -> Option<Layer> {
        Layer::ALL.into_iter().find(|l| l.as_str() == s)
    }

    /// Default retention in days (the seed's policy); `None` keeps rows forever.
    pub fn default_retention_days(self) -> Option<i64> {
        match self {
            Layer::Bronze => Some(90),
            Layer::Silver => Some(730),
            Layer::Gold => Some(1825),
            Layer::Platinum => None,
        }
    }
}

/// A table of the layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TableSpec {
    /// Table name (lowercase letters, digits and `_`; at most 63 bytes).
    pub name: String,
    /// Columns in order. Empty on a bronze table means the raw ingestion columns.
    #[serde(default)]
    pub columns: Vec<ColumnSpec>,
    /// Primary key columns. A bronze table with default columns uses `id`.
    #[serde(default)]
    pub primary_key: Vec<String>,
    /// Unique keys, each a list of columns.
    #[serde(default)]
    pub unique: Vec<Vec<String>>,
    /// CHECK rules on the table's rows.
    #[serde(default)]
    pub checks: Vec<CheckSpec>,
    /// Foreign keys to tables of this layer or of lower layers.
    #[serde(default)]
    pub foreign_keys: Vec<ForeignKeySpec>,
    /// Secondary indexes.
    #[serde(default)]
    pub indexes: Vec<IndexSpec>,
    /// Timestamp or date column retention is measured on. Bronze tables default to
    /// `ingested_at`; without one the table is never purged.
    #[serde(default)]
    pub retention_column: Option<String>,
    /// Comment on the table.
    #[serde(default)]
    pub comment: Option<String>,
}

/// A column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ColumnSpec {
    /// Column name.
    pub name: String,
    /// PostgreSQL type, e.g. `text`, `bigint`, `numeric(12,2)`, `timestamptz`, `jsonb`, `uuid`,
    /// `text[]`.
    pub r#type: String,
    /// Whether the column accepts NULL.
    #[serde(default = "yes")]
    pub nullable: bool,
    /// Default value as a SQL expression, e.g. `now()`, `gen_random_uuid()`, `0`, `'new'`.
    #[serde(default)]
    pub default: Option<String>,
    /// Comment on the column.
    #[serde(default)]
    pub comment: Option<String>,
}

/// A named CHECK rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckSpec {
    /// Rule name; the constraint is named `<table>_<name>_check`.
    pub name: String,
    /// Boolean SQL expression over the table's columns, e.g. `amount > 0`.
    pub expression: String,
}

/// A foreign key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ForeignKeySpec {
    /// Referencing columns of this table.
    pub columns: Vec<String>,
    /// Referenced table, in this layer or a lower one of the same schema.
    pub references_table: String,
    /// Referenced columns; default the referenced table's primary key.
    #[serde(default)]
    pub references_columns: Vec<String>,
    /// What happens on delete of the referenced row: `no_action`, `restrict`, `cascade`,
    /// `set_null` or `set_default`.
    #[serde(default = "default_on_delete")]
    pub on_delete: String,
}

/// A secondary index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IndexSpec {
    /// Index name; default `<table>_<columns>_idx`.
    #[serde(default)]
    pub name: Option<String>,
    /// Indexed columns, in order.
    pub columns: Vec<String>,
    /// Whether the index is unique.
    #[serde(default)]
    pub unique: bool,
    /// Access method: `btree`, `hash`, `gin`, `gist` or `brin`.
    #[serde(default = "default_index_method")]
    pub method: String,
}

/// A view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ViewSpec {
    /// View name.
    pub name: String,
    /// The view's query: one SELECT that reads only tables and views that exist in this
    /// layer or a lower one. Unqualified names are in the layer's schema.
    pub query: String,
    /// Comment on the view.
    #[serde(default)]
    pub comment: Option<String>,
}

/// Row-level security settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RlsSpec {
    /// Enables row-level security on every table of the layer. Supabase exposes the schema
    /// through its API, so turning it off makes every granted row public.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Policy presets: `service_role_full_access`, `authenticated_read_only`,
    /// `tenant_isolation` (needs `tenant_column`).
    #[serde(default = "default_presets")]
    pub presets: Vec<String>,
    /// Column holding the tenant of each row; with the `tenant_isolation` preset a user
    /// sees and writes only rows whose column equals the JWT claim `tenant_claim`.
    #[serde(default)]
    pub tenant_column: Option<String>,
    /// JWT claim holding the user's tenant.
    #[serde(default = "default_tenant_claim")]
    pub tenant_claim: String,
    /// Custom policies.
    #[serde(default)]
    pub policies: Vec<PolicySpec>,
}

/// A custom row-level security policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicySpec {
    /// Policy name.
    pub name: String,
    /// Table the policy applies to.
    pub table: String,
    /// Command: `all`, `select`, `insert`, `update` or `delete`.
    #[serde(default = "default_command")]
    pub command: String,
    /// Roles the policy applies to.
    #[serde(default = "default_policy_roles")]
    pub roles: Vec<String>,
    /// USING expression: which existing rows are visible. Call `(select auth.uid())`, not
    /// `auth.uid()`, so PostgreSQL evaluates it once per statement.
    #[serde(default)]
    pub using: Option<String>,
    /// WITH CHECK expression: which new rows may be written.
    #[serde(default)]
    pub with_check: Option<String>,
    /// Restrictive policies are ANDed with the others instead of ORed.
    #[serde(default)]
    pub restrictive: bool,
}

/// An explicit grant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantSpec {
    /// Grantee: `anon`, `authenticated`, `service_role` or another role.
    pub role: String,
    /// Privileges: `select`, `insert`, `update`, `delete`, `truncate`, `references`,
    /// `trigger` or `all`.
    pub privileges: Vec<String>,
    /// Tables and views the grant covers; default every table and view of the layer.
    #[serde(default)]
    pub objects: Option<Vec<String>>,
}

impl Default for RlsSpec {
    fn default() -> Self {
        Self {
            enabled: true,
            presets: default_presets(),
            tenant_column: None,
            tenant_claim: default_tenant_claim(),
            policies: Vec::new(),
        }
    }
}

fn yes() -> bool {
    true
}
/// Default schema: the seed's medallion domain.
pub const DEFAULT_SCHEMA: &str = "scout";

/// [`DEFAULT_SCHEMA`] as a serde default.
pub fn default_schema() -> String {
    DEFAULT_SCHEMA.into()
}
fn default_on_delete() -> String {
    "no_action".into()
}
fn default_index_method() -> String {
    "btree".into()
}
/// Default policy presets.
pub fn default_presets() -> Vec<String> {
    vec![
        "service_role_full_access".into(),
        "authenticated_read_only".into(),
    ]
}
fn default_tenant_claim() -> String {
    "tenant_id".into()
}
fn default_command() -> String {
    "all".into()
}
fn default_policy_roles() -> Vec<String> {
    vec!["authenticated".into()]
}
