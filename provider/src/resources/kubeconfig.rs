//! `ipai_kubeconfig`: fresh credentials of a workbench's DOKS cluster as an ephemeral
//! resource, so a kubeconfig is never frozen in state (DigitalOcean tokens expire).

use std::time::{Duration, SystemTime};

use base64::Engine;
use ipai_codegen::digitalocean::{cluster_name, workbench_tag};
use ipai_codegen::{AttrPath, Diagnostics};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::config::Context;
use crate::diagnostics;
use crate::digitalocean::{ApiError, Applier, ClusterCredentials, ClusterLookup};
use crate::framework::{EphemeralResource, Opened, Renewed};
use crate::resources::cluster_not_found;

/// The `ipai_kubeconfig` ephemeral resource.
#[derive(Debug, Clone, Copy, Default)]
pub struct Kubeconfig;

/// Short-lived credentials of a workbench's DigitalOcean Kubernetes cluster, fetched fresh
/// on every Terraform run and never written to plan or state. Use them to configure the
/// kubernetes or helm provider.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KubeconfigSpec {
    /// The workbench whose cluster to reach. Reference it as `ipai_workbench.<name>.name`,
    /// so Terraform opens this after the workbench exists; while the workbench's cluster is
    /// only planned in this run, every result is unknown until apply.
    pub workbench: String,
    /// The cluster's name; the workbench's own cluster (`<workbench>-cluster`) when unset.
    /// It must carry the workbench's tag `ipai-workbench:<workbench>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_name: Option<String>,
    /// How long the credentials stay valid, in seconds (DigitalOcean's `expiry_seconds`),
    /// 60 to 604800; one hour by default. Shortly before they expire Terraform asks for a
    /// renewal if the run still uses them, but values already handed to another provider
    /// keep their expiry: pick a lifetime longer than the run.
    #[serde(default = "default_expiry_seconds")]
    pub expiry_seconds: u64,
}

fn default_expiry_seconds() -> u64 {
    3600
}

/// The credentials.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct KubeconfigResult {
    /// A complete kubeconfig (YAML) with one cluster, user and context.
    #[schemars(extend("x-sensitive" = true))]
    pub raw_config: String,
    /// The Kubernetes API server URL.
    pub host: String,
    /// The cluster's CA certificate, PEM (already base64-decoded, as the kubernetes and
    /// helm providers' `cluster_ca_certificate` expects).
    pub cluster_ca_certificate: String,
    /// The bearer token.
    #[schemars(extend("x-sensitive" = true))]
    pub token: String,
    /// When the token stops working (RFC 3339).
    pub expires_at: String,
}

/// What renew needs: where the cluster is and how long to ask for (no secret).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KubeconfigPrivate {
    cluster_id: String,
    cluster_name: String,
    expiry_seconds: u64,
}

/// DigitalOcean refuses a shorter lifetime than a minute or a longer one than a week.
const EXPIRY_RANGE: std::ops::RangeInclusive<u64> = 60..=7 * 24 * 3600;

/// Renew this long before the token expires (a tenth of its lifetime at most).
fn renew_at(expiry_seconds: u64) -> SystemTime {
    let margin = (expiry_seconds / 10).min(300);
    SystemTime::now() + Duration::from_secs(expiry_seconds - margin)
}

fn applier<'a>(ctx: &'a Context, spec: &KubeconfigSpec) -> Result<&'a Applier, Diagnostics> {
    ctx.digitalocean_required(
        &format!(
            "ipai_kubeconfig reads the credentials of workbench {:?}'s cluster from DigitalOcean",
            spec.workbench
        ),
        AttrPath::attr("workbench"),
    )
}

fn api_error(at: AttrPath, cluster: &str, e: &ApiError) -> Diagnostics {
    diagnostics::error(
        at,
        "DigitalOcean API call failed",
        format!("Fetching the credentials of cluster {cluster:?} failed: {e}."),
    )
}

/// A kubeconfig holding exactly these credentials; scalars are JSON strings, which YAML
/// reads as double-quoted scalars, so no value can break the document.
fn render_kubeconfig(name: &str, c: &ClusterCredentials) -> String {
    let q = |s: &str| serde_json::Value::from(s).to_string();
    let (name, user) = (q(name), q(&format!("{name}-admin")));
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: {name}\n  cluster:\n    \
         server: {server}\n    certificate-authority-data: {ca}\ncontexts:\n- name: {name}\n  \
         context:\n    cluster: {name}\n    user: {user}\ncurrent-context: {name}\nusers:\n- \
         name: {user}\n  user:\n    token: {token}\n",
        server = q(&c.server),
        ca = q(&c.certificate_authority_data),
        token = q(&c.token),
    )
}

