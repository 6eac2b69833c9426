//! `ipai_workbench` end to end with the real terraform CLI: create, no-op plan, update in
//! place, drift repair, import, destroy; and bad input that must be refused on the offending
//! attribute without writing anything.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Result;
use ipai_acceptance_tests::terraform::{ProviderBlock, Workspace, files_under};
use sha2::{Digest, Sha256};

const ADDRESS: &str = "ipai_workbench.main";

/// `main.tf` with a files-only provider writing to `output_dir` and one workbench with
/// `body`.
fn config_with_output(output_dir: &Path, body: &str) -> String {
    format!(
        "{}resource \"ipai_workbench\" \"main\" {{\n{body}\n}}\n",
        ProviderBlock::new(output_dir).files_only().hcl()
    )
}

fn config(ws: &Workspace, body: &str) -> String {
    config_with_output(&ws.output_dir(), body)
}

fn sha256_file(path: &Path) -> Result<String> {
    Ok(hex::encode(Sha256::digest(std::fs::read(path)?)))
}

/// The `files` attribute of the workbench in the state: relative path → SHA-256.
fn state_files(ws: &Workspace) -> Result<BTreeMap<String, String>> {
    let values = ws
        .resource_values(ADDRESS)?
        .expect("the workbench is in the state");
    Ok(serde_json::from_value(values["files"].clone())?)
}

/// Every file the state lists exists with the recorded hash, and every file on disk (other
/// than `ignore`) lies in the workbench's own directory.
fn assert_files_match_state(ws: &Workspace, workbench: &str, ignore: &[&str]) -> Result<()> {
    let recorded = state_files(ws)?;
    assert!(
        !recorded.is_empty(),
        "the state records the generated files"
    );
    for (path, hash) in &recorded {
        assert_eq!(
            &sha256_file(&ws.output_dir().join(path))?,
            hash,
            "hash of {path}"
        );
    }
    for path in files_under(&ws.output_dir())? {
        let path = path.to_string_lossy().into_owned();
        assert!(
            ignore.contains(&path.as_str()) || path.starts_with(&format!("{workbench}/")),
            "{path} is outside the workbench's directory"
        );
    }
    Ok(())
}

