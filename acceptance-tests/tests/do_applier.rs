//! The DigitalOcean applier against the simulator (in process, no terraform): create,
//! no-op re-apply, in-place resize, drift, faults without twins, partial progress,
//! plan-time checks, kubeconfig and a destroy that leaves nothing.

use std::time::Duration;

use ipai_acceptance_tests::do_sim::{DoSim, Fault, SimOptions};
use ipai_codegen::{DoObject, digitalocean, spec::WorkbenchSpec};
use ipai_provider::digitalocean::{
    Applier, Client, ClientConfig, DoState, Origin, PlanCheck, Token, apply::ABSENT, summaries,
};
use serde_json::json;

fn spec() -> WorkbenchSpec {
    serde_json::from_value(json!({
        "name": "acc",
        "region": "sgp1",
        "domain": "acc.example.com",
        "cluster": {"node_size": "s-2vcpu-4gb", "node_count": 2,
                    "node_pools": [{"name": "batch", "node_size": "s-2vcpu-4gb", "node_count": 1}]},
        "vpc_cidr": "10.20.0.0/16",
        "firewall": {"ssh_sources": ["203.0.113.0/24"]},
        "subdomains": ["litellm", "n8n"],
        "ingress_ip": "203.0.113.10",
        "uptime": {"alert_emails": ["ops@example.com"]},
    }))
    .unwrap()
}

fn desired(s: &WorkbenchSpec) -> Vec<DoObject> {
    digitalocean::workbench(s).unwrap().digitalocean
}

fn applier(sim: &DoSim) -> Applier {
    let mut cfg = ClientConfig::new(Token::new(sim.token()));
    cfg.endpoint = sim.base_url().to_owned();
    cfg.base_backoff = Duration::from_millis(5);
    cfg.max_backoff = Duration::from_millis(100);
    let mut a = Applier::new(Client::new(cfg).unwrap());
    a.poll_interval = Duration::from_millis(5);
    a.timeouts.create = Duration::from_secs(60);
    a
}

fn writes(sim: &DoSim) -> Vec<String> {
    sim.requests()
        .into_iter()
        .filter(|r| r.method != "GET")
        .map(|r| format!("{} {} {}", r.method, r.path, r.status))
        .collect()
}

