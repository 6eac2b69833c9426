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
    // Medallion layers are protected by default: destroy is refused until protection is off.
    let refused = ws.run(&["destroy", "-auto-approve", "-no-color"])?;
    assert_eq!(refused.code, 1, "{refused}");
    assert!(
        refused.stderr.contains("Deletion protection is on"),
        "{refused}"
    );
    let layer_tf = "ipai_medallion_layer.tf";
    let header = "resource \"ipai_medallion_layer\" \"silver\" {";
    let layer = std::fs::read_to_string(ws.path().join(layer_tf))?;
    assert!(layer.contains(header), "{layer}");
    ws.write_file(
        layer_tf,
        &layer.replace(header, &format!("{header}\n  deletion_protection = false")),
    )?;
    ws.apply()?;
    ws.destroy()?;
    Ok(())
}
