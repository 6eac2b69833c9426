//! The resource types, one module each. To add one: implement
//! [`crate::framework::Resource`] for its codegen spec (or
//! [`crate::framework::EphemeralResource`]) and add it to [`registry`].

pub mod kubeconfig;
pub mod litellm_route;
pub mod medallion;
pub mod ocr_stack;
pub mod workbench;

use std::collections::{BTreeMap, BTreeSet};

use ipai_codegen::expand::workbench_summary_path;
use ipai_codegen::{AttrPath, Diagnostics, names};

use ipai_codegen::digitalocean::workbench_tag;
use ipai_codegen::spec::WorkbenchSpec;
use ipai_codegen::spec::workbench::TimeoutsSpec;

use crate::config::Context;
use crate::diagnostics;
use crate::digitalocean::{Applier, ApplyError, DoState, Timeouts};
use crate::files::{FilesError, FilesTarget};
use crate::framework::{Registry, register, register_ephemeral};

/// Every resource type the provider serves.
pub fn registry() -> Registry {
    Registry::of(vec![
        register(workbench::Workbench),
        register(medallion::MedallionLayer),
        register(litellm_route::LitellmRoute),
        register(ocr_stack::OcrStack),
    ])
    .with_ephemeral(vec![register_ephemeral(kubeconfig::Kubeconfig)])
}

/// A files-target failure as a diagnostic.
pub(crate) fn files_error(e: FilesError) -> Diagnostics {
    diagnostics::error(
        AttrPath::root(),
        "Writing the generated files failed",
        format!("{e}. Files already written are complete; the next apply finishes the rest."),
    )
}

/// A codegen failure as diagnostics (a spec error keeps its attribute paths).
pub(crate) fn expansion_error(e: ipai_codegen::Error) -> Diagnostics {
    match e {
        ipai_codegen::Error::Invalid(d) => d,
        other => diagnostics::error(
            AttrPath::root(),
            "Expansion failed",
            format!("Generating the files failed: {other}."),
        ),
    }
}

/// Field `field` (`domain`, `region`) of workbench `name`'s `workbench.json`; `None` when
/// the workbench has not been applied (yet).
fn workbench_field(
    files: &FilesTarget,
    name: &str,
    field: &str,
) -> Result<Option<String>, FilesError> {
    Ok(files
        .read(&workbench_summary_path(name))?
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| v[field].as_str().map(str::to_owned)))
}

/// The spec recorded in a `workbench.json` (under `"spec"`); `None` when the text holds
/// none, i.e. it was not written by this provider.
pub(crate) fn recorded_workbench(summary: &str) -> Option<WorkbenchSpec> {
    serde_json::from_str::<serde_json::Value>(summary)
        .ok()
        .and_then(|v| serde_json::from_value(v.get("spec")?.clone()).ok())
}

/// The domain of workbench `name` from its `workbench.json`; a diagnostic on `workbench`
/// when the workbench has not been applied (yet).
pub(crate) fn workbench_domain(
    files: &FilesTarget,
    name: &str,
) -> Result<Result<String, Diagnostics>, FilesError> {
    let path = workbench_summary_path(name);
    let domain = workbench_field(files, name, "domain")?;
    Ok(domain.ok_or_else(|| {
        diagnostics::error(
            AttrPath::attr("workbench"),
            "Unknown workbench",
            format!(
                "There is no {path} under the output directory: apply the ipai_workbench \
                 {name:?} first (reference it as ipai_workbench.<name>.name so Terraform orders it)."
            ),
        )
    }))
}

/// The domain of workbench `name` (see [`workbench_domain`]), read off the async workers.
pub(crate) async fn domain_of(
    ctx: &Context,
    name: &str,
) -> Result<Result<String, Diagnostics>, Diagnostics> {
    let target = ctx.files.clone();
    let name = name.to_owned();
    blocking(move || workbench_domain(&target, &name))
        .await
        .map_err(files_error)
}

/// The region of workbench `name`: as planned in this run, else from its `workbench.json`;
/// `None` when neither is there.
pub(crate) async fn region_of(ctx: &Context, name: &str) -> Result<Option<String>, Diagnostics> {
    if let Some(r) = ctx.planned_region(name) {
        return Ok(Some(r));
    }
    let target = ctx.files.clone();
    let name = name.to_owned();
    blocking(move || workbench_field(&target, &name, "region"))
        .await
        .map_err(files_error)
}

// ---- DigitalOcean, shared by the resources that own objects there ----------------------

/// The DigitalOcean applier for `what` (e.g. `ipai_workbench "acc"`) with its own
/// `timeouts`: `None` when the provider is files-only, a diagnostic without a token;
/// `recorded`: its state records objects there (see [`Context::digitalocean`]).
pub(crate) fn do_applier(
    ctx: &Context,
    what: &str,
    timeouts: &TimeoutsSpec,
    recorded: bool,
) -> Result<Option<Applier>, Diagnostics> {
    Ok(ctx.digitalocean(what, recorded)?.cloned().map(|mut a| {
        a.timeouts = Timeouts::from_spec(timeouts);
        a
    }))
}

/// A failed DigitalOcean reconciliation as a diagnostic.
pub(crate) fn do_error(e: ApplyError) -> Diagnostics {
    diagnostics::error(
        AttrPath::root(),
        format!("DigitalOcean: {}", e.summary),
        format!(
            "{} ({}). Objects already created are tagged ipai-workbench:<name> and are found \
             again by the next apply or destroy.",
            e.detail, e.object
        ),
    )
}

/// Whether a state records anything in DigitalOcean (its summaries or its ids).
pub(crate) fn manages_do(summaries: &BTreeMap<String, String>, state: Option<&DoState>) -> bool {
    !summaries.is_empty() || state.is_some_and(|s| !s.is_empty())
}

