//! The resource types, one module each. To add one: implement
//! [`crate::framework::Resource`] for its codegen spec and add it to [`registry`].

pub mod litellm_route;
pub mod medallion;
pub mod ocr_stack;
pub mod workbench;

use ipai_codegen::expand::workbench_summary_path;
use ipai_codegen::{AttrPath, Diagnostics};

use crate::diagnostics;
use crate::files::{FilesError, FilesTarget};
use crate::framework::{Registry, register};

/// Every resource type the provider serves.
pub fn registry() -> Registry {
    Registry::of(vec![
        register(workbench::Workbench),
        register(medallion::MedallionLayer),
        register(litellm_route::LitellmRoute),
        register(ocr_stack::OcrStack),
    ])
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

/// The domain of workbench `name` from its `workbench.json`; a diagnostic on `workbench`
/// when the workbench has not been applied (yet).
pub(crate) fn workbench_domain(
    files: &FilesTarget,
    name: &str,
) -> Result<Result<String, Diagnostics>, FilesError> {
    let path = workbench_summary_path(name);
    let domain = files
        .read(&path)?
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| v["domain"].as_str().map(str::to_owned));
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

/// Runs blocking file-system work off the async workers; a panic inside stays a panic
/// (the server turns it into a diagnostic).
pub(crate) async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    match tokio::task::spawn_blocking(f).await {
        Ok(v) => v,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}
