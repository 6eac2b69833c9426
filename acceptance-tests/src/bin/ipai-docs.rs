//! Regenerates `docs/index.md`, `docs/resources/<name>.md` and
//! `docs/ephemeral-resources/<name>.md` from the provider's schema
//! (`terraform providers schema -json` against the local build) and `examples/`.
//! Run through `scripts/docs.sh`; CI fails when the result differs from what is committed.

use anyhow::{Context, Result, anyhow};
use ipai_acceptance_tests::docs::{self, PageKind};
use ipai_acceptance_tests::terraform::{PROVIDER_SOURCE, Workspace, repo_root, required_providers};

fn main() -> Result<()> {
    let ws = Workspace::new()?;
    ws.write_config(&required_providers())?;
    let run = ws.run_ok(&["providers", "schema", "-json"])?;
    let all: serde_json::Value =
        serde_json::from_str(&run.stdout).with_context(|| format!("parsing the schema:\n{run}"))?;
    let schema = all["provider_schemas"]
        .as_object()
        .and_then(|schemas| {
            schemas
                .iter()
                .find(|(address, _)| address.ends_with(&format!("/{PROVIDER_SOURCE}")))
        })
        .map(|(_, schema)| schema)
        .ok_or_else(|| anyhow!("terraform reported no schema for {PROVIDER_SOURCE}"))?;

    let pages = docs::render(schema, &repo_root().join("examples"))?;
    let docs_dir = repo_root().join("docs");
    for kind in PageKind::ALL {
        let dir = docs_dir.join(kind.dir());
        std::fs::create_dir_all(&dir)?;
        // A page whose resource no longer exists must not linger.
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            let relative = path.strip_prefix(&docs_dir)?.to_path_buf();
            if path.extension().is_some_and(|e| e == "md") && !pages.contains_key(&relative) {
                std::fs::remove_file(&path)?;
                println!("removed docs/{}", relative.display());
            }
        }
    }
    for (relative, text) in &pages {
        let path = docs_dir.join(relative);
        if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
            println!("wrote docs/{}", relative.display());
        }
    }
    println!("docs: {} pages up to date", pages.len());
    Ok(())
}
