//! `ipai_litellm_route` on the files target. A route owns one file, its fragment
//! `<wb>/kubernetes/litellm/routes/<model_name>.yaml`; the gateway (the merged
//! `config.yaml` ConfigMap, Deployment, Service, Ingress, HPA, PDB) is an aggregate that
//! every write recomputes from all fragments present, under the workbench's lock. The
//! gateway disappears with the last route.

use std::collections::{BTreeMap, BTreeSet};

use ipai_codegen::kubernetes::litellm::{
    self, UnknownFallbacks, fragment, fragment_path, parse_fragment, validate_with,
};
use ipai_codegen::spec::LitellmRouteSpec;
use ipai_codegen::{AttrPath, Diagnostics, sha256_hex};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::config::Context;
use crate::diagnostics;
use crate::files::{FilesError, FilesTarget};
use crate::framework::{ApplyFailure, Resource};
use crate::resources::{
    blocking, files_error, hashes_on_disk, read_for_import, split_import_id, workbench_domain,
};

/// The `ipai_litellm_route` resource.
#[derive(Debug, Clone, Copy, Default)]
pub struct LitellmRoute;

/// What the provider computes for a route.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LitellmRouteComputed {
    /// `<workbench>/<model_name>`, also the import id.
    pub id: String,
    /// SHA-256 (hex) of the route's fragment, keyed by its path relative to `output_dir`.
    /// A fragment edited or deleted by hand shows here as drift and is repaired by the next
    /// apply.
    pub files: BTreeMap<String, String>,
    /// Gateway files shared by the workbench's routes (the `config.yaml` ConfigMap,
    /// Deployment, Service, Ingress, HPA, PDB, kustomization) whose contents differ from
    /// what the routes generate: edited or deleted by hand. Empty when in step; apply
    /// rewrites them.
    #[serde(default)]
    pub gateway_drift: Vec<String>,
}

fn computed(spec: &LitellmRouteSpec) -> Result<LitellmRouteComputed, Diagnostics> {
    let (path, text) = fragment(spec).map_err(|e| {
        diagnostics::error(
            AttrPath::root(),
            "Route fragment failed",
            format!("Serialising the route failed: {e}."),
        )
    })?;
    Ok(LitellmRouteComputed {
        id: format!("{}/{}", spec.workbench, spec.model_name),
        files: BTreeMap::from([(path, sha256_hex(text.as_bytes()))]),
        gateway_drift: Vec::new(),
    })
}

/// The routes whose fragments are under the workbench's `routes/` directory, except the
/// one at `except`; unreadable fragments are diagnostics.
fn routes_on_disk(
    files: &FilesTarget,
    workbench: &str,
    except: &str,
) -> Result<Result<Vec<LitellmRouteSpec>, Diagnostics>, FilesError> {
    let dir = format!("{}/routes", litellm::dir(workbench));
    let abs = files.path_of(&dir)?;
    let entries = match std::fs::read_dir(&abs) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Ok(Vec::new())),
        Err(source) => {
            return Err(FilesError::Io {
                path: abs.display().to_string(),
                source,
            });
        }
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".yaml"))
        .collect();
    names.sort();
    let mut routes = Vec::new();
    let mut d = Diagnostics::new();
    for name in names {
        let rel = format!("{dir}/{name}");
        if rel == except {
            continue;
        }
        if let Some(text) = files.read(&rel)? {
            match parse_fragment(&rel, &text) {
                Ok(r) => routes.push(r),
                Err(e) => d.extend(e),
            }
        }
    }
    Ok(d.into_result(routes))
}

#[async_trait::async_trait]
impl Resource for LitellmRoute {
    type Spec = LitellmRouteSpec;
    type Computed = LitellmRouteComputed;

