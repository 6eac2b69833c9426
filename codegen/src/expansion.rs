//! What a spec expands to: files, migrations, DigitalOcean objects and cost.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The result of expanding one resource (or a whole workbench bundle in the CLI).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Expansion {
    /// Generated files: path relative to `output_dir` (always `/`-separated, starting with
    /// the workbench name) to contents. A `BTreeMap` so iteration order is stable.
    pub files: BTreeMap<String, String>,
    /// SQL migrations, in the order they must be applied.
    pub migrations: Vec<Migration>,
    /// DigitalOcean objects, in dependency order (a later object may depend on an earlier one).
    pub digitalocean: Vec<DoObject>,
    /// Monthly cost estimate in US cents, from DigitalOcean's size prices.
    pub monthly_cost_cents: u64,
}

impl Expansion {
    /// Merges `other` into `self` (files of `other` win on the same path).
    pub fn merge(&mut self, other: Expansion) {
        self.files.extend(other.files);
        self.migrations.extend(other.migrations);
        self.digitalocean.extend(other.digitalocean);
        self.monthly_cost_cents += other.monthly_cost_cents;
    }

    /// Hex SHA-256 of every file, keyed by path: what the provider keeps in state.
    pub fn file_hashes(&self) -> BTreeMap<String, String> {
        self.files
            .iter()
            .map(|(p, c)| (p.clone(), sha256_hex(c.as_bytes())))
            .collect()
    }
}

/// One transactional SQL migration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Migration {
    /// Sortable version, the file name's prefix in `supabase/migrations/<version>_<name>.sql`.
    pub version: String,
    /// Short snake_case name.
    pub name: String,
    /// The statements; applied in one transaction.
    pub sql: String,
    /// Hex SHA-256 of `sql`, recorded in the ledger.
    pub checksum: String,
}

impl Migration {
    /// A migration whose checksum is computed from its SQL.
    pub fn new(
        version: impl Into<String>,
        name: impl Into<String>,
        sql: impl Into<String>,
    ) -> Self {
        let sql = sql.into();
        Self {
            version: version.into(),
            name: name.into(),
            checksum: sha256_hex(sql.as_bytes()),
            sql,
        }
    }
}

/// Kinds of DigitalOcean objects the workbench expands to.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum DoKind {
    /// A project grouping all the workbench's objects.
    Project,
    /// The VPC.
    Vpc,
    /// The DOKS cluster with its default pool.
    KubernetesCluster,
    /// An extra node pool (e.g. the OCR GPU pool).
    NodePool,
    /// The cloud firewall.
    Firewall,
    /// The container registry.
    Registry,
    /// A DNS record in the workbench's domain.
    DomainRecord,
    /// An uptime check.
    UptimeCheck,
    /// An alert on an uptime check.
    UptimeAlert,
}

/// A DigitalOcean object in its desired form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DoObject {
    /// What it is.
    pub kind: DoKind,
    /// Unique name within the workbench (objects are found again by name and tag).
    pub name: String,
    /// Names of the objects this one needs first.
    pub depends_on: Vec<String>,
    /// The desired attributes, in the shape of the DigitalOcean API v2 create request.
    pub spec: serde_json::Value,
}

/// Hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}
