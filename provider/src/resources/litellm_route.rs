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
        _spec: &LitellmRouteSpec,
        state: &LitellmRouteComputed,
    ) -> Result<Option<LitellmRouteComputed>, Diagnostics> {
        let files = hashes_on_disk(ctx, state.files.keys().cloned()).await;
        Ok(Some(LitellmRouteComputed {
            files,
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