    const TYPE_NAME: &'static str = "ipai_litellm_route";
    const REQUIRES_REPLACE: &'static [&'static str] = &["workbench", "model_name"];

    fn validate(&self, spec: &LitellmRouteSpec) -> Diagnostics {
        validate_with(spec, &[], UnknownFallbacks::Allowed)
    }

    async fn plan(
        &self,
        ctx: &Context,
        spec: &LitellmRouteSpec,
        prior: Option<&LitellmRouteComputed>,
    ) -> Result<LitellmRouteComputed, Diagnostics> {
        let result = computed(spec)?;
        let own = fragment_path(&spec.workbench, &spec.model_name);
        let target = ctx.files.clone();
        let (wb, own2) = (spec.workbench.clone(), own.clone());
        let (others, existing) = blocking(move || {
            let others = routes_on_disk(&target, &wb, &own2)?;
            Ok::<_, FilesError>((others, target.read(&own2)?))
        })
        .await
        .map_err(files_error)?;
        // Fallbacks to routes created in the same run are checked when this one is applied.
        let d = validate_with(spec, &others?, UnknownFallbacks::Allowed);
        if d.has_errors() {
            return Err(d);
        }
        if prior.is_none()
            && let Some(text) = existing
            && parse_fragment(&own, &text).is_ok_and(|r| &r != spec)
        {
            return Err(diagnostics::error(
                AttrPath::attr("model_name"),
                "Route already exists",
                format!(
                    "{own} already routes {:?} with other settings: another configuration \
                     manages it. Import it (terraform import ADDRESS {}) or pick another \
                     model_name.",
                    spec.model_name, result.id
                ),
            ));
        }
        Ok(result)
    }

    async fn apply(
        &self,
        ctx: &Context,
        spec: &LitellmRouteSpec,
        prior: Option<(&LitellmRouteSpec, &LitellmRouteComputed)>,
    ) -> Result<LitellmRouteComputed, ApplyFailure<LitellmRouteComputed>> {
        let result = computed(spec)?;
        let (path, text) = fragment(spec).map_err(|e| {
            diagnostics::error(AttrPath::root(), "Route fragment failed", e.to_string())
        })?;
        let stale: BTreeSet<String> = prior
            .map(|(_, c)| c.files.keys().cloned().collect())
            .unwrap_or_default();
        let renderer = ctx.renderer()?;
        let target = ctx.files.clone();
        let spec = spec.clone();
        blocking(move || {
            let wb = spec.workbench.clone();
            target.locked(&wb, |t| {
                if let Err(d) = workbench_domain(t, &wb)? {
                    return Ok(Err(d));
                }
                let others = match routes_on_disk(t, &wb, &path)? {
                    Ok(o) => o,
                    Err(d) => return Ok(Err(d)),
                };
                let d = litellm::validate(&spec, &others);
                if d.has_errors() {
                    return Ok(Err(d));
                }
                t.sync(&BTreeMap::from([(path, text)]), &stale)?;
                t.refresh_aggregates(&wb, &renderer)?;
                Ok(Ok(()))
            })
        })
        .await
        .map_err(files_error)??;
        Ok(result)
    }

    async fn read(
        &self,
        ctx: &Context,
        spec: &LitellmRouteSpec,
        state: &LitellmRouteComputed,
    ) -> Result<Option<LitellmRouteComputed>, Diagnostics> {
        let files = hashes_on_disk(ctx, state.files.keys().cloned()).await;
        let renderer = ctx.renderer()?;
        let target = ctx.files.clone();
        let wb = spec.workbench.clone();
        let gateway = format!("{}/", litellm::dir(&wb));
        let drift = blocking(move || target.aggregate_drift(&wb, &renderer))
            .await
            .map_err(files_error)?;
        Ok(Some(LitellmRouteComputed {
            files,
            gateway_drift: drift
                .into_iter()
                .filter(|p| p.starts_with(&gateway))
                .collect(),
            ..state.clone()
        }))
    }

    async fn delete(
        &self,
        ctx: &Context,
        spec: &LitellmRouteSpec,
        state: &LitellmRouteComputed,
    ) -> Result<(), Diagnostics> {
        let renderer = ctx.renderer()?;
        let target = ctx.files.clone();
        let owned: Vec<String> = state.files.keys().cloned().collect();
        let spec = spec.clone();
        blocking(move || {
            let wb = spec.workbench.clone();
            let own = fragment_path(&wb, &spec.model_name);
            target.locked(&wb, |t| {
                let others = routes_on_disk(t, &wb, &own)?.unwrap_or_default();
                if let Some(user) = others
                    .iter()
                    .find(|o| o.fallbacks.contains(&spec.model_name))
                {
                    return Ok(Err(diagnostics::error(
                        AttrPath::attr("model_name"),
                        "Route is still a fallback",
                        format!(
                            "Route {:?} falls back to {:?}; remove it from that route's \
                             fallbacks first (referencing this route's model_name makes \
                             Terraform order this for you).",
                            user.model_name, spec.model_name
                        ),
                    )));
                }
                t.remove(owned.iter().map(String::as_str))?;
                t.refresh_aggregates(&wb, &renderer)?;
                Ok(Ok(()))
            })
        })
        .await
        .map_err(files_error)?
    }

    async fn import(
        &self,
        ctx: &Context,
        id: &str,
    ) -> Result<(LitellmRouteSpec, LitellmRouteComputed), Diagnostics> {
        let (wb, model) =
            split_import_id(id, "<workbench>/<model_name>, e.g. insightpulse/gpt-4o")?;
        let path = fragment_path(wb, model);
        let text =
            read_for_import(ctx, &path, &format!("route {model:?} of workbench {wb:?}")).await?;
        let spec = parse_fragment(&path, &text)?;
        let on_disk = hashes_on_disk(ctx, [path]).await;
        Ok((
            spec.clone(),
            LitellmRouteComputed {
                files: on_disk,
                ..computed(&spec)?
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::testing;

    fn route(model: &str, fallbacks: &[&str], rpm: i64) -> LitellmRouteSpec {
        serde_json::from_value(serde_json::json!({
            "workbench": "wb",
            "model_name": model,
            "targets": [{ "model": format!("openai/{model}"), "api_key_env": "OPENAI_API_KEY", "rpm": rpm }],
            "fallbacks": fallbacks,
        }))
        .unwrap()
    }

    const DEPLOYMENT: &str = "wb/kubernetes/litellm/deployment.yaml";
    const CONFIGMAP: &str = "wb/kubernetes/litellm/configmap.yaml";

    #[tokio::test]
    async fn apply_read_update_import_delete() {
        let tmp = tempfile::tempdir().unwrap();
        let ctx = testing::context(tmp.path());
        testing::workbench(&ctx, "wb").await;
        let r = LitellmRoute;
        let b = route("claude", &[], 7);
        let a = route("gpt-4o", &["claude"], 10);
        let b_state = r.apply(&ctx, &b, None).await.unwrap();
        let planned = r.plan(&ctx, &a, None).await.unwrap();
        let a_state = r.apply(&ctx, &a, None).await.unwrap();
        assert_eq!(planned, a_state, "apply returns what plan computed");
        assert!(a_state.gateway_drift.is_empty());
        let cm = std::fs::read_to_string(tmp.path().join(CONFIGMAP)).unwrap();
        assert!(
            cm.contains("\"gpt-4o\"") && cm.contains("\"claude\""),
            "{cm}"
        );
        assert_eq!(
            r.read(&ctx, &a, &a_state).await.unwrap(),
            Some(a_state.clone())
        );

        // A hand edit of the gateway is drift on every route; applying any route repairs it.
        let deployment = std::fs::read_to_string(tmp.path().join(DEPLOYMENT)).unwrap();
        std::fs::write(tmp.path().join(DEPLOYMENT), "edited\n").unwrap();
        let seen = r.read(&ctx, &b, &b_state).await.unwrap().unwrap();
        assert_eq!(seen.gateway_drift, [DEPLOYMENT]);
        assert_eq!(
            seen.files, b_state.files,
            "the fragment itself is untouched"
        );
        r.apply(&ctx, &b, Some((&b, &seen))).await.unwrap();
        assert_eq!(
            std::fs::read_to_string(tmp.path().join(DEPLOYMENT)).unwrap(),
            deployment
        );

        // An update changes the merged config and the checksum that rolls the pods.
        let a2 = route("gpt-4o", &["claude"], 99);
        let a2_state = r.apply(&ctx, &a2, Some((&a, &a_state))).await.unwrap();
        assert_ne!(a2_state.files, a_state.files);
        let cm2 = std::fs::read_to_string(tmp.path().join(CONFIGMAP)).unwrap();
        assert!(
            cm2.contains("rpm: 99") && !cm2.contains("rpm: 10\n"),
            "{cm2}"
        );
        assert_ne!(
            std::fs::read_to_string(tmp.path().join(DEPLOYMENT)).unwrap(),
            deployment,
            "checksum annotation follows the config"
        );

        let (spec, state) = r.import(&ctx, "wb/gpt-4o").await.unwrap();
        assert_eq!((spec, state), (a2.clone(), a2_state.clone()));
        assert!(r.import(&ctx, "wb/missing").await.is_err());
        assert!(r.import(&ctx, "no-slash").await.is_err());

        // A route still used as a fallback is not deleted, and nothing changes.
        let before = testing::tree(tmp.path());
        let refused = r.delete(&ctx, &b, &b_state).await.unwrap_err();
        assert_eq!(refused.0[0].path, AttrPath::attr("model_name"));
        assert_eq!(testing::tree(tmp.path()), before);
        r.delete(&ctx, &a2, &a2_state).await.unwrap();
        r.delete(&ctx, &b, &b_state).await.unwrap();
        assert!(
            !tmp.path().join("wb/kubernetes/litellm").exists(),
            "the gateway goes with the last route"
        );
    }

    #[tokio::test]
    async fn plan_refuses_cycles_and_a_route_managed_elsewhere() {
        let tmp = tempfile::tempdir().unwrap();
        let ctx = testing::context(tmp.path());
        testing::workbench(&ctx, "wb").await;
        let r = LitellmRoute;
        let b = route("claude", &[], 10);
        let b_state = r.apply(&ctx, &b, None).await.unwrap();
        r.apply(&ctx, &route("gpt-4o", &["claude"], 10), None)
            .await
            .unwrap();
        let before = testing::tree(tmp.path());
        let cyclic = route("claude", &["gpt-4o"], 10);
        let d = r.plan(&ctx, &cyclic, Some(&b_state)).await.unwrap_err();
        assert_eq!(d.0[0].path, AttrPath::attr("fallbacks").index(0));
        let d = r
            .apply(&ctx, &cyclic, Some((&b, &b_state)))
            .await
            .unwrap_err();
        assert!(d.diagnostics.has_errors() && d.partial.is_none());
        let d = r
            .plan(&ctx, &route("claude", &[], 20), None)
            .await
            .unwrap_err();
        assert_eq!(d.0[0].summary, "Route already exists");
        assert_eq!(testing::tree(tmp.path()), before, "nothing written");
    }
}
