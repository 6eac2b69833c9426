//! DigitalOcean expansion: one snapshot of the objects and cost per input file, and the
//! diagnostics a user gets for bad DigitalOcean settings.

mod common;

use ipai_codegen::{
    AttrPath, DoKind, Error, Expansion,
    digitalocean::{self, PriceTable},
    spec::{BundleSpec, WorkbenchSpec},
};
use serde_json::json;

/// The workbench's objects plus the GPU pools of the input's OCR stacks.
fn expand(bundle: &BundleSpec) -> Expansion {
    let mut exp = digitalocean::workbench(&bundle.workbench).expect("input expands");
    for stack in &bundle.ocr_stacks {
        if let Some(pool) = ipai_codegen::kubernetes::ocr::gpu_pool(stack).unwrap() {
            exp.merge(pool);
        }
    }
    exp
}

fn load(path: &std::path::Path) -> BundleSpec {
    common::load(path)
}

#[test]
fn digitalocean_objects_per_input() {
    insta::glob!("inputs/*.yaml", |path| {
        let exp = expand(&load(path));
        insta::assert_yaml_snapshot!(json!({
            "monthly_cost_cents": exp.monthly_cost_cents,
            "objects": exp.digitalocean,
        }));
    });
}

#[test]
fn expansion_is_deterministic_and_ordered_by_dependencies() {
    insta::glob!("inputs/*.yaml", |path| {
        let doc = load(path);
        let a = serde_json::to_vec(&expand(&doc).digitalocean).unwrap();
        let b = serde_json::to_vec(&expand(&doc).digitalocean).unwrap();
        assert_eq!(a, b, "same input, same bytes");
        let objects = expand(&doc).digitalocean;
        for (i, o) in objects.iter().enumerate() {
            for dep in &o.depends_on {
                assert!(
                    objects[..i].iter().any(|e| &e.name == dep),
                    "{} depends on {dep}, which does not come before it",
                    o.name
                );
            }
        }
        let mut names: Vec<_> = objects.iter().map(|o| &o.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), objects.len(), "object names are unique");
    });
}

fn seed() -> WorkbenchSpec {
    load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/inputs/seed.yaml")).workbench
}

/// The diagnostics of an invalid spec, as `(path, summary)`.
fn errors(spec: &WorkbenchSpec) -> Vec<(String, String)> {
    match digitalocean::workbench(spec) {
        Err(Error::Invalid(d)) => {
            d.0.iter()
                .map(|d| (d.path.to_string(), d.summary.clone()))
                .collect()
        }
        other => panic!("expected diagnostics, got {other:?}"),
    }
}

#[test]
fn invalid_cidrs_are_diagnosed_at_their_path() {
    let mut s = seed();
    s.vpc_cidr = "10.10.0.0/33".into();
    s.firewall.ssh_sources = vec!["203.0.113.0/24".into(), "not-a-cidr".into()];
    assert_eq!(
        errors(&s),
        [
            ("vpc_cidr".into(), "Invalid CIDR".into()),
            (
                "firewall.ssh_sources[1]".into(),
                "Invalid SSH source".into()
            ),
        ]
    );
    s = seed();
    s.vpc_cidr = "10.244.0.0/16".into();
    assert_eq!(
        errors(&s),
        [(
            "vpc_cidr".into(),
            "VPC range overlaps the cluster's internal ranges".into()
        )]
    );
    s.vpc_cidr = "8.8.0.0/16".into();
    assert_eq!(
        errors(&s),
        [("vpc_cidr".into(), "VPC range is not private".into())]
    );
}

#[test]
fn node_count_outside_autoscale_bounds_is_diagnosed() {
    let mut s = seed();
    s.cluster.node_count = 7;
    assert_eq!(
        errors(&s),
        [(
            "cluster.node_count".into(),
            "Node count outside the autoscale bounds".into()
        )]
    );
    s.cluster.node_count = 3;
    s.cluster.autoscale.as_mut().unwrap().min = 7;
    assert_eq!(
        errors(&s),
        [(
            "cluster.autoscale".into(),
            "Invalid autoscale bounds".into()
        )]
    );
}

