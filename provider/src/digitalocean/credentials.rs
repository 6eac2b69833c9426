//! Short-lived credentials of a workbench's DOKS cluster, fetched fresh each time (the
//! `ipai_kubeconfig` ephemeral resource): nothing here is ever stored.

use serde_json::Value;

use super::{ApiError, Applier};

/// A cluster of the workbench, found by name among the clusters carrying its tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterLookup {
    /// No such cluster (yet).
    Missing,
    /// It exists but is not running yet; its state in DigitalOcean's words.
    Provisioning(String),
    /// Running, with its id.
    Running(String),
}

/// What `GET /v2/kubernetes/clusters/{id}/credentials` returns.
#[derive(Clone, PartialEq, Eq)]
pub struct ClusterCredentials {
    /// The API server URL.
    pub server: String,
    /// The cluster CA, base64 of its PEM, as DigitalOcean sends it.
    pub certificate_authority_data: String,
    /// The bearer token (secret).
    pub token: String,
    /// When the token stops working (RFC 3339).
    pub expires_at: String,
}

impl std::fmt::Debug for ClusterCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token never reaches a log line.
        f.debug_struct("ClusterCredentials")
            .field("server", &self.server)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl Applier {
    /// The cluster `name` tagged `tag`, as DigitalOcean lists it; a same-named cluster
    /// without the tag is someone else's and not returned.
    pub async fn tagged_cluster(&self, name: &str, tag: &str) -> Result<Option<Value>, ApiError> {
        let clusters = self
            .client()
            .list("/v2/kubernetes/clusters", "kubernetes_clusters")
            .await?;
        Ok(clusters.into_iter().find(|c| {
            c["name"] == name
                && c["tags"]
                    .as_array()
                    .is_some_and(|ts| ts.iter().any(|t| t == tag))
        }))
    }

    /// Finds the cluster `name` tagged `tag`.
    pub async fn find_cluster(&self, name: &str, tag: &str) -> Result<ClusterLookup, ApiError> {
        let found = self.tagged_cluster(name, tag).await?;
        Ok(match &found {
            None => ClusterLookup::Missing,
            Some(c) => {
                let state = c["status"]["state"].as_str().unwrap_or("unknown");
                match (state, &c["id"]) {
                    ("running", Value::String(id)) => ClusterLookup::Running(id.clone()),
                    _ => ClusterLookup::Provisioning(state.to_owned()),
                }
            }
        })
    }

    /// Fresh credentials of cluster `id`, valid for `expiry_seconds`.
    pub async fn cluster_credentials(
        &self,
        id: &str,
        expiry_seconds: u64,
    ) -> Result<ClusterCredentials, ApiError> {
        let v = self
            .client()
            .get(&format!(
                "/v2/kubernetes/clusters/{id}/credentials?expiry_seconds={expiry_seconds}"
            ))
            .await?;
        let field = |k: &str| v[k].as_str().unwrap_or_default().to_owned();
        Ok(ClusterCredentials {
            server: field("server"),
            certificate_authority_data: field("certificate_authority_data"),
            token: field("token"),
            expires_at: field("expires_at"),
        })
    }
}
