//! `ipai_ocr_stack`: the stack's manifests and spec file under `<wb>/kubernetes/ocr-<name>/`,
//! written under the workbench's lock, then the workbench's aggregates (the top
//! `kustomization.yaml`) recomputed; unless the provider is files-only also its GPU node
//! pool, an extra pool of the workbench's DOKS cluster (a separate object, so resizing it
//! never touches the cluster).

use std::collections::{BTreeMap, BTreeSet};

use ipai_codegen::digitalocean::{PriceTable, cluster_name, estimate_monthly_cents, workbench_tag};
use ipai_codegen::expand::{expand_ocr_stack, validate_ocr_stack};
use ipai_codegen::kubernetes::ocr;
use ipai_codegen::spec::OcrStackSpec;
use ipai_codegen::{AttrPath, Diagnostics, DoObject, Expansion};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::config::Context;
use crate::diagnostics;
use crate::digitalocean::{Applier, ClusterLookup, DoState, PlanCheck, summaries};
use crate::framework::{ApplyFailure, Resource};
use crate::resources::{
    cluster_not_found, do_applier, do_error, domain_of, expansion_error, hashes_on_disk,
    manages_do, read_for_import, region_of, remove_files, split_import_id, write_files,
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
    /// Estimated monthly DigitalOcean cost of the stack's GPU node pool, in US dollars:
    /// DigitalOcean's live size prices, or the built-in list prices when the provider is
    /// `files_only`.
    pub monthly_cost_estimate: f64,
    /// The stack's GPU node pool in DigitalOcean (`<workbench>-<name>-gpu` on the
    /// workbench's cluster), by name, with the attributes kept in step (as JSON), like the
    /// workbench's `digitalocean`. Empty when the provider is `files_only` or with
    /// `gpu.enabled = false`. A pool resized in the console shows here
    /// in the next plan and apply puts it back; a pool deleted by hand is recreated.
    #[serde(default)]
    pub digitalocean: BTreeMap<String, String>,
    /// The GPU node pool's DigitalOcean id and its cluster's, saved also when an apply fails
    /// half-way, so destroy and the next apply find the pool instead of creating a twin.
    /// Known after apply while the workbench's cluster is created in the same run. Empty
    /// when the provider is `files_only`.
    #[serde(default)]
    pub digitalocean_state: Option<DoState>,
}

fn expand(ctx: &Context, spec: &OcrStackSpec, domain: &str) -> Result<Expansion, Diagnostics> {
    let renderer = ctx.renderer()?;
    expand_ocr_stack(spec, domain, &renderer).map_err(expansion_error)
}

/// The stack's DigitalOcean objects: its GPU node pool, or nothing without a GPU.
fn do_objects(spec: &OcrStackSpec) -> Result<Vec<DoObject>, Diagnostics> {
    Ok(ocr::gpu_pool(spec)
        .map_err(expansion_error)?
        .map(|e| e.digitalocean)
        .unwrap_or_default())
}

/// The computed attributes; `exp` is the expansion once the workbench's domain is known,
/// `prices` DigitalOcean's live prices with a token, the built-in ones without; `in_do`:
/// the pool is managed in DigitalOcean (not files-only).
fn computed(
    spec: &OcrStackSpec,
    exp: Option<&Expansion>,
    pool: &[DoObject],
    prices: &PriceTable,
    in_do: bool,
) -> OcrStackComputed {
    OcrStackComputed {
        id: format!("{}/{}", spec.workbench, spec.name),
        files: exp.map(Expansion::file_hashes),
        monthly_cost_estimate: estimate_monthly_cents(pool, prices) as f64 / 100.0,
        digitalocean: if in_do {
            summaries(pool)
        } else {
            BTreeMap::new()
        },
        // In DigitalOcean the ids are known after apply (the plan keeps unchanged ones).
        digitalocean_state: (!in_do).then(DoState::default),
    }
}

fn manages(c: &OcrStackComputed) -> bool {
    manages_do(&c.digitalocean, c.digitalocean_state.as_ref())
}

