//! `ipai_workbench`: the workbench as a whole.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The workbench: where it runs, its domain, cluster and shared services.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkbenchSpec {
    /// Workbench name: a DNS-1123 label (lowercase letters, digits, `-`; at most 63 characters).
    /// Every object, file and schema of the workbench is named from it.
    pub name: String,
    /// DigitalOcean region slug.
    #[serde(default = "default_region")]
    pub region: String,
    /// DNS domain the workbench's services are published under (e.g. `litellm.<domain>`).
    #[serde(default = "default_domain")]
    pub domain: String,
    /// Environment: `dev`, `staging` or `prod`.
    #[serde(default = "default_environment")]
    pub environment: String,
    /// The DOKS cluster.
    #[serde(default)]
    pub cluster: ClusterSpec,
    /// IPv4 range of the workbench's VPC.
    #[serde(default = "default_vpc_cidr")]
    pub vpc_cidr: String,
    /// Cloud firewall settings.
    #[serde(default)]
    pub firewall: FirewallSpec,
    /// Container registry subscription tier: `starter`, `basic` or `professional`.
    #[serde(default = "default_registry_tier")]
    pub registry_tier: String,
    /// Supabase project, when the workbench's data lives there.
    #[serde(default)]
    pub supabase: Option<SupabaseSpec>,
    /// Optional shared services.
    #[serde(default)]
    pub services: ServicesSpec,
    /// Subdomains published under `domain`, each getting a DNS record and an uptime check.
    #[serde(default = "default_subdomains")]
    pub subdomains: Vec<String>,
    /// Labels and tags applied to everything the workbench creates.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// IPv4 address the subdomains' DNS A records point to (the ingress load balancer's
    /// address). Unset: no DNS records are created yet; set it once the ingress has an address.
    #[serde(default)]
    pub ingress_ip: Option<String>,
    /// Name of the DigitalOcean container registry (one per account); unset means the
    /// workbench name.
    #[serde(default)]
    pub registry_name: Option<String>,
    /// Uptime checks and their alerts, one check per subdomain.
    #[serde(default)]
    pub uptime: UptimeSpec,
    /// How long DigitalOcean operations may take before they fail (Go-style durations such
    /// as `30m`, `1h30m`).
    #[serde(default)]
    pub timeouts: TimeoutsSpec,
}

/// Uptime checks (one HTTPS check per subdomain) and where their alerts go.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UptimeSpec {
    /// Check the subdomains at all.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Regions the checks run from: `us_east`, `us_west`, `eu_west`, `se_asia`.
    #[serde(default = "default_uptime_regions")]
    pub regions: Vec<String>,
    /// E-mail addresses alerted when a subdomain is down everywhere.
    #[serde(default)]
    pub alert_emails: Vec<String>,
}

impl WorkbenchSpec {
    /// The schema of the workbench's medallion domain (`supabase.schema`, else `scout`).
    pub fn medallion_schema(&self) -> &str {
        self.supabase
            .as_ref()
            .map_or(super::medallion::DEFAULT_SCHEMA, |s| s.schema.as_str())
    }
}

impl Default for UptimeSpec {
    fn default() -> Self {
        Self {
            enabled: true,
            regions: default_uptime_regions(),
            alert_emails: Vec::new(),
        }
    }
}

/// Time limits of long DigitalOcean operations (Go-style durations: `90s`, `30m`, `1h30m`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TimeoutsSpec {
    /// Creating objects, including waiting for the cluster to be running (default `30m`).
    #[serde(default)]
    pub create: Option<String>,
    /// Updating objects, including waiting for a resized pool (default `30m`).
    #[serde(default)]
    pub update: Option<String>,
    /// Deleting objects and waiting until they are gone (default `30m`).
    #[serde(default)]
    pub delete: Option<String>,
}

impl TimeoutsSpec {
    /// Whether no limit is set (every operation keeps the default).
    pub fn is_default(&self) -> bool {
        self == &Self::default()
    }
}

