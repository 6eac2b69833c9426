//! `ipai_ocr_stack`: a PaddleOCR-VL inference service and its HTTP adapter on the
//! workbench's cluster, on a GPU node pool.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::spec::workbench::TimeoutsSpec;

/// An OCR stack: the inference server (GPU) and the adapter serving `/v1/parse`.
///
/// The adapter's Ingress serves TLS with the Secret `ocr-<name>-tls` in namespace `ocr`.
/// You create it (`kubectl create secret tls`, or cert-manager): ipai never writes secret
/// values, only references to them.
///
/// Unless the provider is `files_only`, the stack also adds its GPU node pool
/// `<workbench>-<name>-gpu` to the workbench's DOKS cluster, with enough nodes for its
/// largest replica count. The pool is a separate object: a change of replicas resizes it in
/// place, a change of `gpu.node_size` replaces the stack (pool included), and the cluster is
/// never replaced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OcrStackSpec {
    /// Name of the `ipai_workbench` the stack runs in.
    pub workbench: String,
    /// Stack name: a DNS-1123 label of at most 49 characters. Its manifests live in
    /// `kubernetes/ocr-<name>/` and its objects are named `ocr-<name>-…`.
    pub name: String,
    /// OCR model the inference server loads.
    #[serde(default = "default_model")]
    pub model: String,
    /// Container image of the inference server (listens on 8080, answers `/health`).
    pub image: String,
    /// Container image of the adapter (listens on 8080, answers `/health` and `/v1/parse`).
    pub adapter_image: String,
    /// Replicas of the inference server and of the adapter when `autoscaling` is unset.
    #[serde(default = "default_replicas")]
    pub replicas: i64,
    /// GPU for the inference server.
    #[serde(default)]
    pub gpu: GpuSpec,
    /// CPU and memory of the inference server.
    #[serde(default)]
    pub resources: ResourcesSpec,
    /// Public host name of the adapter; must be inside the workbench's domain. Unset means
    /// `ocr.<domain>`.
    #[serde(default)]
    pub hostname: Option<String>,
    /// Largest request body the ingress accepts, as a Kubernetes quantity (`64Mi`).
    #[serde(default = "default_max_body_size")]
    pub max_body_size: String,
    /// Horizontal autoscaling of both deployments; when set, it owns their replica counts
    /// and `replicas` is not used.
    #[serde(default)]
    pub autoscaling: Option<AutoscalingSpec>,
    /// How long the GPU node pool may take to be created (its nodes running), resized and
    /// deleted in DigitalOcean before the apply fails (Go-style durations such as `30m`;
    /// `30m` each by default).
    #[serde(default, skip_serializing_if = "TimeoutsSpec::is_default")]
    pub timeouts: TimeoutsSpec,
}

/// GPU placement of the inference server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GpuSpec {
    /// Run the inference server on GPU nodes.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// DigitalOcean GPU droplet size slug of the node pool (`gpu-…`). Checked against
    /// DigitalOcean's sizes and the workbench's region at plan time when a token is
    /// configured. Changing it replaces the stack: DigitalOcean cannot change the nodes of an
    /// existing pool, so the old pool is deleted and a new one created.
    #[serde(default = "default_gpu_node_size")]
    pub node_size: Option<String>,
    /// GPUs per inference replica (`nvidia.com/gpu`).
    #[serde(default = "default_gpu_count")]
    pub count: i64,
}

/// CPU and memory requests and limits, as Kubernetes quantities.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourcesSpec {
    /// What the scheduler reserves.
    #[serde(default = "default_requests")]
    pub requests: ResourceAmounts,
    /// The most the container may use.
    #[serde(default = "default_limits")]
    pub limits: ResourceAmounts,
}

/// A CPU and a memory quantity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourceAmounts {
    /// CPU, e.g. `2` or `500m`.
    pub cpu: String,
    /// Memory, e.g. `8Gi`.
    pub memory: String,
}

/// Horizontal Pod Autoscaler bounds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AutoscalingSpec {
    /// Fewest replicas (at least 1).
    pub min: i64,
    /// Most replicas (at least `min`).
    pub max: i64,
    /// Average CPU utilisation to aim for, in percent of the request (1–100).
    #[serde(default = "default_target_cpu")]
    pub target_cpu: i64,
}

impl Default for GpuSpec {
    fn default() -> Self {
        Self {
            enabled: true,
            node_size: default_gpu_node_size(),
            count: default_gpu_count(),
        }
    }
}

impl Default for ResourcesSpec {
    fn default() -> Self {
        Self {
            requests: default_requests(),
            limits: default_limits(),
        }
    }
}

fn yes() -> bool {
    true
}
/// The seed's OCR model.
pub fn default_model() -> String {
    "PaddleOCR-VL-900M".into()
}
/// One replica, as the seed's single GPU droplet.
pub fn default_replicas() -> i64 {
    1
}
/// DigitalOcean's GPU droplet size offered for DOKS node pools.
pub fn default_gpu_node_size() -> Option<String> {
    Some("gpu-h100x1-80gb".into())
}
/// One GPU per replica.
pub fn default_gpu_count() -> i64 {
    1
}
/// The seed's body size limit: 64 MiB.
pub fn default_max_body_size() -> String {
    "64Mi".into()
}
/// Default requests of the inference server.
pub fn default_requests() -> ResourceAmounts {
    ResourceAmounts {
        cpu: "2".into(),
        memory: "8Gi".into(),
    }
}
/// Default limits of the inference server.
pub fn default_limits() -> ResourceAmounts {
    ResourceAmounts {
        cpu: "4".into(),
        memory: "16Gi".into(),
    }
}
/// Default CPU utilisation target of the autoscaler.
pub fn default_target_cpu() -> i64 {
    80
}