#[test]
fn create_update_drift_import_destroy() -> Result<()> {
    let ws = Workspace::new()?;
    // A file the provider did not create must survive destroy.
    std::fs::create_dir_all(ws.output_dir())?;
    std::fs::write(ws.output_dir().join("README.keep"), "not ours\n")?;
    let unrelated = ["README.keep"];

    // Create.
    ws.write_config(&config(
        &ws,
        "  name        = \"acme\"\n  environment = \"dev\"",
    ))?;
    let created = ws.apply()?;
    assert!(
        created.stdout.contains("1 added, 0 changed, 0 destroyed"),
        "{created}"
    );
    assert_files_match_state(&ws, "acme", &unrelated)?;
    let files = state_files(&ws)?;
    assert!(files.contains_key("acme/workbench.json"), "{files:?}");
    assert!(
        files.keys().any(|p| p.starts_with("acme/kubernetes/")),
        "Kubernetes manifests generated: {files:?}"
    );
    assert!(
        files
            .keys()
            .any(|p| p.starts_with("acme/supabase/migrations/") && p.ends_with(".sql")),
        "metadata schema SQL generated: {files:?}"
    );

    // The second plan shows no changes.
    let noop = ws.plan()?;
    assert_eq!(noop.code, 0, "plan after apply must be empty:\n{noop}");

    // Changing an attribute updates the workbench in place.
    ws.write_config(&config(
        &ws,
        "  name        = \"acme\"\n  environment = \"prod\"",
    ))?;
    let update = ws.plan()?;
    assert_eq!(update.code, 2, "{update}");
    assert!(
        update.stdout.contains("will be updated in-place"),
        "{update}"
    );
    assert!(!update.stdout.contains("must be replaced"), "{update}");
    assert!(
        update
            .stdout
            .contains("0 to add, 1 to change, 0 to destroy"),
        "{update}"
    );
    let updated = ws.apply()?;
    assert!(
        updated.stdout.contains("0 added, 1 changed, 0 destroyed"),
        "{updated}"
    );
    let summary = std::fs::read_to_string(ws.output_dir().join("acme/workbench.json"))?;
    assert!(
        summary.contains("prod"),
        "workbench.json follows the update:\n{summary}"
    );
    assert_files_match_state(&ws, "acme", &unrelated)?;
    assert_eq!(ws.plan()?.code, 0);

    // A hand edit is drift: the plan shows the file, apply restores its bytes.
    let (edited, _) = state_files(&ws)?
        .into_iter()
        .find(|(p, _)| p.ends_with(".yaml"))
        .expect("a YAML manifest was generated");
    let edited_path = ws.output_dir().join(&edited);
    let original = std::fs::read(&edited_path)?;
    let mut tampered = original.clone();
    tampered.extend_from_slice(b"# edited by hand\n");
    std::fs::write(&edited_path, &tampered)?;
    let drift = ws.plan()?;
    assert_eq!(drift.code, 2, "a hand edit must show as drift:\n{drift}");
    assert!(
        drift.stdout.contains(&edited),
        "the plan names {edited}:\n{drift}"
    );
    ws.apply()?;
    assert_eq!(
        std::fs::read(&edited_path)?,
        original,
        "apply repairs {edited}"
    );

    // A deleted file is drift too.
    std::fs::remove_file(&edited_path)?;
    assert_eq!(ws.plan()?.code, 2, "a deleted file must show as drift");
    ws.apply()?;
    assert_eq!(
        std::fs::read(&edited_path)?,
        original,
        "apply restores {edited}"
    );
    assert_eq!(ws.plan()?.code, 0);

    // Importing into a fresh state yields the same resource, and the plan stays empty.
    let before_import = ws.resource_values(ADDRESS)?;
    ws.forget_state()?;
    assert_eq!(ws.resource_values(ADDRESS)?, None);
    ws.import(ADDRESS, "acme")?;
    assert_eq!(ws.resource_values(ADDRESS)?, before_import);
    let after_import = ws.plan()?;
    assert_eq!(
        after_import.code, 0,
        "plan after import must be empty:\n{after_import}"
    );

    // Destroy removes exactly what the workbench created.
    let destroyed = ws.destroy()?;
    assert!(destroyed.stdout.contains("1 destroyed"), "{destroyed}");
    let left: Vec<PathBuf> = files_under(&ws.output_dir())?;
    assert_eq!(
        left,
        [PathBuf::from("README.keep")],
        "only the unrelated file is left"
    );
    assert!(
        !ws.output_dir().join("acme").exists(),
        "the workbench's directory is removed"
    );
    Ok(())
}

#[test]
fn same_configuration_writes_the_same_bytes() -> Result<()> {
    let body = "  name   = \"same\"\n  region = \"sgp1\"\n  tags   = { team = \"platform\" }";
    let mut trees = Vec::new();
    for _ in 0..2 {
        let ws = Workspace::new()?;
        ws.write_config(&config(&ws, body))?;
        ws.apply()?;
        let mut tree = BTreeMap::new();
        for path in files_under(&ws.output_dir())? {
            tree.insert(path.clone(), std::fs::read(ws.output_dir().join(&path))?);
        }
        assert!(!tree.is_empty());
        trees.push(tree);
    }
    assert!(
        trees[0] == trees[1],
        "two applies of one configuration differ"
    );
    Ok(())
}

