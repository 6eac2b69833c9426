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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::testing;
    use ipai_codegen::AttrPath;

    fn stack(hostname: &str, replicas: i64) -> OcrStackSpec {
        serde_json::from_value(serde_json::json!({
            "workbench": "wb",
            "name": "paddle",
            "image": "registry.digitalocean.com/wb/paddleocr-vl:1.0.0",
            "adapter_image": "registry.digitalocean.com/wb/ocr-adapter:1.0.0",
            "hostname": hostname,
            "replicas": replicas,
        }))
        .unwrap()
    }

    const INGRESS: &str = "wb/kubernetes/ocr-paddle/ingress.yaml";

    #[tokio::test]
    async fn without_its_workbench_files_are_known_after_apply_and_apply_refuses() {
        let tmp = tempfile::tempdir().unwrap();
        let ctx = testing::context(tmp.path());
        let s = stack("ocr.example.net", 1);
        let planned = OcrStack.plan(&ctx, &s, None).await.unwrap();
        assert_eq!(planned.files, None);
        assert!(planned.monthly_cost_estimate > 0.0, "the GPU pool costs");
        let d = OcrStack.apply(&ctx, &s, None).await.unwrap_err();
        assert_eq!(d.diagnostics.0[0].path, AttrPath::attr("workbench"));
        assert!(testing::tree(tmp.path()).is_empty(), "nothing written");
    }

    #[tokio::test]
    async fn apply_drift_repair_import_delete() {
        let tmp = tempfile::tempdir().unwrap();
        let ctx = testing::context(tmp.path());
        testing::workbench(&ctx, "wb").await;
        let s = stack("ocr.example.net", 1);
        let planned = OcrStack.plan(&ctx, &s, None).await.unwrap();
        let state = OcrStack.apply(&ctx, &s, None).await.unwrap();
        assert_eq!(planned, state);
        let owned = state.files.clone().unwrap();
        assert!(owned.contains_key(INGRESS), "{owned:?}");
        let top =
            std::fs::read_to_string(tmp.path().join("wb/kubernetes/kustomization.yaml")).unwrap();
        assert!(top.contains("ocr-paddle"), "{top}");
        assert_eq!(
            OcrStack.read(&ctx, &s, &state).await.unwrap(),
            Some(state.clone())
        );

        let ingress = std::fs::read_to_string(tmp.path().join(INGRESS)).unwrap();
        std::fs::write(tmp.path().join(INGRESS), "edited\n").unwrap();
        let seen = OcrStack.read(&ctx, &s, &state).await.unwrap().unwrap();
        assert_ne!(seen, state, "a hand edit is drift");
        assert_eq!(
            OcrStack.apply(&ctx, &s, Some((&s, &seen))).await.unwrap(),
            state
        );
        assert_eq!(
            std::fs::read_to_string(tmp.path().join(INGRESS)).unwrap(),
            ingress
        );

        let (spec, imported) = OcrStack.import(&ctx, "wb/paddle").await.unwrap();
        assert_eq!((spec, imported), (s.clone(), state.clone()));
        assert!(OcrStack.import(&ctx, "wb/other").await.is_err());

        OcrStack.delete(&ctx, &s, &state).await.unwrap();
        let left = testing::tree(tmp.path());
        assert!(!left.keys().any(|p| p.contains("ocr-paddle")), "{left:?}");
        assert!(
            !left["wb/kubernetes/kustomization.yaml"].contains("ocr-paddle"),
            "the top kustomization follows"
        );
    }

    #[tokio::test]
    async fn plan_refuses_a_hostname_outside_the_domain_and_negative_replicas() {
        let tmp = tempfile::tempdir().unwrap();
        let ctx = testing::context(tmp.path());
        testing::workbench(&ctx, "wb").await;
        let d = OcrStack
            .plan(&ctx, &stack("ocr.elsewhere.org", 1), None)
            .await
            .unwrap_err();
        assert_eq!(d.0[0].path, AttrPath::attr("hostname"));
        let d = OcrStack.validate(&stack("ocr.example.net", -1));
        assert_eq!(d.0[0].path, AttrPath::attr("replicas"));
    }
}
