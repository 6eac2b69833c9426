//! `ipai_workbench` with a DigitalOcean token, through the real terraform CLI against the
//! simulator: apply, empty re-plan, pool resize in place, drift repaired, faults survived
//! without twins, import, destroy leaving nothing, every exchange on contract; a missing
//! token and files-only over recorded objects refused at plan; the same lifecycle for the
//! GPU node pool an `ipai_ocr_stack` adds to the workbench's cluster.

use anyhow::Result;
use ipai_acceptance_tests::do_sim::{DoSim, Fault, SimOptions};
use ipai_acceptance_tests::terraform::{ProviderBlock, Run, Workspace, hcl_string};

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

/// `terraform destroy` of `ws`, which must leave nothing in the simulator (the cluster's
/// load balancers and volumes included) and no request off the contract; its output, for
/// the count of what was destroyed.
fn destroy_leaves_nothing(sim: &DoSim, ws: &Workspace) -> Result<Run> {
    let destroyed = ws.destroy()?;
    assert_eq!(sim.leftovers(), [] as [String; 0], "destroy leaves nothing");
    assert!(sim.load_balancers().is_empty() && sim.volumes().is_empty());
    sim.assert_contract_clean();
    Ok(destroyed)
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

    let destroyed = destroy_leaves_nothing(&sim, &ws)?;
    assert!(destroyed.contains("1 destroyed"), "{destroyed}");
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
    destroy_leaves_nothing(&sim, &ws)?;
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

    let destroyed = destroy_leaves_nothing(&sim, &ws)?;
    assert!(destroyed.contains("1 destroyed"), "{destroyed}");
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
    destroy_leaves_nothing(&sim, &ws)?;
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
fn destroy_keeps_a_registry_vpc_and_project_that_existed_before() -> Result<()> {
    let (sim, ws) = sim_and_workspace()?;
    // The team's registry (one per account) with its images, and a VPC and project that
    // happen to carry the workbench's names: all made before, outside the workbench.
    let made = [
        (
            "registry_create",
            serde_json::json!({"name": "shared-images", "subscription_tier_slug": "basic", "region": "sgp1"}),
        ),
        (
            "vpcs_create",
            serde_json::json!({"name": "acc-vpc", "region": "sgp1", "ip_range": "10.20.0.0/16",
                "description": "ipai workbench acc"}),
        ),
        (
            "projects_create",
            serde_json::json!({"name": "acc-project", "description": "ipai workbench acc",
                "purpose": "Operational / Developer tooling", "environment": "Development"}),
        ),
    ];
    for (op, body) in made {
        let (status, answer) = sim.console_create(op, body);
        assert!(status < 300, "{op}: {status} {answer}");
    }
    assert!(sim.console_push_repository("team/app"));
    let before = sim.leftovers();
    ws.write_config(&config(&ws, &sim, 2, r#""litellm""#).replace(
        "  vpc_cidr",
        "  registry_name = \"shared-images\"\n  vpc_cidr",
    ))?;
    ws.apply()?;
    let values = ws.resource_values("ipai_workbench.wb")?.unwrap();
    let objects = &values["digitalocean_state"]["objects"];
    for (name, origin) in [
        ("shared-images", "adopted"),
        ("acc-vpc", "adopted"),
        ("acc-project", "adopted"),
        ("acc-cluster", "created"),
        ("acc-firewall", "created"),
        ("acc-dns-litellm", "created"),
    ] {
        assert_eq!(objects[name]["origin"], origin, "{name}: {objects}");
    }
    assert_eq!(ws.plan()?.code, 0);

    ws.destroy()?;
    assert_eq!(
        sim.leftovers(),
        before,
        "what existed before survives, what the workbench created is gone"
    );
    assert_eq!(
        sim.registry_repositories(),
        ["team/app"],
        "the images survive"
    );
    sim.assert_contract_clean();
    Ok(())
}

#[test]
fn immutable_changes_are_refused_at_plan_and_nothing_changes() -> Result<()> {
    let (sim, ws) = sim_and_workspace()?;
    let base = config(&ws, &sim, 2, r#""litellm""#).replace(
        "    node_count = 2\n",
        "    node_count = 2\n    version    = \"1.33\"\n",
    );
    ws.write_config(&base)?;
    ws.apply()?;
    let writes = || {
        sim.requests()
            .into_iter()
            .filter(|r| r.method != "GET")
            .count()
    };
    let before = (writes(), sim.leftovers(), sim.clusters().len());
    for (from, to, summary, path) in [
        (
            "region     = \"sgp1\"",
            "region     = \"nyc1\"",
            "The region cannot change in place",
            "region",
        ),
        (
            "10.20.0.0/16",
            "10.30.0.0/16",
            "The VPC range cannot change in place",
            "vpc_cidr",
        ),
        (
            "\"1.33\"",
            "\"1.32\"",
            "The Kubernetes version cannot change in place",
            "cluster.version",
        ),
        (
            "\"s-2vcpu-4gb\"",
            "\"s-4vcpu-8gb\"",
            "The default pool's node size cannot change in place",
            "cluster.node_size",
        ),
    ] {
        ws.write_config(&base.replace(from, to))?;
        let plan = ws.plan_err()?;
        assert!(plan.says(summary), "{to}: {plan}");
        assert!(plan.says("It takes a new workbench"), "{plan}");
        assert!(plan.says("Nothing was changed."), "{plan}");
        // The attribute path makes terraform quote the changed line of the configuration.
        assert!(plan.says(to), "{path}: {plan}");
        assert_eq!(
            (writes(), sim.leftovers(), sim.clusters().len()),
            before,
            "{to}: nothing touched"
        );
    }
    ws.write_config(&base)?;
    assert_eq!(
        ws.plan()?.code,
        0,
        "the original configuration still matches"
    );
    destroy_leaves_nothing(&sim, &ws)?;
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
    destroy_leaves_nothing(&sim, &online)?;
    Ok(())
}

/// An `ipai_ocr_stack` of the workbench in [`config`] with `replicas` GPU replicas on
/// `node_size` nodes (one GPU each: one node per replica).
fn ocr_stack(replicas: u32, node_size: &str) -> String {
    format!(
        r#"
resource "ipai_ocr_stack" "paddle" {{
  workbench     = ipai_workbench.wb.name
  name          = "paddle"
  image         = "registry.digitalocean.com/acc/paddleocr-vl:1.0.0"
  adapter_image = "registry.digitalocean.com/acc/ocr-adapter:1.0.0"
  replicas      = {replicas}
  gpu = {{
    node_size = {node_size}
  }}
  timeouts = {{
    create = "5m"
  }}
}}
"#,
        node_size = hcl_string(node_size),
    )
}

/// The cluster's id and the OCR stack's GPU pool on it, API-shaped.
fn gpu_pool(sim: &DoSim) -> Option<(String, serde_json::Value)> {
    let c = sim.clusters().into_iter().next()?;
    let pool = c["node_pools"]
        .as_array()?
        .iter()
        .find(|p| p["name"] == "acc-paddle-gpu")?
        .clone();
    Some((c["id"].as_str()?.to_owned(), pool))
}

fn id(v: &serde_json::Value) -> String {
    v["id"].as_str().unwrap_or_default().to_owned()
}

#[test]
fn ocr_stack_gpu_pool_lifecycle_against_the_simulator() -> Result<()> {
    let (sim, ws) = sim_and_workspace()?;
    let with_nodes = |nodes, replicas, size| {
        config(&ws, &sim, nodes, r#""litellm""#) + &ocr_stack(replicas, size)
    };
    let hcl = |replicas, size| with_nodes(2, replicas, size);

    // Workbench and stack in one run: the stack's pool goes on the cluster created first.
    ws.write_config(&hcl(1, "gpu-h100x1-80gb"))?;
    ws.apply()?;
    let (cluster, pool) = gpu_pool(&sim).expect("the GPU pool exists");
    assert_eq!(pool["size"], "gpu-h100x1-80gb");
    assert_eq!(pool["count"], 1);
    assert!(
        pool["tags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == "ipai-workbench:acc")
    );
    assert_eq!(pool["taints"][0]["key"], "nvidia.com/gpu");
    let values = ws.resource_values("ipai_ocr_stack.paddle")?.unwrap();
    assert_eq!(
        values["digitalocean_state"]["objects"]["acc-paddle-gpu"]["id"],
        pool["id"]
    );
    assert_eq!(
        values["monthly_cost_estimate"].as_f64(),
        Some(2_485.44),
        "one H100 node at the simulator's price"
    );
    assert_eq!(ws.plan()?.code, 0, "re-plan after apply is empty");

    // Two replicas need two GPU nodes: the pool grows in place.
    ws.write_config(&hcl(2, "gpu-h100x1-80gb"))?;
    let plan = ws.plan()?;
    assert!(
        plan.contains("ipai_ocr_stack.paddle will be updated in-place")
            && plan.contains("0 to add, 1 to change, 0 to destroy"),
        "{plan}"
    );
    ws.apply()?;
    let (same_cluster, grown) = gpu_pool(&sim).unwrap();
    assert_eq!(
        (same_cluster.as_str(), id(&grown)),
        (cluster.as_str(), id(&pool))
    );
    assert_eq!(grown["count"], 2);
    assert_eq!(ws.plan()?.code, 0);

    // Resized in the console: drift of the stack only (not of the workbench), repaired.
    assert!(sim.console_resize_pool(&cluster, &id(&pool), 5));
    let drift = ws.plan()?;
    assert_eq!(drift.code, 2, "drift must show:\n{drift}");
    assert!(
        drift.contains("acc-paddle-gpu") && drift.contains("0 to add, 1 to change, 0 to destroy"),
        "{drift}"
    );
    assert!(!drift.contains("ipai_workbench.wb will be"), "{drift}");
    ws.apply()?;
    assert_eq!(gpu_pool(&sim).unwrap().1["count"], 2);
    assert_eq!(ws.plan()?.code, 0, "drift repaired");

    // The workbench resizing its own pool leaves the stack's pool alone.
    ws.write_config(&with_nodes(3, 2, "gpu-h100x1-80gb"))?;
    ws.apply()?;
    assert_eq!(default_pool(&sim).2, 3);
    let (_, kept) = gpu_pool(&sim).unwrap();
    assert_eq!((id(&kept), kept["count"].as_u64()), (id(&pool), Some(2)));
    ws.write_config(&hcl(2, "gpu-h100x1-80gb"))?;
    ws.apply()?;
    assert_eq!(ws.plan()?.code, 0);

    // Deleted in the console: recreated.
    assert!(sim.console_delete_pool(&cluster, &id(&pool)));
    assert_eq!(ws.plan()?.code, 2);
    ws.apply()?;
    let (_, recreated) = gpu_pool(&sim).expect("the pool is back");
    assert_eq!(recreated["count"], 2);
    assert_eq!(ws.plan()?.code, 0);

    // Import finds the pool again.
    ws.run_ok(&["state", "rm", "-no-color", "ipai_ocr_stack.paddle"])?;
    ws.import("ipai_ocr_stack.paddle", "acc/paddle")?;
    let imported = ws.resource_values("ipai_ocr_stack.paddle")?.unwrap();
    assert_eq!(
        imported["digitalocean_state"]["objects"]["acc-paddle-gpu"]["id"],
        recreated["id"]
    );
    assert_eq!(ws.plan()?.code, 0, "imported state matches");

    // Another GPU size is another pool: the stack is replaced, the cluster stays.
    ws.write_config(&hcl(2, "gpu-l40sx1-48gb"))?;
    let plan = ws.plan()?;
    assert!(
        plan.contains("ipai_ocr_stack.paddle must be replaced")
            && plan.contains("forces replacement")
            && plan.contains("1 to add, 0 to change, 1 to destroy"),
        "{plan}"
    );
    ws.apply()?;
    let (still, l40s) = gpu_pool(&sim).unwrap();
    assert_eq!(still, cluster);
    assert_eq!(l40s["size"], "gpu-l40sx1-48gb");
    let pools = sim.clusters()[0]["node_pools"].as_array().unwrap().len();
    assert_eq!(pools, 2, "the default pool and the new GPU pool");
    assert_eq!(ws.plan()?.code, 0);

    // Terraform destroys the stack (its pool) before the workbench.
    let destroyed = destroy_leaves_nothing(&sim, &ws)?;
    assert!(destroyed.contains("2 destroyed"), "{destroyed}");
    Ok(())
}

#[test]
fn bad_gpu_sizes_and_a_missing_cluster_are_plan_diagnostics_and_nothing_is_created() -> Result<()> {
    let (sim, ws) = sim_and_workspace()?;
    let hcl = config(&ws, &sim, 2, r#""litellm""#) + &ocr_stack(1, "gpu-zz100x1-80gb");
    refused_at_plan(&sim, &ws, &hcl, &["Unknown size", "gpu-zz100x1-80gb"])?;

    // fra1 has no GPU droplets.
    let (sim, ws) = sim_and_workspace()?;
    let hcl = (config(&ws, &sim, 2, r#""litellm""#) + &ocr_stack(1, "gpu-h100x1-80gb"))
        .replace(r#"region     = "sgp1""#, r#"region     = "fra1""#);
    refused_at_plan(&sim, &ws, &hcl, &["Size not offered in the region"])?;

    // A stack whose workbench has no cluster (and is not in the configuration).
    let (sim, ws) = sim_and_workspace()?;
    let alone = config(&ws, &sim, 2, r#""litellm""#);
    let alone = alone[..alone.find("resource \"ipai_workbench\"").unwrap()].to_owned()
        + &ocr_stack(1, "gpu-h100x1-80gb").replace("ipai_workbench.wb.name", &hcl_string("acc"));
    refused_at_plan(&sim, &ws, &alone, &["Cluster not found", "acc-cluster"])
}

#[test]
fn ocr_gpu_pool_faults_leave_no_twins_and_a_failed_create_keeps_its_id() -> Result<()> {
    let (sim, ws) = sim_and_workspace()?;
    let base = config(&ws, &sim, 2, r#""litellm""#);
    ws.write_config(&base)?;
    ws.apply()?;
    let gpu_pools = || {
        sim.clusters()[0]["node_pools"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["name"] == "acc-paddle-gpu")
            .map(id)
            .collect::<Vec<_>>()
    };

    // The nodes take longer than the stack may wait: the create fails, with the pool's id
    // in state.
    sim.set_provisioning_polls(6);
    let impatient = ocr_stack(1, "gpu-h100x1-80gb").replace(r#"create = "5m""#, r#"create = "1s""#);
    ws.write_config(&(base.clone() + &impatient))?;
    let failed = ws.apply_err()?;
    assert!(
        failed.contains("Timed out waiting for DigitalOcean"),
        "{failed}"
    );
    let first = gpu_pools();
    assert_eq!(first.len(), 1);
    let values = ws.resource_values("ipai_ocr_stack.paddle")?.unwrap();
    assert_eq!(
        values["digitalocean_state"]["objects"]["acc-paddle-gpu"]["id"],
        first[0].as_str()
    );

    // The tainted stack is replaced from its saved id (the half-made pool goes first), and a
    // create whose answer is lost is found by name and adopted: one pool, no twin.
    sim.set_provisioning_polls(2);
    sim.inject(Fault::fail_after_commit(
        "POST",
        "/v2/kubernetes/clusters/{cluster_id}/node_pools",
    ));
    ws.write_config(&(base.clone() + &ocr_stack(1, "gpu-h100x1-80gb")))?;
    ws.apply()?;
    assert!(
        sim.pending_faults().is_empty(),
        "{:?}",
        sim.pending_faults()
    );
    let second = gpu_pools();
    assert_eq!(second.len(), 1, "no twin pool");
    assert_ne!(second, first, "the half-made pool was replaced");
    assert_eq!(ws.plan()?.code, 0);

    destroy_leaves_nothing(&sim, &ws)?;
    Ok(())
}
