//! `ipai_workbench`: its DigitalOcean objects (unless the provider is files-only) and the
//! expansion's files (namespaces, network policies, the `ip_workbench` SQL,
//! `workbench.json`) under `<output_dir>/<name>/`.

use std::collections::{BTreeMap, BTreeSet};

use ipai_codegen::expand::{expand_workbench, validate_workbench, workbench_summary_path};
use ipai_codegen::spec::WorkbenchSpec;
use ipai_codegen::{AttrPath, Diagnostics, Expansion, names};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::config::Context;
use crate::diagnostics;
use crate::digitalocean::DoState;
use crate::digitalocean::apply::version_matches;
use crate::framework::{ApplyFailure, Resource};
use crate::resources::{
    self, do_error, expansion_error, hashes_on_disk, read_for_import, recorded_workbench,
    remove_files, write_files,
};
use ipai_codegen::digitalocean::PriceTable;

/// The `ipai_workbench` resource.
#[derive(Debug, Clone, Copy, Default)]
pub struct Workbench;

/// What the provider computes for a workbench.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct WorkbenchComputed {
    /// The workbench's name.
    pub id: String,
    /// SHA-256 (hex) of every generated file, keyed by its path relative to `output_dir`.
    /// A file edited or deleted by hand shows here as drift and is repaired by the next apply.
    pub files: BTreeMap<String, String>,
    /// Estimated monthly DigitalOcean cost of the workbench, in US dollars, from
    /// DigitalOcean's list prices of the node sizes and the registry tier.
    pub monthly_cost_estimate: f64,
    /// The workbench's DigitalOcean objects, by name, each with the attributes that are
    /// kept in step (as JSON). Empty when the provider is `files_only`. A change made outside Terraform (a pool resized in
    /// the console, a firewall rule removed) shows here in the next plan, and apply puts
    /// it back.
    pub digitalocean: BTreeMap<String, String>,
    /// What the workbench created or adopted in DigitalOcean: each object's id by name,
    /// and the DNS domain when the provider created it (only then does destroy delete
    /// it). Saved also when an apply fails half-way, so destroy and the next apply find
    /// everything. Empty when the provider is `files_only`.
    pub digitalocean_state: Option<DoState>,
}

/// Whether the state records anything in DigitalOcean.
fn manages_do(c: &WorkbenchComputed) -> bool {
    resources::manages_do(&c.digitalocean, c.digitalocean_state.as_ref())
}

fn expand(ctx: &Context, spec: &WorkbenchSpec) -> Result<Expansion, Diagnostics> {
    let renderer = ctx.renderer()?;
    expand_workbench(spec, &renderer).map_err(expansion_error)
}

/// What `exp` computes; `in_do`: its DigitalOcean objects are created (not files-only).
fn computed(spec: &WorkbenchSpec, exp: &Expansion, in_do: bool) -> WorkbenchComputed {
    WorkbenchComputed {
        id: spec.name.clone(),
        files: exp.file_hashes(),
        monthly_cost_estimate: exp.monthly_cost_cents as f64 / 100.0,
        digitalocean: if in_do {
            crate::digitalocean::summaries(&exp.digitalocean)
        } else {
            BTreeMap::new()
        },
        digitalocean_state: if in_do {
            None
        } else {
            Some(DoState::default())
        },
    }
}

