//! The DigitalOcean create bodies `codegen` expands for every test input are on contract.

use std::path::Path;

use ipai_acceptance_tests::do_sim::check_request;
use ipai_codegen::{
    DoKind, Renderer,
    expand::expand_bundle,
    spec::{
        BundleSpec,
        source::{Format, parse},
    },
};

const ID: &str = "6d3c1a60-0d3a-4b6f-9d39-2e9f5a1e0b11";

#[test]
fn every_expanded_create_body_matches_the_openapi_contract() {
    let inputs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../codegen/tests/inputs");
    let mut checked = 0;
    let mut problems = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(&inputs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    entries.sort();
    assert!(!entries.is_empty(), "no inputs in {}", inputs.display());
    for input in entries {
        let text = std::fs::read_to_string(&input).unwrap();
        let bundle: BundleSpec = parse(&text, Format::of(&input)).unwrap();
        let domain = bundle.workbench.domain.clone();
        let exp = expand_bundle(&bundle, &Renderer::embedded().unwrap()).unwrap();
        for obj in &exp.digitalocean {
            let path = match obj.kind {
                DoKind::Project => "/v2/projects".to_string(),
                DoKind::Vpc => "/v2/vpcs".to_string(),
                DoKind::KubernetesCluster => "/v2/kubernetes/clusters".to_string(),
                DoKind::NodePool => format!("/v2/kubernetes/clusters/{ID}/node_pools"),
                DoKind::Firewall => "/v2/firewalls".to_string(),
                DoKind::Registry => "/v2/registry".to_string(),
                DoKind::DomainRecord => format!("/v2/domains/{domain}/records"),
                DoKind::UptimeCheck => "/v2/uptime/checks".to_string(),
                DoKind::UptimeAlert => format!("/v2/uptime/checks/{ID}/alerts"),
            };
            checked += 1;
            for p in check_request("POST", &path, &obj.spec).unwrap() {
                problems.push(format!(
                    "{}: {:?} {}: {p}",
                    input.file_name().unwrap().to_string_lossy(),
                    obj.kind,
                    obj.name
                ));
            }
        }
    }
    assert!(checked > 20, "{checked} objects");
    // The check bites: a VPC without a name, a pool without a size.
    let bad = check_request("POST", "/v2/vpcs", &serde_json::json!({"region": "sgp1"})).unwrap();
    assert!(bad.iter().any(|p| p.contains("name")), "{bad:?}");
    let pool = serde_json::json!({"name": "p", "count": 1});
    let bad = check_request(
        "POST",
        &format!("/v2/kubernetes/clusters/{ID}/node_pools"),
        &pool,
    );
    assert!(bad.unwrap().iter().any(|p| p.contains("size")));
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
