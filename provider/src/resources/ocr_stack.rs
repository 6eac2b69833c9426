//! `ipai_ocr_stack` on the files target: the stack's manifests and spec file under
//! `<wb>/kubernetes/ocr-<name>/`, written under the workbench's lock, then the workbench's
//! aggregates (the top `kustomization.yaml`) recomputed.

use std::collections::{BTreeMap, BTreeSet};

use ipai_codegen::expand::{expand_ocr_stack, validate_ocr_stack};
use ipai_codegen::kubernetes::ocr;
use ipai_codegen::spec::OcrStackSpec;
use ipai_codegen::{Diagnostics, Expansion};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::config::Context;
use crate::framework::{ApplyFailure, Resource};
use crate::resources::{
    domain_of, expansion_error, hashes_on_disk, read_for_import, remove_files, split_import_id,
    write_files,
};

/// The `ipai_ocr_stack` resource.
#[derive(Debug, Clone, Copy, Default)]
pub struct OcrStack;

/// What the provider computes for an OCR stack.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct OcrStackComputed {
    /// `<workbench>/<name>`, also the import id.
    pub id: String,
    /// SHA-256 (hex) of every generated file, keyed by its path relative to `output_dir`.
    /// Known after apply when the workbench is created in the same run. A file edited or
    /// deleted by hand shows here as drift and is repaired by the next apply.
    pub files: Option<BTreeMap<String, String>>,
    /// Estimated monthly DigitalOcean cost of the stack's GPU node pool, in US dollars.
    pub monthly_cost_estimate: f64,
}

fn expand(ctx: &Context, spec: &OcrStackSpec, domain: &str) -> Result<Expansion, Diagnostics> {
    let renderer = ctx.renderer()?;
    expand_ocr_stack(spec, domain, &renderer).map_err(expansion_error)
}

fn computed(spec: &OcrStackSpec, exp: Option<&Expansion>) -> OcrStackComputed {
    let cost = ocr::gpu_pool(spec)
        .ok()
        .flatten()
        .map_or(0, |p| p.monthly_cost_cents);
    OcrStackComputed {
        id: format!("{}/{}", spec.workbench, spec.name),
        files: exp.map(Expansion::file_hashes),
        monthly_cost_estimate: cost as f64 / 100.0,
    }
}

#[async_trait::async_trait]
impl Resource for OcrStack {
    type Spec = OcrStackSpec;
    type Computed = OcrStackComputed;

    const TYPE_NAME: &'static str = "ipai_ocr_stack";
    const REQUIRES_REPLACE: &'static [&'static str] = &["workbench", "name"];

    fn validate(&self, spec: &OcrStackSpec) -> Diagnostics {
        // The hostname is checked against the workbench's domain once it is known.
        validate_ocr_stack(spec, None)
    }

    async fn plan(
        &self,
        ctx: &Context,
        spec: &OcrStackSpec,
        _prior: Option<&OcrStackComputed>,
    ) -> Result<OcrStackComputed, Diagnostics> {
        // A workbench created in the same run has no summary yet: the files are known
        // after apply.
        match domain_of(ctx, &spec.workbench).await? {
            Ok(domain) => Ok(computed(spec, Some(&expand(ctx, spec, &domain)?))),
            Err(_) => Ok(computed(spec, None)),
        }
    }

    async fn apply(
        &self,
        ctx: &Context,
        spec: &OcrStackSpec,
        prior: Option<(&OcrStackSpec, &OcrStackComputed)>,
    ) -> Result<OcrStackComputed, ApplyFailure<OcrStackComputed>> {
        let stale: BTreeSet<String> = prior
            .and_then(|(_, c)| c.files.as_ref())
            .map(|f| f.keys().cloned().collect())
            .unwrap_or_default();
        let domain = domain_of(ctx, &spec.workbench).await??;
        let exp = expand(ctx, spec, &domain)?;
        let result = computed(spec, Some(&exp));
        write_files(ctx, &spec.workbench, exp.files, stale).await?;
        Ok(result)
    }

    async fn read(
        &self,
        ctx: &Context,
        _spec: &OcrStackSpec,
        state: &OcrStackComputed,
    ) -> Result<Option<OcrStackComputed>, Diagnostics> {
        let Some(owned) = &state.files else {
            return Ok(Some(state.clone()));
        };
        let files = hashes_on_disk(ctx, owned.keys().cloned()).await;
        Ok(Some(OcrStackComputed {
            files: Some(files),
            ..state.clone()
        }))
    }

    async fn delete(
        &self,
        ctx: &Context,
        spec: &OcrStackSpec,
        state: &OcrStackComputed,
    ) -> Result<(), Diagnostics> {
        let owned = state
            .files
            .as_ref()
            .map(|f| f.keys().cloned().collect())
            .unwrap_or_default();
        remove_files(ctx, &spec.workbench, owned).await
    }

    async fn import(
        &self,
        ctx: &Context,
        id: &str,
    ) -> Result<(OcrStackSpec, OcrStackComputed), Diagnostics> {
        let (wb, name) = split_import_id(id, "<workbench>/<name>, e.g. insightpulse/paddle")?;
        let path = ocr::spec_path(wb, name);
        let text = read_for_import(
            ctx,
            &path,
            &format!("OCR stack {name:?} of workbench {wb:?}"),
        )
        .await?;
        let spec = ocr::parse_spec_file(&path, &text)?;
        let domain = domain_of(ctx, &spec.workbench).await??;
        let exp = expand(ctx, &spec, &domain)?;
        let on_disk = hashes_on_disk(ctx, exp.files.keys().cloned()).await;
        Ok((
            spec.clone(),
            OcrStackComputed {
                files: Some(on_disk),
                ..computed(&spec, Some(&exp))
            },
        ))
    }
}