#[test]
fn bad_slugs_are_diagnosed() {
    let mut s = seed();
    s.region = "Singapore".into();
    s.cluster.node_size = "S 4vcpu".into();
    s.cluster.version = "v1.33".into();
    s.registry_tier = "gold".into();
    assert_eq!(
        errors(&s),
        [
            ("region".into(), "Invalid region slug".into()),
            ("cluster.node_size".into(), "Invalid size slug".into()),
            (
                "cluster.version".into(),
                "Invalid Kubernetes version".into()
            ),
            ("registry_tier".into(), "Unknown registry tier".into()),
        ]
    );
    let gpu = digitalocean::ocr_gpu_pool("ipai", "paddle", "GPU!", 0, &AttrPath::attr("gpu"));
    let Err(Error::Invalid(d)) = gpu else {
        panic!("expected diagnostics")
    };
    let paths: Vec<String> = d.0.iter().map(|d| d.path.to_string()).collect();
    assert_eq!(paths, ["gpu.node_size", "gpu.count"]);
}

#[test]
fn a_workbench_pool_named_like_a_gpu_pool_is_diagnosed() {
    let mut s = seed();
    s.cluster.node_pools = serde_json::from_value(json!([
        { "name": "paddle-gpu", "node_size": "s-4vcpu-8gb" },
        { "name": "gpu", "node_size": "s-4vcpu-8gb" },
    ]))
    .unwrap();
    assert_eq!(
        errors(&s),
        [(
            "cluster.node_pools[0].name".into(),
            "Reserved node pool name".into()
        )]
    );
}

#[test]
fn bad_tags_and_timeouts_are_diagnosed() {
    let mut s = seed();
    s.tags.insert("cost center".into(), "x".into());
    s.timeouts.create = Some("ten minutes".into());
    assert_eq!(
        errors(&s),
        [
            ("tags[\"cost center\"]".into(), "Invalid tag".into()),
            ("timeouts.create".into(), "Invalid duration".into()),
        ]
    );
}

#[test]
fn firewall_opens_only_the_documented_ports() {
    let exp = digitalocean::workbench(&seed()).unwrap();
    let fw = exp
        .digitalocean
        .iter()
        .find(|o| o.kind == DoKind::Firewall)
        .unwrap();
    let ports = |rules: &str| -> Vec<String> {
        fw.spec[rules]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                format!(
                    "{}/{}",
                    r["protocol"].as_str().unwrap(),
                    r["ports"].as_str().unwrap()
                )
            })
            .collect()
    };
    assert_eq!(ports("inbound_rules"), ["tcp/443", "tcp/80", "tcp/22"]);
    assert_eq!(
        fw.spec["inbound_rules"][2]["sources"]["addresses"],
        json!(["203.0.113.0/24"])
    );
    assert_eq!(
        ports("outbound_rules"),
        [
            "tcp/443",
            "tcp/5432",
            "tcp/6543",
            "tcp/6333",
            "tcp/6379",
            "tcp/25061",
            "udp/53",
            "tcp/53"
        ]
    );
    let mut no_ssh = seed();
    no_ssh.firewall.ssh_sources.clear();
    let exp = digitalocean::workbench(&no_ssh).unwrap();
    let fw = exp
        .digitalocean
        .iter()
        .find(|o| o.kind == DoKind::Firewall)
        .unwrap();
    assert!(
        !fw.spec.to_string().contains("\"22\""),
        "no SSH sources, no port 22"
    );
}

#[test]
fn cost_follows_node_count_size_and_live_prices() {
    let s = seed();
    // 3 × s-4vcpu-8gb at $48 + basic registry at $5.
    assert_eq!(
        digitalocean::workbench(&s).unwrap().monthly_cost_cents,
        3 * 4800 + 500
    );
    let mut bigger = s.clone();
    bigger.cluster.node_count = 5;
    assert_eq!(
        digitalocean::workbench(&bigger).unwrap().monthly_cost_cents,
        5 * 4800 + 500
    );
    let objects = digitalocean::workbench(&s).unwrap().digitalocean;
    let mut live = PriceTable::builtin();
    assert_eq!(live.size("gpu-h100x8-640gb"), Some(8 * 672 * 674));
    live.set("s-4vcpu-8gb", 5000);
    assert_eq!(
        digitalocean::estimate_monthly_cents(&objects, &live),
        3 * 5000 + 500
    );
}

#[test]
fn durations_parse_like_terraform_timeouts() {
    let secs = |s| digitalocean::parse_duration(s).map(|d| d.as_secs());
    assert_eq!(secs("30m"), Some(1800));
    assert_eq!(secs("1h30m"), Some(5400));
    assert_eq!(secs("90s"), Some(90));
    assert_eq!(secs("30"), None);
    assert_eq!(secs("1d"), None);
    assert_eq!(secs(""), None);
}
