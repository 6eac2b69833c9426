//! `ipai_kubeconfig` through the real terraform against the DigitalOcean simulator: the
//! credentials are fetched fresh in the run that creates the workbench (unknown while its
//! cluster is only planned), flow through a module's ephemeral output into another module's
//! ephemeral variable, and are found neither in the state nor in a saved plan.

use std::process::Command;

use anyhow::{Context, Result, ensure};
use ipai_acceptance_tests::do_sim::{DoSim, SimOptions};
use ipai_acceptance_tests::terraform::{ProviderBlock, Workspace, required_providers};

/// Fragments of the kubeconfig and credentials that must never be persisted: the
/// simulator's issued tokens (`dop_v1_<hex>`), its CA (base64 and PEM) and kubeconfig text
/// (none of them appears in the configuration, which a plan file snapshots).
const SECRETS: &[&str] = &[
    "dop_v1_",
    "LS0tLS1CRUdJTiBDRVJU",
    "BEGIN CERTIFICATE",
    "certificate-authority-data",
    "kind: Config",
];

fn root(ws: &Workspace, sim: &DoSim) -> String {
    format!(
        r#"{provider}resource "ipai_workbench" "wb" {{
  name     = "kc"
  region   = "sgp1"
  domain   = "kc.example.com"
  vpc_cidr = "10.30.0.0/16"
  cluster = {{
    node_size  = "s-2vcpu-4gb"
    node_count = 2
  }}
}}

module "creds" {{
  source    = "./creds"
  workbench = ipai_workbench.wb.name
}}

# What a kubernetes or helm provider block would receive, here checked by a module.
module "consumer" {{
  source     = "./consumer"
  kubeconfig = module.creds.raw_config
  host       = module.creds.host
}}
"#,
        provider = ProviderBlock::new(&ws.output_dir())
            .api_endpoint(sim.base_url())
            .hcl(),
    )
}

/// The `creds` module, after [`required_providers`].
const CREDS: &str = r#"
variable "workbench" {
  type = string
}

ephemeral "ipai_kubeconfig" "k" {
  workbench      = var.workbench
  expiry_seconds = 900

  lifecycle {
    postcondition {
      condition     = startswith(self.host, "https://") && strcontains(self.raw_config, self.token)
      error_message = "The kubeconfig does not carry the token for the cluster's API server."
    }
  }
}

output "raw_config" {
  value     = ephemeral.ipai_kubeconfig.k.raw_config
  ephemeral = true
}

output "host" {
  value     = ephemeral.ipai_kubeconfig.k.host
  ephemeral = true
}
"#;

const CONSUMER: &str = r#"
variable "kubeconfig" {
  type      = string
  ephemeral = true
  sensitive = true

  validation {
    condition     = strcontains(var.kubeconfig, "current-context")
    error_message = "Not a kubeconfig."
  }
}

variable "host" {
  type      = string
  ephemeral = true

  validation {
    condition     = strcontains(var.kubeconfig, var.host)
    error_message = "The kubeconfig does not point at the host."
  }
}

locals {
  # Ephemeral locals are allowed; this one would feed a provider block.
  server_line = one([for l in split("\n", var.kubeconfig) : l if strcontains(l, "server:")])
}
"#;

fn credential_requests(sim: &DoSim) -> Vec<String> {
    sim.requests()
        .into_iter()
        .filter(|r| r.operation.as_deref() == Some("kubernetes_get_credentials"))
        .map(|r| format!("{} {}?{}", r.method, r.path, r.query))
        .collect()
}

fn assert_no_secrets(what: &str, text: &str) {
    for s in SECRETS {
        assert!(!text.contains(s), "{what} holds {s:?}");
    }
}

