//! The examples users copy from must work: the quickstart (through the workbench module) and
//! every `examples/resources/<type>/resource.tf`, applied together with the provider example.

use anyhow::Result;
use ipai_acceptance_tests::terraform::{Workspace, copy_tree, files_under, repo_root};

#[test]
fn quickstart_applies_offline_and_plans_clean() -> Result<()> {
    let ws = Workspace::new()?;
    let examples = repo_root().join("examples");
    copy_tree(&examples.join("quickstart"), &ws.path())?;
    std::fs::remove_dir_all(ws.path().join("generated")).ok();
    // `../modules/workbench` from the working directory.
    copy_tree(&examples.join("modules"), &ws.root().join("modules"))?;

    // `get` installs the local module; `init` would also look the overridden provider up in
    // the registry (Terraform before 1.15 does), which fails offline.
    ws.run_ok(&["get", "-no-color"])?;
    ws.apply()?;
    let generated = files_under(&ws.path().join("generated"))?;
    assert!(
        generated
            .iter()
            .any(|p| p.ends_with("quickstart/workbench.json")),
        "{generated:?}"
    );
    let noop = ws.plan()?;
    assert_eq!(noop.code, 0, "{noop}");
    ws.destroy()?;
    assert!(files_under(&ws.path().join("generated"))?.is_empty());
    Ok(())
}

#[test]
fn resource_examples_apply_together() -> Result<()> {
    let ws = Workspace::new()?;
    let examples = repo_root().join("examples");
    let provider = std::fs::read_to_string(examples.join("provider/provider.tf"))?;
    ws.write_config(&provider)?;
    let mut types = Vec::new();
    for entry in std::fs::read_dir(examples.join("resources"))? {
        let dir = entry?.path();
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        ws.write_file(
            &format!("{name}.tf"),
            &std::fs::read_to_string(dir.join("resource.tf"))?,
        )?;
        types.push(name);
    }
    assert!(types.iter().any(|t| t == "ipai_workbench"), "{types:?}");
    ws.apply()?;
    let noop = ws.plan()?;
    assert_eq!(noop.code, 0, "{noop}");
    ws.destroy()?;
    Ok(())
}
