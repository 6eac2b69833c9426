//! A whole workbench in one file: what the `ipai` CLI reads and the snapshot tests use.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{LitellmRouteSpec, MedallionLayerSpec, OcrStackSpec, WorkbenchSpec};

/// A workbench and its resources, as one YAML or JSON document. Each field holds the same
/// attributes as the Terraform resource of that name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BundleSpec {
    /// The `ipai_workbench`.
    pub workbench: WorkbenchSpec,
    /// `ipai_medallion_layer` resources of the workbench.
    #[serde(default)]
    pub medallion_layers: Vec<MedallionLayerSpec>,
    /// `ipai_ocr_stack` resources.
    #[serde(default)]
    pub ocr_stacks: Vec<OcrStackSpec>,
    /// `ipai_litellm_route` resources; they are merged into the workbench's one gateway.
    #[serde(default)]
    pub litellm_routes: Vec<LitellmRouteSpec>,
}