#[tokio::test]
async fn apply_reapply_observe_and_destroy_leave_nothing() {
    let sim = DoSim::start(SimOptions::default()).unwrap();
    let a = applier(&sim);
    let want = desired(&spec());
    let mut state = DoState::default();
    a.apply(&want, &mut state).await.unwrap();

    assert_eq!(state.objects.len(), want.len(), "every object recorded");
    let clusters = sim.clusters();
    assert_eq!(clusters.len(), 1);
    assert_eq!(clusters[0]["status"]["state"], "running");
    assert_eq!(
        clusters[0]["node_pools"].as_array().unwrap().len(),
        2,
        "default + batch"
    );
    assert_eq!(sim.firewalls().len(), 1);
    assert_eq!(sim.uptime_checks().len(), 2);
    let records: Vec<_> = sim
        .domain_records("acc.example.com")
        .into_iter()
        .filter(|r| r["type"] == "A")
        .map(|r| r["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(records, ["litellm", "n8n"]);
    let project = sim
        .projects()
        .into_iter()
        .find(|p| p["name"] == "acc-project")
        .unwrap();
    let urns = sim.project_resources(project["id"].as_str());
    assert!(
        urns.iter().any(|u| u.starts_with("do:kubernetes:")),
        "{urns:?}"
    );

    let mut observed_state = state.clone();
    assert_eq!(
        a.observe(&want, &mut observed_state).await.unwrap(),
        summaries(&want),
        "no drift"
    );

    let before = writes(&sim).len();
    a.apply(&want, &mut state).await.unwrap();
    assert_eq!(
        writes(&sim)[before..],
        [] as [String; 0],
        "a second apply changes nothing"
    );

    // The cluster's workloads made a load balancer and a volume; destroy takes them too.
    assert!(!sim.load_balancers().is_empty() && !sim.volumes().is_empty());
    a.destroy(&want, &mut state).await.unwrap();
    assert_eq!(sim.leftovers(), [] as [String; 0]);
    assert!(state.objects.is_empty() && state.created_domain.is_none());
    sim.assert_contract_clean();
}

#[tokio::test]
async fn resizing_pools_keeps_the_cluster() {
    let sim = DoSim::start(SimOptions::default()).unwrap();
    let a = applier(&sim);
    let mut s = spec();
    let mut state = DoState::default();
    a.apply(&desired(&s), &mut state).await.unwrap();
    let cluster_id = sim.clusters()[0]["id"].clone();

    s.cluster.node_count = 3;
    s.cluster.node_pools[0].node_count = 2;
    let want = desired(&s);
    a.apply(&want, &mut state).await.unwrap();

    let clusters = sim.clusters();
    assert_eq!(clusters.len(), 1);
    assert_eq!(clusters[0]["id"], cluster_id, "same cluster");
    let counts: Vec<_> = clusters[0]["node_pools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_owned(),
                p["count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert!(counts.contains(&("acc-default".into(), 3)), "{counts:?}");
    assert!(counts.contains(&("acc-batch".into(), 2)), "{counts:?}");
    assert!(
        !writes(&sim).iter().any(|w| w.starts_with("DELETE")),
        "nothing deleted"
    );
    let mut st = state.clone();
    assert_eq!(a.observe(&want, &mut st).await.unwrap(), summaries(&want));

    // Removing the extra pool deletes just that pool.
    s.cluster.node_pools.clear();
    a.apply(&desired(&s), &mut state).await.unwrap();
    assert_eq!(sim.clusters()[0]["node_pools"].as_array().unwrap().len(), 1);
    assert_eq!(sim.clusters()[0]["id"], cluster_id);
    a.destroy(&desired(&s), &mut state).await.unwrap();
    assert_eq!(sim.leftovers(), [] as [String; 0]);
}

#[tokio::test]
async fn drift_shows_in_observe_and_apply_repairs_it() {
    let sim = DoSim::start(SimOptions::default()).unwrap();
    let a = applier(&sim);
    let want = desired(&spec());
    let mut state = DoState::default();
    a.apply(&want, &mut state).await.unwrap();
    let cluster = &sim.clusters()[0];
    let pool = cluster["node_pools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "acc-default")
        .unwrap()
        .clone();
    assert!(sim.console_resize_pool(
        cluster["id"].as_str().unwrap(),
        pool["id"].as_str().unwrap(),
        5
    ));
    let fw = sim.firewalls()[0]["id"].as_str().unwrap().to_owned();
    assert!(sim.console_remove_firewall_rule(&fw, "443"));

    let observed = a.observe(&want, &mut state).await.unwrap();
    let planned = summaries(&want);
    let drifted: Vec<&String> = planned
        .keys()
        .filter(|k| observed[*k] != planned[*k])
        .collect();
    assert_eq!(drifted, ["acc-cluster", "acc-firewall"]);
    assert!(
        observed["acc-cluster"].contains("\"count\":5"),
        "{}",
        observed["acc-cluster"]
    );

    a.apply(&want, &mut state).await.unwrap();
    assert_eq!(
        a.observe(&want, &mut state).await.unwrap(),
        planned,
        "repaired"
    );
    assert_eq!(sim.clusters().len(), 1);
    a.destroy(&want, &mut state).await.unwrap();
    assert_eq!(sim.leftovers(), [] as [String; 0]);
}

#[tokio::test]
async fn faults_are_survived_without_twins() {
    let sim = DoSim::start(SimOptions::default()).unwrap();
    sim.set_provisioning_polls(6);
    sim.inject(
        Fault::rate_limited("POST", "/v2/vpcs")
            .retry_after(0)
            .times(2),
    );
    sim.inject(Fault::server_error("POST", "/v2/kubernetes/clusters"));
    sim.inject(Fault::fail_after_commit("POST", "/v2/kubernetes/clusters"));
    sim.inject(Fault::fail_after_commit("POST", "/v2/firewalls"));
    sim.inject(Fault::fail_after_commit("POST", "/v2/uptime/checks"));
    sim.inject(Fault::fail_after_commit(
        "POST",
        "/v2/domains/{domain_name}/records",
    ));
    sim.inject(Fault::server_error("GET", "/v2/kubernetes/clusters/{cluster_id}").times(2));
    let a = applier(&sim);
    let want = desired(&spec());
    let mut state = DoState::default();
    a.apply(&want, &mut state).await.unwrap();
    assert!(
        sim.pending_faults().is_empty(),
        "every fault fired: {:?}",
        sim.pending_faults()
    );

    assert_eq!(
        sim.vpcs().iter().filter(|v| v["name"] == "acc-vpc").count(),
        1
    );
    assert_eq!(sim.clusters().len(), 1);
    assert_eq!(sim.firewalls().len(), 1);
    assert_eq!(sim.uptime_checks().len(), 2);
    let a_records = sim
        .domain_records("acc.example.com")
        .into_iter()
        .filter(|r| r["type"] == "A")
        .count();
    assert_eq!(a_records, 2);
    let mut st = state.clone();
    assert_eq!(a.observe(&want, &mut st).await.unwrap(), summaries(&want));
    a.destroy(&want, &mut state).await.unwrap();
    assert_eq!(sim.leftovers(), [] as [String; 0]);
    sim.assert_contract_clean();
}

#[tokio::test]
async fn a_failed_apply_keeps_its_progress_and_a_retry_adopts_it() {
    let sim = DoSim::start(SimOptions::default()).unwrap();
    let mut a = applier(&sim);
    a.timeouts.create = Duration::from_millis(600);
    sim.inject(Fault::server_error("POST", "/v2/firewalls").times(3));
    let want = desired(&spec());
    let mut state = DoState::default();
    let err = a.apply(&want, &mut state).await.unwrap_err();
    assert_eq!(err.object, "acc-firewall");
    for name in ["acc-project", "acc-vpc", "acc-cluster", "acc-batch"] {
        assert!(
            state.objects.contains_key(name),
            "{name} recorded after the failure"
        );
    }
    assert!(!state.objects.contains_key("acc-firewall"));

    // A run that lost the state (say, another machine) finds everything by name and tag.
    let b = applier(&sim);
    let mut fresh = DoState::default();
    b.apply(&want, &mut fresh).await.unwrap();
    assert!(
        sim.pending_faults().is_empty(),
        "the last 500 was met and survived"
    );
    assert_eq!(sim.clusters().len(), 1, "adopted, not twinned");
    assert_eq!(sim.firewalls().len(), 1);
    assert_eq!(fresh.objects["acc-cluster"], state.objects["acc-cluster"]);
    // Tagged objects prove they are the workbench's; a project and a VPC (no tags) found
    // by name could be anyone's, so without the lost state they are adopted and kept.
    for (name, origin) in [
        ("acc-cluster", Origin::Created),
        ("acc-batch", Origin::Created),
        ("acc-project", Origin::Adopted),
        ("acc-vpc", Origin::Adopted),
    ] {
        assert_eq!(fresh.objects[name].origin, Some(origin), "{name}");
    }
    b.destroy(&want, &mut fresh).await.unwrap();
    let left = sim.leftovers();
    assert_eq!(left.len(), 2, "{left:?}");
    assert!(
        left[0].starts_with("vpc acc-vpc ") && left[1].starts_with("project acc-project "),
        "{left:?}"
    );
    sim.assert_contract_clean();
}

#[tokio::test]
async fn destroy_after_a_failed_apply_finds_everything() {
    let sim = DoSim::start(SimOptions::default()).unwrap();
    let mut a = applier(&sim);
    a.timeouts.create = Duration::from_millis(500);
    sim.set_provisioning_polls(1_000_000);
    let want = desired(&spec());
    let mut state = DoState::default();
    let err = a.apply(&want, &mut state).await.unwrap_err();
    assert_eq!(err.summary, "Timed out waiting for DigitalOcean");
    assert!(state.objects.contains_key("acc-cluster"));
    a.destroy(&want, &mut state).await.unwrap();
    assert_eq!(sim.leftovers(), [] as [String; 0]);
}

#[tokio::test]
async fn plan_check_reports_unknown_slugs_and_overlapping_vpcs() {
    let sim = DoSim::start(SimOptions::default()).unwrap();
    let a = applier(&sim);
    let (d, prices) = a.plan_check(&PlanCheck::workbench(&spec())).await.unwrap();
    assert!(d.0.is_empty(), "{d:?}");
    assert_eq!(
        prices.size("s-4vcpu-8gb"),
        Some(4800),
        "prices from /v2/sizes"
    );

    let mut bad = spec();
    bad.region = "zzz9".into();
    bad.cluster.node_size = "s-99vcpu-1tb".into();
    bad.vpc_cidr = "10.104.0.0/16".into(); // the default VPC is 10.104.0.0/20
    let (d, _) = a.plan_check(&PlanCheck::workbench(&bad)).await.unwrap();
    let got: Vec<(String, String)> =
        d.0.iter()
            .map(|d| (d.path.to_string(), d.summary.clone()))
            .collect();
    assert_eq!(
        got,
        [
            ("region".to_owned(), "Unknown region".to_owned()),
            ("cluster.node_size".to_owned(), "Unknown size".to_owned()),
            (
                "vpc_cidr".to_owned(),
                "VPC range overlaps an existing VPC".to_owned()
            ),
        ]
    );
    assert!(sim.leftovers().is_empty(), "checks create nothing");
}

#[tokio::test]
async fn kubeconfig_is_fetched_fresh_each_time() {
    let sim = DoSim::start(SimOptions::default()).unwrap();
    let a = applier(&sim);
    let want = desired(&spec());
    let mut state = DoState::default();
    a.apply(&want, &mut state).await.unwrap();
    let one = a.kubeconfig("acc-cluster").await.unwrap();
    let two = a.kubeconfig("acc-cluster").await.unwrap();
    assert!(one.contains("apiVersion"), "{one}");
    assert_ne!(one, two, "a fresh credential each time");
    let err = a.kubeconfig("nope").await.unwrap_err();
    assert_eq!(err.summary, "No such cluster");
    a.destroy(&want, &mut state).await.unwrap();
    let mut after = DoState::default();
    let observed = a.observe(&want, &mut after).await.unwrap();
    assert!(observed.values().all(|v| v == ABSENT));
}