/// Every file of the plan archive, concatenated (the plan file is a zip).
fn plan_contents(ws: &Workspace, plan: &str) -> Result<String> {
    let out = Command::new("unzip")
        .args(["-p", plan])
        .current_dir(ws.path())
        .output()
        .context("running unzip")?;
    ensure!(out.status.success(), "unzip failed: {out:?}");
    ensure!(!out.stdout.is_empty(), "empty plan archive");
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn kubeconfig_is_fetched_fresh_and_never_persisted() -> Result<()> {
    let sim = DoSim::start(SimOptions::default())?;
    let mut ws = Workspace::new()?;
    ws.set_env("DIGITALOCEAN_TOKEN", sim.token());
    ws.write_config(&root(&ws, &sim))?;
    ws.write_file("creds/main.tf", &format!("{}{CREDS}", required_providers()))?;
    ws.write_file("consumer/main.tf", CONSUMER)?;
    ws.run_ok(&["get", "-no-color"])?;

    // One run creates the cluster and opens the credentials after it (unknown at plan).
    let applied = ws.apply()?;
    assert!(
        applied.contains("ephemeral.ipai_kubeconfig.k: Opening"),
        "{applied}"
    );
    let cluster_id = sim.clusters()[0]["id"].as_str().unwrap().to_owned();
    let seen = credential_requests(&sim);
    assert!(!seen.is_empty(), "no credentials request");
    assert!(
        seen.iter().all(|r| r.starts_with(&format!(
            "GET /v2/kubernetes/clusters/{cluster_id}/credentials?"
        )) && r.contains("expiry_seconds=900")),
        "{seen:?}"
    );
    let state = std::fs::read_to_string(ws.path().join("terraform.tfstate"))?;
    assert!(state.contains("kc-cluster"), "the workbench is in state");
    let parsed: serde_json::Value = serde_json::from_str(&state)?;
    let modes: Vec<_> = parsed["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| r["mode"].as_str().unwrap_or_default())
        .collect();
    assert!(
        !modes.is_empty() && !modes.contains(&"ephemeral"),
        "{modes:?}"
    );
    assert_no_secrets("terraform.tfstate", &state);

    // A saved plan opens it again (fresh credentials) and stores none of it.
    let before = seen.len();
    let plan = ws.run_ok(&["plan", "-no-color", "-out=tfplan"])?;
    assert!(plan.contains("No changes"), "{plan}");
    assert!(
        credential_requests(&sim).len() > before,
        "plan fetched fresh"
    );
    assert_no_secrets("the plan file", &plan_contents(&ws, "tfplan")?);
    // (No `terraform show -json tfplan`: 1.11.4 crashes on a plan holding the check result of
    // an ephemeral resource's postcondition, "unsupported resource mode"; the archive is read.)
    assert_no_secrets("the plan output", &plan.output());

    ws.destroy()?;
    assert_eq!(sim.leftovers(), [] as [String; 0]);
    sim.assert_contract_clean();
    Ok(())
}

#[test]
fn without_a_token_the_kubeconfig_is_a_diagnostic_on_workbench() -> Result<()> {
    let mut ws = Workspace::new()?;
    // Blank: the provider has no DigitalOcean token even if the caller's environment has one.
    ws.set_env("DIGITALOCEAN_TOKEN", "");
    ws.set_env("DIGITALOCEAN_ACCESS_TOKEN", "");
    ws.write_config(&format!(
        "{}ephemeral \"ipai_kubeconfig\" \"k\" {{\n  workbench = \"acc\"\n}}\n",
        ProviderBlock::new(&ws.output_dir()).hcl(),
    ))?;
    let failed = ws.plan_err()?;
    assert!(
        failed.stderr.contains("DigitalOcean token missing"),
        "{failed}"
    );
    assert!(failed.stderr.contains("DIGITALOCEAN_TOKEN"), "{failed}");
    assert!(
        failed.stderr.contains(r#"ephemeral "ipai_kubeconfig" "k""#)
            && failed.stderr.contains("workbench = \"acc\""),
        "the diagnostic points at the workbench attribute:\n{failed}"
    );
    Ok(())
}
