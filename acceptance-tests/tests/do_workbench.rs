//! `ipai_workbench` with a DigitalOcean token, through the real terraform CLI against the
//! simulator: apply, empty re-plan, pool resize in place, drift repaired, faults survived
//! without twins, import, destroy leaving nothing, every exchange on contract; a missing
//! token and files-only over recorded objects refused at plan.

use anyhow::Result;
use ipai_acceptance_tests::do_sim::{DoSim, Fault, SimOptions};
use ipai_acceptance_tests::terraform::{ProviderBlock, Workspace};

/// Workbench `acc` against the simulator (the token comes from the environment).
fn config(ws: &Workspace, sim: &DoSim, node_count: u32, subdomains: &str) -> String {
    let provider = ProviderBlock::new(&ws.output_dir()).api_endpoint(sim.base_url());
    workbench(&provider, node_count, subdomains)
}

/// `provider`'s header and workbench `acc` with `node_count` nodes and `subdomains`.
fn workbench(provider: &ProviderBlock, node_count: u32, subdomains: &str) -> String {
    format!(
        r#"{provider}resource "ipai_workbench" "wb" {{
  name       = "acc"
  region     = "sgp1"
  domain     = "acc.example.com"
  vpc_cidr   = "10.20.0.0/16"
  subdomains = [{subdomains}]
  ingress_ip = "203.0.113.10"
  cluster = {{
    node_size  = "s-2vcpu-4gb"
    node_count = {node_count}
  }}
  timeouts = {{
    create = "5m"
  }}
}}
"#,
        provider = provider.hcl(),
    )
}

/// A simulator, and a workspace whose terraform reaches it with its token taken from the
/// environment, as in CI.
fn sim_and_workspace() -> Result<(DoSim, Workspace)> {
    let sim = DoSim::start(SimOptions::default())?;
    let mut ws = Workspace::new()?;
    ws.set_env("DIGITALOCEAN_TOKEN", sim.token());
    Ok((sim, ws))
}

/// `hcl` must fail at plan with every one of `expected`, and leave nothing created in the
/// simulator and nothing written to the output directory.
fn refused_at_plan(sim: &DoSim, ws: &Workspace, hcl: &str, expected: &[&str]) -> Result<()> {
    ws.write_config(hcl)?;
    let plan = ws.plan_err()?;
    for e in expected {
        assert!(plan.says(e), "missing {e:?} in:\n{plan}");
    }
    assert_eq!(sim.leftovers(), [] as [String; 0]);
    assert!(
        std::fs::read_dir(ws.output_dir())
            .map(|mut d| d.next().is_none())
            .unwrap_or(true),
        "files were written for a refused plan"
    );
    sim.assert_contract_clean();
    Ok(())
}