/// The DOKS cluster and its default node pool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClusterSpec {
    /// Kubernetes version slug, e.g. `1.33`; `latest` picks DigitalOcean's newest.
    #[serde(default = "default_k8s_version")]
    pub version: String,
    /// Droplet size slug of the default pool.
    #[serde(default = "default_node_size")]
    pub node_size: String,
    /// Node count of the default pool.
    #[serde(default = "default_node_count")]
    pub node_count: i64,
    /// Autoscaling bounds of the default pool; none means a fixed size.
    #[serde(default)]
    pub autoscale: Option<AutoscaleSpec>,
    /// Extra node pools beside the default one. Each is its own DigitalOcean object, so
    /// adding, removing or resizing one never replaces the cluster.
    #[serde(default)]
    pub node_pools: Vec<NodePoolSpec>,
}

/// An extra node pool of the cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NodePoolSpec {
    /// Pool name suffix: the pool is called `<workbench>-<name>` (a DNS-1123 label). Names
    /// ending in `-gpu` are reserved for the GPU pools of `ipai_ocr_stack`.
    pub name: String,
    /// Droplet size slug of the pool's nodes.
    pub node_size: String,
    /// Node count.
    #[serde(default = "one")]
    pub node_count: i64,
    /// Autoscaling bounds; none means a fixed size.
    #[serde(default)]
    pub autoscale: Option<AutoscaleSpec>,
    /// Kubernetes labels put on the pool's nodes.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// Autoscaling bounds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AutoscaleSpec {
    /// Fewest nodes.
    pub min: i64,
    /// Most nodes.
    pub max: i64,
}

/// Cloud firewall settings. Inbound is always 443 and 80 only; outbound TCP 443, 5432, 6543,
/// 6333, 6379 and 25061 (Redis for the LiteLLM cache) and DNS.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FirewallSpec {
    /// CIDRs allowed to reach port 22; empty means no SSH at all.
    #[serde(default)]
    pub ssh_sources: Vec<String>,
}

/// The Supabase project holding the workbench's data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SupabaseSpec {
    /// Supabase project reference (the subdomain of `<ref>.supabase.co`).
    pub project_ref: String,
    /// Schema of the medallion domain: the default `schema` of the workbench's
    /// `ipai_medallion_layer`s.
    #[serde(default = "super::medallion::default_schema")]
    pub schema: String,
}

/// Optional shared services.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServicesSpec {
    /// Traefik ingress controller.
    #[serde(default = "yes")]
    pub traefik: bool,
    /// n8n workflow automation namespace.
    #[serde(default = "yes")]
    pub n8n: bool,
}

impl Default for ClusterSpec {
    fn default() -> Self {
        Self {
            version: default_k8s_version(),
            node_size: default_node_size(),
            node_count: default_node_count(),
            autoscale: None,
            node_pools: Vec::new(),
        }
    }
}

impl Default for ServicesSpec {
    fn default() -> Self {
        Self {
            traefik: true,
            n8n: true,
        }
    }
}

fn yes() -> bool {
    true
}
fn one() -> i64 {
    1
}
/// Default uptime check regions: near the seed workbench and one far away.
pub fn default_uptime_regions() -> Vec<String> {
    vec!["se_asia".into(), "us_west".into()]
}
/// Default region: Singapore 1, where the seed workbench runs.
pub fn default_region() -> String {
    "sgp1".into()
}
/// Default domain of the seed workbench.
pub fn default_domain() -> String {
    "insightpulseai.net".into()
}
/// Default environment.
pub fn default_environment() -> String {
    "prod".into()
}
/// Default VPC range.
pub fn default_vpc_cidr() -> String {
    "10.10.0.0/16".into()
}
/// Default registry tier.
pub fn default_registry_tier() -> String {
    "basic".into()
}
/// Default Kubernetes version slug.
pub fn default_k8s_version() -> String {
    "1.33".into()
}
/// Default node size of the seed cluster.
pub fn default_node_size() -> String {
    "s-4vcpu-8gb".into()
}
/// Default node count of the seed cluster.
pub fn default_node_count() -> i64 {
    3
}
/// The seed's subdomains.
pub fn default_subdomains() -> Vec<String> {
    ["litellm", "n8n", "ocr", "superset", "erp", "mcp"]
        .into_iter()
        .map(String::from)
        .collect()
}
