//! `ipai_ocr_stack` on the files target: the stack's manifests and spec file under
//! `<wb>/kubernetes/ocr-<name>/`, written under the workbench's lock, then the workbench's
//! aggregates (the top `kustomization.yaml`) recomputed.

use std::collections::{BTreeMap, BTreeSet};

use ipai_codegen::expand::{expand_ocr_stack, validate_ocr_stack};
use ipai_codegen::kubernetes::ocr;
use ipai_codegen::spec::OcrStackSpec;
use ipai_codegen::{AttrPath, Diagnostics, Expansion, names};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::config::Context;
use crate::diagnostics;
use crate::framework::Resource;
use crate::resources::{blocking, expansion_error, files_error, workbench_domain};

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
        let target = ctx.files.clone();
        let wb = spec.workbench.clone();
        let domain = blocking(move || workbench_domain(&target, &wb))
            .await
            .map_err(files_error)?;
        // A workbench created in the same run has no summary yet: the files are known
        // after apply.
        match domain {
            Ok(domain) => Ok(computed(spec, Some(&expand(ctx, spec, &domain)?))),
            Err(_) => Ok(computed(spec, None)),
        }
    }

    async fn apply(
        &self,
        ctx: &Context,
        spec: &OcrStackSpec,
        prior: Option<(&OcrStackSpec, &OcrStackComputed)>,
    ) -> Result<OcrStackComputed, Diagnostics> {
        let stale: BTreeSet<String> = prior
            .and_then(|(_, c)| c.files.as_ref())
            .map(|f| f.keys().cloned().collect())
            .unwrap_or_default();
        let target = ctx.files.clone();
        let wb = spec.workbench.clone();
        let domain = blocking(move || workbench_domain(&target, &wb))
            .await
            .map_err(files_error)??;
        let exp = expand(ctx, spec, &domain)?;
        let result = computed(spec, Some(&exp));
        let renderer = ctx.renderer()?;
        let target = ctx.files.clone();
        let wb = spec.workbench.clone();
        blocking(move || {
            target.locked(&wb, |t| {
                t.sync(&exp.files, &stale)?;
                t.refresh_aggregates(&wb, &renderer)
            })
        })
        .await
        .map_err(files_error)?;
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
        let target = ctx.files.clone();
        let paths: Vec<String> = owned.keys().cloned().collect();
        let files = blocking(move || target.hashes(paths.iter().map(String::as_str))).await;
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
        let renderer = ctx.renderer()?;
        let target = ctx.files.clone();
        let wb = spec.workbench.clone();
        let owned: Vec<String> = state
            .files
            .as_ref()
            .map(|f| f.keys().cloned().collect())
            .unwrap_or_default();
        blocking(move || {
            target.locked(&wb, |t| {
                t.remove(owned.iter().map(String::as_str))?;
                t.refresh_aggregates(&wb, &renderer)
            })
        })
        .await
        .map_err(files_error)
    }

    async fn import(
        &self,
        ctx: &Context,
        id: &str,
    ) -> Result<(OcrStackSpec, OcrStackComputed), Diagnostics> {
        let (wb, name) = id.split_once('/').ok_or_else(|| {
            diagnostics::error(
                AttrPath::root(),
                "Invalid import id",
                format!("{id:?} is not <workbench>/<name>, e.g. insightpulse/paddle."),
            )
        })?;
        let mut d = Diagnostics::new();
        if !names::dns1123_label(&AttrPath::root(), wb, &mut d)
            || !names::dns1123_label(&AttrPath::root(), name, &mut d)
        {
            return Err(d);
        }
        let path = ocr::spec_path(wb, name);
        let target = ctx.files.clone();
        let read_path = path.clone();
        let text = blocking(move || target.read(&read_path))
            .await
            .map_err(files_error)?
            .ok_or_else(|| {
                diagnostics::error(
                    AttrPath::root(),
                    "OCR stack not found",
                    format!(
                        "There is no {path} under the output directory {:?}, so workbench \
                         {wb:?} has no OCR stack {name:?} to import.",
                        ctx.config.output_dir
                    ),
                )
            })?;
        let spec = ocr::parse_spec_file(&path, &text)?;
        let target = ctx.files.clone();
        let wb_name = spec.workbench.clone();
        let domain = blocking(move || workbench_domain(&target, &wb_name))
            .await
            .map_err(files_error)??;
        let exp = expand(ctx, &spec, &domain)?;
        let target = ctx.files.clone();
        let paths: Vec<String> = exp.files.keys().cloned().collect();
        let on_disk = blocking(move || target.hashes(paths.iter().map(String::as_str))).await;
        Ok((
            spec.clone(),
            OcrStackComputed {
                files: Some(on_disk),
                ..computed(&spec, Some(&exp))
            },
        ))
    }
}