fn decode_ca(data: &str) -> String {
    base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .ok()
        .and_then(|pem| String::from_utf8(pem).ok())
        // Not base64 of text: hand it on as DigitalOcean sent it.
        .unwrap_or_else(|| data.to_owned())
}

#[async_trait::async_trait]
impl EphemeralResource for Kubeconfig {
    type Spec = KubeconfigSpec;
    type Result = KubeconfigResult;
    type Private = KubeconfigPrivate;

    const TYPE_NAME: &'static str = "ipai_kubeconfig";

    fn validate(&self, spec: &KubeconfigSpec) -> Diagnostics {
        let mut d = Diagnostics::new();
        if !EXPIRY_RANGE.contains(&spec.expiry_seconds) {
            d.error(
                AttrPath::attr("expiry_seconds"),
                "Credential lifetime out of range",
                format!(
                    "expiry_seconds is {}; DigitalOcean issues credentials valid for {} to {} \
                     seconds.",
                    spec.expiry_seconds,
                    EXPIRY_RANGE.start(),
                    EXPIRY_RANGE.end()
                ),
            );
        }
        d
    }

    async fn open(
        &self,
        ctx: &Context,
        spec: &KubeconfigSpec,
    ) -> Result<Opened<KubeconfigResult, KubeconfigPrivate>, Diagnostics> {
        let do_applier = applier(ctx, spec)?;
        let (name, at) = match &spec.cluster_name {
            Some(n) => (n.clone(), AttrPath::attr("cluster_name")),
            None => (cluster_name(&spec.workbench), AttrPath::attr("workbench")),
        };
        let lookup = do_applier
            .find_cluster(&name, &workbench_tag(&spec.workbench))
            .await
            .map_err(|e| api_error(at.clone(), &name, &e))?;
        let id = match lookup {
            ClusterLookup::Running(id) => id,
            // Planned in this run: the cluster is created (and waited for) by apply.
            _ if ctx.workbench_planned(&spec.workbench) => return Ok(Opened::Unknown),
            ClusterLookup::Missing => {
                return Err(cluster_not_found(
                    at,
                    &name,
                    &spec.workbench,
                    ", or name an existing cluster of it in cluster_name",
                ));
            }
            ClusterLookup::Provisioning(state) => {
                return Err(diagnostics::error(
                    at,
                    "Cluster not ready",
                    format!(
                        "Kubernetes cluster {name:?} is {state}, not running; its credentials \
                         are available once it runs. Apply the workbench (it waits for the \
                         cluster) and run again."
                    ),
                ));
            }
        };
        let creds = do_applier
            .cluster_credentials(&id, spec.expiry_seconds)
            .await
            .map_err(|e| api_error(at, &name, &e))?;
        Ok(Opened::Ready {
            result: KubeconfigResult {
                raw_config: render_kubeconfig(&name, &creds),
                host: creds.server.clone(),
                cluster_ca_certificate: decode_ca(&creds.certificate_authority_data),
                token: creds.token.clone(),
                expires_at: creds.expires_at.clone(),
            },
            private: KubeconfigPrivate {
                cluster_id: id,
                cluster_name: name,
                expiry_seconds: spec.expiry_seconds,
            },
            renew_at: Some(renew_at(spec.expiry_seconds)),
        })
    }

    /// Fetches fresh credentials, which proves the cluster is still reachable. The protocol
    /// lets a renewal change nothing Terraform already holds, so the values handed out keep
    /// their `expires_at`: pick an `expiry_seconds` longer than the run.
    async fn renew(
        &self,
        ctx: &Context,
        private: KubeconfigPrivate,
    ) -> Result<Renewed<KubeconfigPrivate>, Diagnostics> {
        let do_applier = ctx.digitalocean_required(
            &format!(
                "Renewing the credentials of cluster {:?} reaches DigitalOcean",
                private.cluster_name
            ),
            AttrPath::root(),
        )?;
        do_applier
            .cluster_credentials(&private.cluster_id, private.expiry_seconds)
            .await
            .map_err(|e| api_error(AttrPath::root(), &private.cluster_name, &e))?;
        Ok(Renewed {
            renew_at: Some(renew_at(private.expiry_seconds)),
            private,
        })
    }
}