/// The applier with the stack's time limits, when the stack has a pool (`pool`) or its
/// state records one (`recorded`) and the provider is not files-only.
fn applier(
    ctx: &Context,
    spec: &OcrStackSpec,
    pool: &[DoObject],
    recorded: bool,
) -> Result<Option<Applier>, Diagnostics> {
    if pool.is_empty() && !recorded {
        return Ok(None);
    }
    let what = format!(
        "ipai_ocr_stack {:?}",
        format!("{}/{}", spec.workbench, spec.name)
    );
    do_applier(ctx, &what, &spec.timeouts, recorded)
}

/// The workbench's cluster must exist for the pool to go on it; at plan (`planning`) it may
/// also be planned in this run.
async fn check_cluster(
    ctx: &Context,
    a: &Applier,
    spec: &OcrStackSpec,
    planning: bool,
) -> Result<(), Diagnostics> {
    let name = cluster_name(&spec.workbench);
    let lookup = a
        .find_cluster(&name, &workbench_tag(&spec.workbench))
        .await
        .map_err(|e| {
            diagnostics::error(
                AttrPath::attr("workbench"),
                "DigitalOcean API call failed",
                format!("Looking up cluster {name:?} failed: {e}."),
            )
        })?;
    if lookup == ClusterLookup::Missing && !(planning && ctx.workbench_planned(&spec.workbench)) {
        return Err(cluster_not_found(
            AttrPath::attr("workbench"),
            &name,
            &spec.workbench,
            "",
        ));
    }
    Ok(())
}

#[async_trait::async_trait]
impl Resource for OcrStack {
    type Spec = OcrStackSpec;
    type Computed = OcrStackComputed;