/// A diagnostic on `at`: DigitalOcean has no cluster `name` tagged as `workbench`'s;
/// `hint` adds what else the user can do.
pub(crate) fn cluster_not_found(
    at: AttrPath,
    name: &str,
    workbench: &str,
    hint: &str,
) -> Diagnostics {
    diagnostics::error(
        at,
        "Cluster not found",
        format!(
            "DigitalOcean has no Kubernetes cluster {name:?} tagged {:?}. Apply the \
             ipai_workbench {workbench:?} with a DigitalOcean token first (reference it as \
             ipai_workbench.<name>.name so Terraform orders it){hint}.",
            workbench_tag(workbench),
        ),
    )
}

/// Under `workbench`'s lock: makes `change` to its files, then recomputes its aggregates.
async fn change_files(
    ctx: &Context,
    workbench: &str,
    change: impl FnOnce(&FilesTarget) -> Result<(), FilesError> + Send + 'static,
) -> Result<(), Diagnostics> {
    let renderer = ctx.renderer()?;
    let target = ctx.files.clone();
    let wb = workbench.to_owned();
    blocking(move || {
        target.locked(&wb, |t| {
            change(t)?;
            t.refresh_aggregates(&wb, &renderer)
        })
    })
    .await
    .map_err(files_error)
}

/// Writes `files` of `workbench` and removes the `stale` ones `files` no longer has.
pub(crate) async fn write_files(
    ctx: &Context,
    workbench: &str,
    files: BTreeMap<String, String>,
    stale: BTreeSet<String>,
) -> Result<(), Diagnostics> {
    change_files(ctx, workbench, move |t| t.sync(&files, &stale)).await
}

/// Removes the `owned` files of `workbench` and the directories left empty.
pub(crate) async fn remove_files(
    ctx: &Context,
    workbench: &str,
    owned: Vec<String>,
) -> Result<(), Diagnostics> {
    change_files(ctx, workbench, move |t| {
        t.remove(owned.iter().map(String::as_str))
    })
    .await
}

/// Hex SHA-256 of each of `paths` as it is on disk now (missing files left out, so a
/// deleted file shows as drift).
pub(crate) async fn hashes_on_disk(
    ctx: &Context,
    paths: impl IntoIterator<Item = String>,
) -> BTreeMap<String, String> {
    let target = ctx.files.clone();
    let paths: Vec<String> = paths.into_iter().collect();
    blocking(move || target.hashes(paths.iter().map(String::as_str))).await
}

/// The generated file `path` an import rebuilds its state from; `what` names the missing
/// object in the diagnostic (e.g. `OCR stack "paddle" of workbench "wb"`).
pub(crate) async fn read_for_import(
    ctx: &Context,
    path: &str,
    what: &str,
) -> Result<String, Diagnostics> {
    let target = ctx.files.clone();
    let read_path = path.to_owned();
    blocking(move || target.read(&read_path))
        .await
        .map_err(files_error)?
        .ok_or_else(|| {
            diagnostics::error(
                AttrPath::root(),
                "Nothing to import",
                format!(
                    "There is no {path} under the output directory {:?}, so there is no \
                     {what} to import. Check the id and the provider's output_dir.",
                    ctx.config.output_dir
                ),
            )
        })
}

/// Splits an import id `<workbench>/<name>`; `example` shows the form in the diagnostic.
/// The workbench must be a DNS-1123 label, the name a DNS-1123 subdomain.
pub(crate) fn split_import_id<'a>(
    id: &'a str,
    example: &str,
) -> Result<(&'a str, &'a str), Diagnostics> {
    let (wb, name) = id.split_once('/').ok_or_else(|| {
        diagnostics::error(
            AttrPath::root(),
            "Invalid import id",
            format!("{id:?} is not of the form {example}."),
        )
    })?;
    let mut d = Diagnostics::new();
    if !names::dns1123_label(&AttrPath::root(), wb, &mut d)
        || !names::dns1123_subdomain(&AttrPath::root(), name, &mut d)
    {
        return Err(d);
    }
    Ok((wb, name))
}

/// Runs blocking file-system work off the async workers; a panic inside stays a panic
/// (the server turns it into a diagnostic).
pub(crate) async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    match tokio::task::spawn_blocking(f).await {
        Ok(v) => v,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

/// What the resources' unit tests share: a provider writing to a temporary directory, and
/// a workbench applied there.
#[cfg(test)]
pub(crate) mod testing {
    use crate::config::{Context, ProviderConfig};
    use crate::framework::Resource;

    /// A files-only provider writing under `dir`.
    pub fn context(dir: &std::path::Path) -> Context {
        let config: ProviderConfig = serde_json::from_value(serde_json::json!({
            "output_dir": dir.display().to_string(),
            "files_only": true,
        }))
        .unwrap();
        Context::configure(config).unwrap()
    }

    /// Applies workbench `name` with domain `example.net`.
    pub async fn workbench(ctx: &Context, name: &str) {
        let spec =
            serde_json::from_value(serde_json::json!({ "name": name, "domain": "example.net" }))
                .unwrap();
        super::workbench::Workbench
            .apply(ctx, &spec, None)
            .await
            .unwrap();
    }

    /// Every file under `dir` with its contents, keyed by its relative path.
    pub fn tree(dir: &std::path::Path) -> std::collections::BTreeMap<String, String> {
        let t = crate::files::FilesTarget::new(dir.to_path_buf());
        std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flat_map(|e| {
                let name = e.unwrap().file_name().to_string_lossy().into_owned();
                t.workbench_files(&name).unwrap()
            })
            .collect()
    }
}
