//! GitOps through the real terraform: the provider commits the workbench's generated files
//! (`git = { commit = true }`), only when they change, and writes the same bytes as the
//! `ipai` CLI's expansion of the same spec.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use anyhow::{Result, ensure};
use ipai_acceptance_tests::terraform::{ProviderBlock, Workspace, files_under};
use ipai_codegen::{Renderer, expand::expand_bundle, spec::BundleSpec};

fn git(dir: &Path, args: &[&str]) -> Result<String> {
    let out = Command::new("git").arg("-C").arg(dir).args(args).output()?;
    ensure!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn config(out: &Path, domain: &str) -> String {
    let provider = ProviderBlock::new(out)
        .files_only()
        .git_commit("ipai ci <ci@example.com>")
        .hcl();
    format!(
        r#"{provider}resource "ipai_workbench" "wb" {{
  name   = "gitops"
  domain = "{domain}"
  tags   = {{ team = "platform" }}
}}
"#
    )
}

/// The files under `dir/gitops/`, as the CLI's expansion keys them.
fn tree(out: &Path) -> Result<BTreeMap<String, String>> {
    let mut files = BTreeMap::new();
    let dir = out.join("gitops");
    for p in files_under(&dir)? {
        let p = dir.join(p);
        let rel = p.strip_prefix(out)?.to_string_lossy().replace('\\', "/");
        files.insert(rel, std::fs::read_to_string(&p)?);
    }
    Ok(files)
}

#[test]
fn apply_commits_generated_files_once_and_matches_the_cli() -> Result<()> {
    let ws = Workspace::new()?;
    let out = ws.output_dir();
    std::fs::create_dir_all(&out)?;
    git(&out, &["init", "-q", "-b", "main"])?;

    ws.write_config(&config(&out, "example.com"))?;
    ws.apply()?;
    assert_eq!(
        git(&out, &["log", "--format=%an|%s"])?,
        "ipai ci|ipai: update gitops"
    );
    let committed = git(&out, &["show", "--name-only", "--format=", "HEAD"])?;
    assert!(
        committed.contains("gitops/kubernetes/kustomization.yaml"),
        "{committed}"
    );
    assert!(committed.contains("gitops/workbench.json"), "{committed}");
    assert_eq!(
        git(&out, &["status", "--porcelain"])?,
        "",
        "everything generated is committed"
    );

    // Same bytes as `ipai render` of the same spec.
    let bundle: BundleSpec = serde_json::from_value(serde_json::json!({
        "workbench": {"name": "gitops", "domain": "example.com", "tags": {"team": "platform"}}
    }))?;
    let cli = expand_bundle(&bundle, &Renderer::embedded()?)?;
    assert_eq!(tree(&out)?, cli.files);

    let noop = ws.plan()?;
    assert_eq!(noop.code, 0, "second plan shows no changes:\n{noop}");
    ws.apply()?;
    assert_eq!(
        git(&out, &["rev-list", "--count", "HEAD"])?,
        "1",
        "no change, no commit"
    );

    ws.write_config(&config(&out, "example.org"))?;
    ws.apply()?;
    assert_eq!(git(&out, &["rev-list", "--count", "HEAD"])?, "2");
    assert_eq!(
        git(&out, &["show", "--name-only", "--format=", "HEAD"])?,
        "gitops/workbench.json"
    );

    ws.destroy()?;
    assert_eq!(git(&out, &["rev-list", "--count", "HEAD"])?, "3");
    assert_eq!(git(&out, &["ls-files"])?, "", "the removal is committed");
    Ok(())
}