    const TYPE_NAME: &'static str = "ipai_ocr_stack";
    /// DigitalOcean cannot change the node size of a pool: another GPU size is a new pool,
    /// so the stack is replaced (its pool deleted, then the new one created; the
    /// workbench's cluster stays). Node counts change in place.
    const REQUIRES_REPLACE: &'static [&'static str] = &["workbench", "name", "gpu.node_size"];

    fn validate(&self, spec: &OcrStackSpec) -> Diagnostics {
        // The hostname is checked against the workbench's domain once it is known.
        validate_ocr_stack(spec, None)
    }

    async fn plan(
        &self,
        ctx: &Context,
        spec: &OcrStackSpec,
        prior: Option<&OcrStackComputed>,
    ) -> Result<OcrStackComputed, Diagnostics> {
        let pool = do_objects(spec)?;
        let applier = applier(ctx, spec, &pool, prior.is_some_and(manages))?;
        // A workbench created in the same run has no summary yet: the files are known
        // after apply.
        let exp = match domain_of(ctx, &spec.workbench).await? {
            Ok(domain) => Some(expand(ctx, spec, &domain)?),
            Err(_) => None,
        };
        let mut prices = PriceTable::builtin();
        if let Some(a) = &applier
            && let Some(size) = spec.gpu.node_size.as_ref().filter(|_| !pool.is_empty())
        {
            check_cluster(ctx, a, spec, true).await?;
            // Read-only calls: the GPU size exists and is offered in the workbench's region.
            let region = region_of(ctx, &spec.workbench).await?;
            let check = PlanCheck {
                region: region.map(|r| (r, AttrPath::attr("workbench"))),
                sizes: vec![(size.clone(), AttrPath::attr("gpu").at("node_size"))],
                ..PlanCheck::default()
            };
            let (d, live) = a.plan_check(&check).await.map_err(do_error)?;
            if d.has_errors() {
                return Err(d);
            }
            prices = live;
        }
        let mut planned = computed(spec, exp.as_ref(), &pool, &prices, applier.is_some());
        if let Some(p) = prior
            && applier.is_some()
            && p.digitalocean == planned.digitalocean
        {
            planned.digitalocean_state = p.digitalocean_state.clone();
        }
        Ok(planned)
    }

    async fn apply(
        &self,
        ctx: &Context,
        spec: &OcrStackSpec,
        prior: Option<(&OcrStackSpec, &OcrStackComputed)>,
    ) -> Result<OcrStackComputed, ApplyFailure<OcrStackComputed>> {
        let pool = do_objects(spec)?;
        let applier = applier(ctx, spec, &pool, prior.is_some_and(|(_, c)| manages(c)))?;
        let domain = domain_of(ctx, &spec.workbench).await??;
        let exp = expand(ctx, spec, &domain)?;
        let prices = match &applier {
            Some(a) => a.prices().await.map_err(do_error)?,
            None => PriceTable::builtin(),
        };
        let mut result = computed(spec, Some(&exp), &pool, &prices, applier.is_some());
        // Until the files are written, what is on disk and known in DigitalOcean is the
        // prior state's; a failure returns it with the ids recorded so far.
        let mut partial = OcrStackComputed {
            files: prior.and_then(|(_, c)| c.files.clone()),
            digitalocean: prior
                .map(|(_, c)| c.digitalocean.clone())
                .unwrap_or_default(),
            ..result.clone()
        };
        if let Some(a) = applier {
            if !pool.is_empty() {
                check_cluster(ctx, &a, spec, false).await?;
            }
            let mut state = prior
                .and_then(|(_, c)| c.digitalocean_state.clone())
                .unwrap_or_default();
            let applied = a.apply(&pool, &mut state).await;
            partial.digitalocean_state = Some(state.clone());
            if let Err(e) = applied {
                return Err(ApplyFailure::partial(do_error(e), partial));
            }
            partial.digitalocean = result.digitalocean.clone();
            result.digitalocean_state = Some(state);
        }
        let stale: BTreeSet<String> = prior
            .and_then(|(_, c)| c.files.as_ref())
            .map(|f| f.keys().cloned().collect())
            .unwrap_or_default();
        write_files(ctx, &spec.workbench, exp.files, stale)
            .await
            .map_err(|d| ApplyFailure::partial(d, partial))?;
        Ok(result)
    }

    async fn read(
        &self,
        ctx: &Context,
        spec: &OcrStackSpec,
        state: &OcrStackComputed,
    ) -> Result<Option<OcrStackComputed>, Diagnostics> {
        let mut seen = state.clone();
        if let Some(owned) = &state.files {
            seen.files = Some(hashes_on_disk(ctx, owned.keys().cloned()).await);
        }
        // Without the applier (files-only, or no token) the recorded pool stays as it is;
        // the next plan says why it cannot be managed.
        if manages(state)
            && let Ok(Some(a)) = applier(ctx, spec, &[], true)
        {
            let mut s = state.digitalocean_state.clone().unwrap_or_default();
            seen.digitalocean = a
                .observe(&do_objects(spec)?, &mut s)
                .await
                .map_err(do_error)?;
            seen.digitalocean_state = Some(s);
        }
        Ok(Some(seen))
    }

    async fn delete(
        &self,
        ctx: &Context,
        spec: &OcrStackSpec,
        state: &OcrStackComputed,
    ) -> Result<(), Diagnostics> {
        // Removing files alone needs no token; a recorded pool needs the applier.
        if manages(state)
            && let Some(a) = applier(ctx, spec, &[], true)?
        {
            // Only the pool: the load balancers and volumes of its workloads belong to
            // the cluster, which the workbench deletes with them.
            let mut s = state.digitalocean_state.clone().unwrap_or_default();
            a.destroy(&do_objects(spec)?, &mut s)
                .await
                .map_err(do_error)?;
        }
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
        let pool = do_objects(&spec)?;
        let on_disk = hashes_on_disk(ctx, exp.files.keys().cloned()).await;
        let applier = applier(ctx, &spec, &pool, false)?;
        let mut result = computed(
            &spec,
            Some(&exp),
            &pool,
            &PriceTable::builtin(),
            applier.is_some(),
        );
        if let Some(a) = applier {
            let prices = a.prices().await.map_err(do_error)?;
            result.monthly_cost_estimate = estimate_monthly_cents(&pool, &prices) as f64 / 100.0;
            // The pool is found again by name on the workbench's cluster.
            let mut s = DoState::default();
            result.digitalocean = a.observe(&pool, &mut s).await.map_err(do_error)?;
            result.digitalocean_state = Some(s);
        }
        Ok((
            spec,
            OcrStackComputed {
                files: Some(on_disk),
                ..result
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
        let mut slow = stack("ocr.example.net", 1);
        slow.timeouts.create = Some("half an hour".into());
        let d = OcrStack.validate(&slow);
        assert_eq!(d.0[0].path, AttrPath::attr("timeouts").at("create"));
    }
}