/// Changes DigitalOcean cannot make to the live VPC and cluster (region, range, version,
/// the default pool's size), as plan diagnostics: `prior` and `planned` are summaries.
/// Replacing the workbench instead would delete the cluster with everything running on
/// it, so the plan is refused and the user decides.
fn immutable_changes(
    spec: &WorkbenchSpec,
    prior: &BTreeMap<String, String>,
    planned: &BTreeMap<String, String>,
) -> Diagnostics {
    let parse = |m: &BTreeMap<String, String>, name: &str| {
        m.get(name)
            .and_then(|s| serde_json::from_str::<serde_json::Value>(s).ok())
            .filter(serde_json::Value::is_object)
    };
    let vpc = ipai_codegen::digitalocean::vpc_name(&spec.name);
    let cluster = ipai_codegen::digitalocean::cluster_name(&spec.name);
    let c = AttrPath::attr("cluster");
    let mut changes: Vec<(AttrPath, &'static str, String, String)> = Vec::new();
    let mut note =
        |path: AttrPath, what: &'static str, old: &serde_json::Value, new: &serde_json::Value| {
            if old != new && !changes.iter().any(|(p, ..)| *p == path) {
                changes.push((path, what, old.to_string(), new.to_string()));
            }
        };
    if let (Some(old), Some(new)) = (parse(prior, &vpc), parse(planned, &vpc)) {
        note(
            AttrPath::attr("region"),
            "region",
            &old["region"],
            &new["region"],
        );
        note(
            AttrPath::attr("vpc_cidr"),
            "VPC range",
            &old["ip_range"],
            &new["ip_range"],
        );
    }
    if let (Some(old), Some(new)) = (parse(prior, &cluster), parse(planned, &cluster)) {
        note(
            AttrPath::attr("region"),
            "region",
            &old["region"],
            &new["region"],
        );
        let (o, n) = (
            old["version"].as_str().unwrap_or_default(),
            new["version"].as_str().unwrap_or_default(),
        );
        // `1.33` and its full slug `1.33.1-do.0` (or `latest`) are the same cluster.
        if !(version_matches(n, o) || version_matches(o, n)) {
            note(
                c.at("version"),
                "Kubernetes version",
                &old["version"],
                &new["version"],
            );
        }
        let size = |v: &serde_json::Value| v["default_pool"]["size"].clone();
        if !old["default_pool"].is_null() {
            note(
                c.at("node_size"),
                "default pool's node size",
                &size(&old),
                &size(&new),
            );
        }
    }
    let mut d = Diagnostics::new();
    for (path, what, old, new) in changes {
        d.error(
            path,
            format!("The {what} cannot change in place"),
            format!(
                "The workbench's DigitalOcean objects have {what} {old}; DigitalOcean cannot \
                 change it to {new} on a live VPC or cluster. It takes a new workbench (a new \
                 name, move the workloads, then remove this one); an extra pool under \
                 cluster.node_pools gives nodes of another size. Nothing was changed."
            ),
        );
    }
    d
}

/// With a token, the cost estimate uses DigitalOcean's live size prices (`/v2/sizes`)
/// instead of the built-in table.
fn priced(c: &mut WorkbenchComputed, exp: &Expansion, live: Option<&PriceTable>) {
    if let Some(prices) = live {
        c.monthly_cost_estimate =
            ipai_codegen::digitalocean::estimate_monthly_cents(&exp.digitalocean, prices) as f64
                / 100.0;
    }
}

/// The applier with the workbench's own time limits, `None` when the provider is
/// files-only; `recorded`: the state records DigitalOcean objects (see
/// [`Context::digitalocean`]).
fn do_applier(
    ctx: &Context,
    spec: &WorkbenchSpec,
    recorded: bool,
) -> Result<Option<crate::digitalocean::Applier>, Diagnostics> {
    let what = format!("ipai_workbench {:?}", spec.name);
    resources::do_applier(ctx, &what, &spec.timeouts, recorded)
}

#[async_trait::async_trait]
impl Resource for Workbench {
    type Spec = WorkbenchSpec;
    type Computed = WorkbenchComputed;