fn default_pool(sim: &DoSim) -> (String, String, u64) {
    let c = &sim.clusters()[0];
    let p = c["node_pools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "acc-default")
        .unwrap();
    (
        c["id"].as_str().unwrap().to_owned(),
        p["id"].as_str().unwrap().to_owned(),
        p["count"].as_u64().unwrap(),
    )
}

#[test]
fn workbench_lifecycle_against_the_simulator() -> Result<()> {
    let (sim, ws) = sim_and_workspace()?;

    ws.write_config(&config(&ws, &sim, 2, r#""litellm""#))?;
    ws.apply()?;
    assert_eq!(sim.clusters().len(), 1);
    let (cluster_id, _, count) = default_pool(&sim);
    assert_eq!(count, 2);
    assert_eq!(ws.plan()?.code, 0, "re-plan after apply is empty");
    // Outbound rules deny every other port: Redis must be among them for the gateway.
    let outbound = sim.firewalls()[0]["outbound_rules"].clone();
    for port in ["6379", "25061"] {
        let rule = serde_json::json!({"protocol": "tcp", "ports": port,
            "destinations": {"addresses": ["0.0.0.0/0", "::/0"]}});
        assert!(
            outbound.as_array().unwrap().contains(&rule),
            "the gateway's Redis cache is reachable on {port}: {outbound}"
        );
    }

    // Resize in place: same cluster.
    ws.write_config(&config(&ws, &sim, 3, r#""litellm""#))?;
    ws.apply()?;
    let (id, pool_id, count) = default_pool(&sim);
    assert_eq!((id.as_str(), count), (cluster_id.as_str(), 3));
    assert_eq!(ws.plan()?.code, 0);

    // Drift made in the console shows in the plan and apply repairs it.
    assert!(sim.console_resize_pool(&cluster_id, &pool_id, 5));
    let fw = sim.firewalls()[0]["id"].as_str().unwrap().to_owned();
    assert!(sim.console_remove_firewall_rule(&fw, "443"));
    let drift = ws.plan()?;
    assert_eq!(drift.code, 2, "drift must show:\n{drift}");
    assert!(
        drift.contains("acc-cluster") && drift.contains("acc-firewall"),
        "{drift}"
    );
    ws.apply()?;
    assert_eq!(default_pool(&sim).2, 3);
    assert_eq!(ws.plan()?.code, 0, "drift repaired");

    // A new subdomain while the API rate-limits and a create fails half-way.
    sim.inject(Fault::rate_limited("*", "*").retry_after(1).times(2));
    sim.inject(Fault::fail_after_commit(
        "POST",
        "/v2/domains/{domain_name}/records",
    ));
    sim.inject(Fault::server_error("POST", "/v2/uptime/checks"));
    ws.write_config(&config(&ws, &sim, 3, r#""litellm", "n8n""#))?;
    ws.apply()?;
    assert!(
        sim.pending_faults().is_empty(),
        "{:?}",
        sim.pending_faults()
    );
    let a_records = sim
        .domain_records("acc.example.com")
        .into_iter()
        .filter(|r| r["type"] == "A")
        .count();
    assert_eq!(a_records, 2, "no twin record");
    assert_eq!(sim.uptime_checks().len(), 2, "no twin check");
    assert_eq!(sim.clusters().len(), 1);
    assert_eq!(ws.plan()?.code, 0);

    // Import: forget the state, import by name, and the plan is clean again.
    ws.forget_state()?;
    ws.import("ipai_workbench.wb", "acc")?;
    assert_eq!(ws.plan()?.code, 0, "imported state matches");
    assert_eq!(sim.clusters().len(), 1);

    let destroyed = ws.destroy()?;
    assert!(destroyed.contains("1 destroyed"), "{destroyed}");
    assert_eq!(sim.leftovers(), [] as [String; 0], "destroy leaves nothing");
    assert!(sim.load_balancers().is_empty() && sim.volumes().is_empty());
    sim.assert_contract_clean();
    Ok(())
}

#[test]
fn bad_slugs_are_plan_diagnostics_and_nothing_is_created() -> Result<()> {
    let (sim, ws) = sim_and_workspace()?;
    let hcl = config(&ws, &sim, 2, r#""litellm""#)
        .replace(r#"region     = "sgp1""#, r#"region     = "xyz1""#)
        .replace("10.20.0.0/16", "10.104.0.0/16")
        .replace(r#""s-2vcpu-4gb""#, r#""s-99vcpu-1tb""#);
    refused_at_plan(
        &sim,
        &ws,
        &hcl,
        &[
            "Unknown region",
            "Unknown size",
            "VPC range overlaps an existing VPC",
        ],
    )
}

#[test]
fn invalid_network_and_pool_settings_are_plan_diagnostics_and_nothing_is_created() -> Result<()> {
    let (sim, ws) = sim_and_workspace()?;
    let hcl = config(&ws, &sim, 7, r#""litellm""#)
        .replace("10.20.0.0/16", "10.20.0.0/33")
        .replace(
            r#"node_count = 7"#,
            "node_count = 7\n    autoscale  = { min = 1, max = 3 }",
        );
    refused_at_plan(
        &sim,
        &ws,
        &hcl,
        &["Invalid CIDR", "Node count outside the autoscale bounds"],
    )
}

#[test]
fn without_a_token_or_files_only_the_workbench_is_refused_at_plan() -> Result<()> {
    let (sim, mut ws) = sim_and_workspace()?;
    // Blank: no token even if the caller's environment has one.
    ws.set_env("DIGITALOCEAN_TOKEN", "");
    ws.set_env("DIGITALOCEAN_ACCESS_TOKEN", "");
    refused_at_plan(
        &sim,
        &ws,
        &config(&ws, &sim, 2, r#""litellm""#),
        &[
            "DigitalOcean token missing",
            r#"ipai_workbench "acc" creates objects in DigitalOcean"#,
            "DIGITALOCEAN_TOKEN",
            "files_only = true",
        ],
    )?;
    assert!(sim.requests().is_empty(), "{:?}", sim.requests());
    Ok(())
}

#[test]
fn files_only_refuses_a_workbench_with_objects_in_digitalocean() -> Result<()> {
    let (sim, ws) = sim_and_workspace()?;
    ws.write_config(&config(&ws, &sim, 2, r#""litellm""#))?;
    ws.apply()?;
    let objects = sim.leftovers();
    let ids = recorded_ids(&ws)?;
    let requests = sim.requests().len();

    let files_only = ProviderBlock::new(&ws.output_dir())
        .files_only()
        .api_endpoint(sim.base_url());
    ws.write_config(&workbench(&files_only, 2, r#""litellm""#))?;
    let plan = ws.plan_err()?;
    for e in [
        "Provider is files-only",
        r#"ipai_workbench "acc" has objects in DigitalOcean (recorded in its state)"#,
        "destroy the objects with files_only off first",
    ] {
        assert!(plan.says(e), "missing {e:?} in:\n{plan}");
    }
    // Destroy is refused too, rather than forgetting what exists.
    let destroy = ws.run_err(&["destroy", "-auto-approve", "-no-color"])?;
    assert!(destroy.contains("Provider is files-only"), "{destroy}");
    assert_eq!(
        sim.requests().len(),
        requests,
        "files-only made no API call"
    );
    assert_eq!(sim.leftovers(), objects);
    assert_eq!(recorded_ids(&ws)?, ids, "the state still records them");

    // With files_only off again nothing changed and destroy removes everything.
    ws.write_config(&config(&ws, &sim, 2, r#""litellm""#))?;
    assert_eq!(ws.plan()?.code, 0);
    ws.destroy()?;
    assert_eq!(sim.leftovers(), [] as [String; 0]);
    sim.assert_contract_clean();
    Ok(())
}

/// `digitalocean_state.objects` of the workbench in the state: object name → id.
fn recorded_ids(ws: &Workspace) -> Result<std::collections::BTreeMap<String, String>> {
    let values = ws
        .resource_values("ipai_workbench.wb")?
        .ok_or_else(|| anyhow::anyhow!("the workbench is not in the state"))?;
    Ok(values["digitalocean_state"]["objects"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v["id"].as_str().unwrap_or_default().to_owned()))
        .collect())
}

#[test]
fn a_failed_first_apply_is_in_state_and_destroy_removes_it() -> Result<()> {
    let (sim, ws) = sim_and_workspace()?;
    // DigitalOcean refuses the uptime check after the cluster, firewall, registry, DNS
    // zone and record exist.
    sim.inject(Fault::rejected("POST", "/v2/uptime/checks"));
    ws.write_config(&config(&ws, &sim, 2, r#""litellm""#))?;
    let failed = ws.apply_err()?;
    assert!(failed.contains("DigitalOcean API call failed"), "{failed}");
    assert!(sim.pending_faults().is_empty());

    let ids = recorded_ids(&ws)?;
    assert_eq!(
        ids["acc-cluster"],
        sim.clusters()[0]["id"].as_str().unwrap()
    );
    assert_eq!(
        ids["acc-firewall"],
        sim.firewalls()[0]["id"].as_str().unwrap()
    );
    let vpc = sim
        .vpcs()
        .into_iter()
        .find(|v| v["name"] == "acc-vpc")
        .unwrap();
    assert_eq!(ids["acc-vpc"], vpc["id"].as_str().unwrap());
    for name in ["acc-project", "acc", "acc-dns-litellm"] {
        assert!(ids.contains_key(name), "{name} saved: {ids:?}");
    }
    assert!(!ids.contains_key("acc-litellm-uptime"), "{ids:?}");
    let values = ws.resource_values("ipai_workbench.wb")?.unwrap();
    assert_eq!(
        values["digitalocean_state"]["created_domain"], "acc.example.com",
        "the zone the apply created is recorded as the provider's"
    );
    assert!(!sim.leftovers().is_empty());

    let destroyed = ws.destroy()?;
    assert!(destroyed.contains("1 destroyed"), "{destroyed}");
    assert_eq!(
        sim.leftovers(),
        [] as [String; 0],
        "destroy found everything"
    );
    assert!(sim.load_balancers().is_empty() && sim.volumes().is_empty());
    sim.assert_contract_clean();
    Ok(())
}

#[test]
fn a_failed_apply_fixed_and_applied_again_leaves_no_twins() -> Result<()> {
    let (sim, ws) = sim_and_workspace()?;
    sim.inject(Fault::rejected("POST", "/v2/firewalls"));
    ws.write_config(&config(&ws, &sim, 2, r#""litellm""#))?;
    ws.apply_err()?;
    assert_eq!(sim.clusters().len(), 1);
    assert!(sim.firewalls().is_empty());

    // The failed create is tainted: the next apply replaces it from the saved ids.
    let plan = ws.plan()?;
    assert!(plan.contains("tainted"), "{plan}");
    ws.apply()?;
    assert_eq!(sim.clusters().len(), 1, "no twin cluster");
    assert_eq!(sim.firewalls().len(), 1);
    assert_eq!(
        sim.vpcs().iter().filter(|v| v["name"] == "acc-vpc").count(),
        1
    );
    assert_eq!(
        sim.projects()
            .iter()
            .filter(|p| p["name"] == "acc-project")
            .count(),
        1
    );
    assert_eq!(ws.plan()?.code, 0);
    let cluster = sim.clusters()[0]["id"].as_str().unwrap().to_owned();

    // An update that fails half-way (the new uptime check is refused after the record)
    // keeps its progress; the apply after it adopts what exists.
    sim.inject(Fault::rejected("POST", "/v2/uptime/checks"));
    ws.write_config(&config(&ws, &sim, 2, r#""litellm", "n8n""#))?;
    ws.apply_err()?;
    let ids = recorded_ids(&ws)?;
    assert!(ids.contains_key("acc-dns-n8n"), "{ids:?}");
    ws.apply()?;
    assert_eq!(sim.clusters()[0]["id"], cluster.as_str(), "same cluster");
    assert_eq!(sim.clusters().len(), 1);
    let a_records = sim
        .domain_records("acc.example.com")
        .into_iter()
        .filter(|r| r["type"] == "A")
        .count();
    assert_eq!(a_records, 2, "no twin record");
    assert_eq!(sim.uptime_checks().len(), 2, "no twin check");
    assert_eq!(ws.plan()?.code, 0);
    ws.destroy()?;
    assert_eq!(sim.leftovers(), [] as [String; 0]);
    sim.assert_contract_clean();
    Ok(())
}

#[test]
fn destroy_keeps_a_dns_zone_that_existed_before() -> Result<()> {
    let (sim, ws) = sim_and_workspace()?;
    assert!(sim.console_add_domain("acc.example.com"));
    ws.write_config(&config(&ws, &sim, 2, r#""litellm""#))?;
    ws.apply()?;
    let values = ws.resource_values("ipai_workbench.wb")?.unwrap();
    assert!(values["digitalocean_state"]["created_domain"].is_null());
    assert_eq!(ws.plan()?.code, 0);
    ws.destroy()?;
    assert_eq!(
        sim.domains(),
        ["acc.example.com"],
        "the user's zone survives"
    );
    let left: Vec<String> = sim
        .domain_records("acc.example.com")
        .iter()
        .map(|r| r["type"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        left,
        ["SOA", "NS", "NS", "NS"],
        "only the workbench's record went"
    );
    assert_eq!(sim.leftovers().len(), 1, "{:?}", sim.leftovers());
    sim.assert_contract_clean();
    Ok(())
}

#[test]
fn cost_estimate_uses_live_prices_with_a_token_and_the_table_offline() -> Result<()> {
    let sim = DoSim::start(SimOptions::default())?;
    // m-4vcpu-32gb is not in the built-in table; the simulator sells it at $168.00.
    let hcl = |provider: ProviderBlock| {
        workbench(&provider, 2, r#""litellm""#).replace(r#""s-2vcpu-4gb""#, r#""m-4vcpu-32gb""#)
    };
    let cost = |ws: &Workspace| -> Result<f64> {
        let values = ws.resource_values("ipai_workbench.wb")?.unwrap();
        Ok(values["monthly_cost_estimate"].as_f64().unwrap())
    };

    let offline = Workspace::new()?;
    offline.write_config(&hcl(ProviderBlock::new(&offline.output_dir()).files_only()))?;
    offline.apply()?;
    let table = cost(&offline)?;

    let mut online = Workspace::new()?;
    online.set_env("DIGITALOCEAN_TOKEN", sim.token());
    online.write_config(&hcl(
        ProviderBlock::new(&online.output_dir()).api_endpoint(sim.base_url())
    ))?;
    online.apply()?;
    let live = cost(&online)?;
    assert_eq!(live - table, 2.0 * 168.0, "live {live}, table {table}");
    assert_eq!(online.plan()?.code, 0, "the live estimate is stable");
    online.destroy()?;
    assert_eq!(sim.leftovers(), [] as [String; 0]);
    sim.assert_contract_clean();
    Ok(())
}
