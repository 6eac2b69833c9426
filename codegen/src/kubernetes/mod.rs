//! Kubernetes manifests (GitOps): namespaces, network policies, Traefik, LiteLLM, OCR.

use crate::{Expansion, Renderer, Result, spec::WorkbenchSpec};

/// The workbench's own manifests (namespaces, default-deny network policies, Traefik).
pub fn workbench(_spec: &WorkbenchSpec, _r: &Renderer) -> Result<Expansion> {
    // Owned by the Kubernetes work; filled in there.
    Ok(Expansion::default())
}