    const TYPE_NAME: &'static str = "ipai_workbench";
    const REQUIRES_REPLACE: &'static [&'static str] = &["name"];

    fn validate(&self, spec: &WorkbenchSpec) -> Diagnostics {
        validate_workbench(spec)
    }

    async fn plan(
        &self,
        ctx: &Context,
        spec: &WorkbenchSpec,
        prior: Option<&WorkbenchComputed>,
    ) -> Result<WorkbenchComputed, Diagnostics> {
        let applier = do_applier(ctx, spec, prior.is_some_and(manages_do))?;
        let exp = expand(ctx, spec)?;
        let mut live_prices = None;
        if let Some(a) = &applier {
            // Read-only calls: slugs exist, the VPC range is free.
            let check = crate::digitalocean::PlanCheck::workbench(spec);
            let (d, prices) = a.plan_check(&check).await.map_err(do_error)?;
            if d.has_errors() {
                return Err(d);
            }
            live_prices = Some(prices);
        }
        ctx.note_planned(&spec.name, spec.clone());
        let mut planned = computed(spec, &exp, applier.is_some());
        if let Some(p) = prior {
            let d = immutable_changes(spec, &p.digitalocean, &planned.digitalocean);
            if d.has_errors() {
                return Err(d);
            }
        }
        priced(&mut planned, &exp, live_prices.as_ref());
        // The ids stay as they are unless something in DigitalOcean changes (then they
        // are known after apply).
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
        spec: &WorkbenchSpec,
        prior: Option<(&WorkbenchSpec, &WorkbenchComputed)>,
    ) -> Result<WorkbenchComputed, ApplyFailure<WorkbenchComputed>> {
        let applier = do_applier(ctx, spec, prior.is_some_and(|(_, c)| manages_do(c)))?;
        let exp = expand(ctx, spec)?;
        let mut result = computed(spec, &exp, applier.is_some());
        if let Some(a) = &applier {
            let prices = a.prices().await.map_err(do_error)?;
            priced(&mut result, &exp, Some(&prices));
        }
        // Until the files are written, what is on disk and known in DigitalOcean is the
        // prior state's; a failure returns it with the ids recorded so far.
        let mut partial = WorkbenchComputed {
            files: prior.map(|(_, c)| c.files.clone()).unwrap_or_default(),
            digitalocean: prior
                .map(|(_, c)| c.digitalocean.clone())
                .unwrap_or_default(),
            ..result.clone()
        };
        if let Some(a) = &applier {
            let mut state = prior
                .and_then(|(_, c)| c.digitalocean_state.clone())
                .unwrap_or_default();
            let applied = a.apply(&exp.digitalocean, &mut state).await;
            partial.digitalocean_state = Some(state.clone());
            if let Err(e) = applied {
                return Err(ApplyFailure::partial(do_error(e), partial));
            }
            partial.digitalocean = result.digitalocean.clone();
            result.digitalocean_state = Some(state);
        }
        let stale: BTreeSet<String> = prior
            .filter(|(p, _)| p.name == spec.name)
            .map(|(_, c)| c.files.keys().cloned().collect())
            .unwrap_or_default();
        write_files(ctx, &spec.name, exp.files, stale)
            .await
            .map_err(|d| ApplyFailure::partial(d, partial))?;
        Ok(result)
    }

    async fn read(
        &self,
        ctx: &Context,
        spec: &WorkbenchSpec,
        state: &WorkbenchComputed,
    ) -> Result<Option<WorkbenchComputed>, Diagnostics> {
        let files = hashes_on_disk(ctx, state.files.keys().cloned()).await;
        let mut digitalocean = state.digitalocean.clone();
        let mut digitalocean_state = state.digitalocean_state.clone();
        // Without the applier (files-only, or no token) the recorded objects stay as they
        // are; the next plan says why they cannot be managed.
        if manages_do(state)
            && let Ok(Some(a)) = do_applier(ctx, spec, true)
        {
            let exp = expand(ctx, spec)?;
            let mut s = state.digitalocean_state.clone().unwrap_or_default();
            digitalocean = a
                .observe(&exp.digitalocean, &mut s)
                .await
                .map_err(do_error)?;
            digitalocean_state = Some(s);
        }
        Ok(Some(WorkbenchComputed {
            files,
            digitalocean,
            digitalocean_state,
            ..state.clone()
        }))
    }

    async fn delete(
        &self,
        ctx: &Context,
        spec: &WorkbenchSpec,
        state: &WorkbenchComputed,
    ) -> Result<(), Diagnostics> {
        // Removing files alone needs no token; recorded objects need the applier.
        if manages_do(state)
            && let Some(a) = do_applier(ctx, spec, true)?
        {
            let exp = expand(ctx, spec)?;
            let mut s = state.digitalocean_state.clone().unwrap_or_default();
            a.destroy(&exp.digitalocean, &mut s)
                .await
                .map_err(do_error)?;
        }
        remove_files(ctx, &spec.name, state.files.keys().cloned().collect()).await
    }

    async fn import(
        &self,
        ctx: &Context,
        id: &str,
    ) -> Result<(WorkbenchSpec, WorkbenchComputed), Diagnostics> {
        let mut d = Diagnostics::new();
        if !names::dns1123_label(&AttrPath::root(), id, &mut d) {
            return Err(d);
        }
        let summary_path = workbench_summary_path(id);
        let text = read_for_import(ctx, &summary_path, &format!("workbench {id:?}")).await?;
        let spec = recorded_workbench(&text).ok_or_else(|| {
                diagnostics::error(
                    AttrPath::root(),
                    "Unreadable workbench summary",
                    format!("{summary_path} does not hold a workbench spec under \"spec\"; it was not written by this provider."),
                )
            })?;
        let exp = expand(ctx, &spec)?;
        let on_disk = hashes_on_disk(ctx, exp.files.keys().cloned()).await;
        let applier = do_applier(ctx, &spec, false)?;
        let mut result = computed(&spec, &exp, applier.is_some());
        if let Some(a) = &applier {
            let prices = a.prices().await.map_err(do_error)?;
            priced(&mut result, &exp, Some(&prices));
            let mut s = DoState::default();
            result.digitalocean = a
                .observe(&exp.digitalocean, &mut s)
                .await
                .map_err(do_error)?;
            s.claim_all();
            result.digitalocean_state = Some(s);
        }
        Ok((
            spec.clone(),
            WorkbenchComputed {
                files: on_disk,
                ..result
            },
        ))
    }
}