#[test]
fn two_workbenches_share_one_output_dir() -> Result<()> {
    let ws = Workspace::new()?;
    let hcl = config(&ws, "  name = \"alpha\"")
        + "\nresource \"ipai_workbench\" \"second\" {\n  name = \"beta\"\n}\n";
    ws.write_config(&hcl)?;
    ws.apply()?;
    assert!(ws.output_dir().join("alpha/workbench.json").is_file());
    assert!(ws.output_dir().join("beta/workbench.json").is_file());
    assert_eq!(ws.plan()?.code, 0);

    // Removing one workbench from the configuration leaves the other's files alone.
    ws.write_config(&config(&ws, "  name = \"alpha\""))?;
    ws.apply()?;
    assert!(ws.output_dir().join("alpha/workbench.json").is_file());
    assert!(!ws.output_dir().join("beta").exists());
    Ok(())
}

/// Applies a bad configuration: terraform must fail with an error whose source snippet is the
/// offending attribute's line, and nothing may be written or recorded.
fn assert_refused(ws: &Workspace, hcl: &str, attribute_line: &str) -> Result<String> {
    ws.write_config(hcl)?;
    let failed = ws.apply_err()?;
    assert!(failed.stderr.contains("Error:"), "{failed}");
    assert!(
        failed.stderr.contains(attribute_line),
        "the diagnostic must point at `{attribute_line}`:\n{failed}"
    );
    assert!(
        !failed.stderr.contains("panic") && !failed.stderr.contains("plugin crashed"),
        "{failed}"
    );
    assert!(files_under(&ws.output_dir())?.is_empty(), "nothing written");
    assert_eq!(ws.resource_values(ADDRESS)?, None, "nothing in the state");
    Ok(failed.stderr)
}

#[test]
fn wrong_type_is_refused() -> Result<()> {
    let ws = Workspace::new()?;
    let stderr = assert_refused(
        &ws,
        &config(&ws, "  name = \"acme\"\n  tags = [\"not\", \"a\", \"map\"]"),
        "tags = [\"not\", \"a\", \"map\"]",
    )?;
    assert!(stderr.contains("\"tags\""), "{stderr}");
    Ok(())
}

#[test]
fn missing_required_name_is_refused() -> Result<()> {
    let ws = Workspace::new()?;
    let stderr = assert_refused(
        &ws,
        &config(&ws, "  environment = \"dev\""),
        "resource \"ipai_workbench\" \"main\" {",
    )?;
    assert!(stderr.contains("\"name\" is required"), "{stderr}");
    Ok(())
}

#[test]
fn name_that_is_not_a_dns_label_is_refused() -> Result<()> {
    let ws = Workspace::new()?;
    let stderr = assert_refused(
        &ws,
        &config(&ws, "  name = \"Acme_Workbench\""),
        "name = \"Acme_Workbench\"",
    )?;
    assert!(
        stderr.contains("Acme_Workbench"),
        "the detail quotes the value:\n{stderr}"
    );
    Ok(())
}

#[test]
fn name_longer_than_63_characters_is_refused() -> Result<()> {
    let ws = Workspace::new()?;
    let long = "a".repeat(64);
    let stderr = assert_refused(
        &ws,
        &config(&ws, &format!("  name = \"{long}\"")),
        &format!("name = \"{long}\""),
    )?;
    assert!(
        stderr.contains("63"),
        "the detail states the limit:\n{stderr}"
    );
    Ok(())
}

#[test]
fn unwritable_output_dir_is_refused() -> Result<()> {
    let ws = Workspace::new()?;
    // Tests run as root, so permissions cannot make a directory unwritable: a regular file
    // where a parent directory should be does.
    let blocker = ws.path().join("blocker");
    std::fs::write(&blocker, "a file, not a directory\n")?;
    let output_dir = blocker.join("out");
    let hcl = config_with_output(&output_dir, "  name = \"acme\"");
    let line = format!("output_dir = {}", ws.hcl_path(&output_dir));
    assert_refused(&ws, &hcl, &line)?;
    assert_eq!(
        std::fs::read_to_string(&blocker)?,
        "a file, not a directory\n"
    );
    Ok(())
}
