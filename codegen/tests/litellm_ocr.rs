//! The LiteLLM gateway and OCR stacks beyond the shared snapshots (`kubernetes.rs`):
//! diagnostics for bad input, the gateway as an aggregate of route fragments, and the
//! merged `config.yaml` loaded by the real `litellm` package.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use ipai_codegen::aggregate::{aggregate, is_aggregate};
use ipai_codegen::expand::{expand_bundle, expand_litellm_route, expand_workbench};
use ipai_codegen::kubernetes::{litellm, ocr};
use ipai_codegen::spec::BundleSpec;
use ipai_codegen::{Diagnostics, Error, Renderer};

fn input(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(name)
}

fn expand(bundle: &BundleSpec) -> Result<BTreeMap<String, String>, Diagnostics> {
    match expand_bundle(bundle, &Renderer::embedded().unwrap()) {
        Ok(exp) => Ok(exp.files),
        Err(Error::Invalid(d)) => Err(d),
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn bad_input_is_diagnosed_and_nothing_is_written() {
    insta::glob!("invalid/*.yaml", |path| {
        let diags = expand(&common::load(path)).expect_err("invalid input expanded");
        assert!(diags.has_errors());
        let text = diags
            .0
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join("\n");
        insta::assert_snapshot!(text);
    });
}

#[test]
fn literal_keys_are_never_echoed() {
    let bundle = common::load(&input("tests/invalid/litellm-literal-key.yaml"));
    let diags = expand(&bundle).unwrap_err();
    let text = format!("{diags:?}");
    assert!(!text.contains("Zx81kQv0aQ3pLm7tYb2WcE9r"), "{text}");
    assert!(!text.contains("AIzaSyD4f8Qk2"), "{text}");
    assert!(!text.contains("s3cret"), "{text}");
}

fn seed_routes() -> BundleSpec {
    common::load(&input("tests/inputs/litellm-seed.yaml"))
}

#[test]
fn merged_config_does_not_depend_on_route_order() {
    let mut bundle = seed_routes();
    let first = expand(&bundle).unwrap();
    bundle.litellm_routes.reverse();
    assert_eq!(first, expand(&bundle).unwrap());
}

fn checksum(deployment: &str) -> &str {
    deployment
        .lines()
        .find_map(|l| l.trim().strip_prefix("checksum/config: "))
        .expect("checksum annotation")
}

#[test]
fn a_route_change_changes_the_config_and_rolls_the_gateway() {
    let mut bundle = seed_routes();
    let before = expand(&bundle).unwrap();
    bundle.litellm_routes[1].timeout = 30;
    let after = expand(&bundle).unwrap();
    let cm = "insightpulse/kubernetes/litellm/configmap.yaml";
    let dep = "insightpulse/kubernetes/litellm/deployment.yaml";
    assert_ne!(before[cm], after[cm]);
    assert_ne!(checksum(&before[dep]), checksum(&after[dep]));
}

#[test]
fn one_route_at_a_time_writes_what_the_bundle_writes() {
    let bundle = seed_routes();
    let expected = expand(&bundle).unwrap();
    let r = Renderer::embedded().unwrap();
    let wb = &bundle.workbench.name;
    // As the provider does: the workbench first, then each route with the fragments of the
    // routes already applied, then the aggregates recomputed from what is on disk.
    let mut disk = expand_workbench(&bundle.workbench, &r).unwrap().files;
    let mut applied: Vec<_> = Vec::new();
    let mut pending = bundle.litellm_routes.clone();
    while !pending.is_empty() {
        // Terraform orders a route after the routes its fallbacks reference.
        let i = pending
            .iter()
            .position(|p| {
                p.fallbacks.iter().all(|f| {
                    applied
                        .iter()
                        .any(|a: &ipai_codegen::spec::LitellmRouteSpec| &a.model_name == f)
                })
            })
            .unwrap();
        let route = pending.remove(i);
        let exp = expand_litellm_route(&route, &applied).unwrap();
        disk.extend(exp.files);
        let aggregates = aggregate(wb, &disk, &r).unwrap();
        disk.retain(|p, _| !is_aggregate(wb, p) || aggregates.contains_key(p));
        disk.extend(aggregates);
        applied.push(route);
    }
    assert_eq!(disk, expected);
}

#[test]
fn the_gateway_goes_with_the_last_route() {
    let bundle = seed_routes();
    let r = Renderer::embedded().unwrap();
    let wb = &bundle.workbench.name;
    let mut disk = expand(&bundle).unwrap();
    let gateway = format!("{wb}/kubernetes/litellm/deployment.yaml");
    let top = format!("{wb}/kubernetes/kustomization.yaml");
    assert!(disk.contains_key(&gateway) && disk[&top].contains("\"litellm\""));
    disk.retain(|p, _| !p.contains("/litellm/routes/"));
    let aggregates = aggregate(wb, &disk, &r).unwrap();
    disk.retain(|p, _| !is_aggregate(wb, p) || aggregates.contains_key(p));
    disk.extend(aggregates);
    assert!(
        !disk.keys().any(|p| p.contains("/kubernetes/litellm/")),
        "{disk:#?}"
    );
    assert!(!disk[&top].contains("litellm"), "{}", disk[&top]);
}

#[test]
fn a_hand_edited_fragment_is_a_diagnostic() {
    let bundle = seed_routes();
    let r = Renderer::embedded().unwrap();
    let wb = &bundle.workbench.name;
    let mut disk = expand(&bundle).unwrap();
    let fragment = format!("{wb}/kubernetes/litellm/routes/gpt-4o.yaml");
    disk.insert(fragment.clone(), "model_name: [".into());
    let Err(Error::Invalid(d)) = aggregate(wb, &disk, &r) else {
        panic!("a broken fragment was merged");
    };
    assert!(d.0[0].detail.starts_with(&fragment), "{d:?}");
}

#[test]
fn spec_files_read_back_as_the_resource() {
    for route in seed_routes().litellm_routes {
        let (path, text) = litellm::fragment(&route).unwrap();
        assert_eq!(litellm::parse_fragment(&path, &text).unwrap(), route);
    }
    let diags = litellm::parse_fragment("x.yaml", "model_name: [").unwrap_err();
    assert!(diags.0[0].detail.starts_with("x.yaml: "));
    for stack in common::load(&input("tests/inputs/ocr-autoscaled.yaml")).ocr_stacks {
        let (path, text) = ocr::spec_file(&stack).unwrap();
        assert_eq!(ocr::parse_spec_file(&path, &text).unwrap(), stack);
    }
}

/// A tool of the project's Python venv; in CI its absence fails the test, locally it is
/// a loud skip.
fn venv_tool(name: &str) -> Option<PathBuf> {
    let path = input("../.venv/bin").join(name);
    if path.exists() {
        return Some(path);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{} is missing: CI must provide the Python venv",
        path.display()
    );
    eprintln!(
        "\n!!! SKIPPED: {} is missing; run scripts/setup.sh to create the venv\n",
        path.display()
    );
    None
}

#[test]
fn litellm_loads_the_merged_config() {
    let Some(python) = venv_tool("python") else {
        return;
    };
    // Per input with routes: its merged config, and what the bundle asked for.
    let mut configs = BTreeMap::new();
    let mut wanted = BTreeMap::new();
    for entry in std::fs::read_dir(input("tests/inputs")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let bundle = common::load(&path);
        let files = common::expand(&path).files;
        let cm = format!(
            "{}/kubernetes/litellm/configmap.yaml",
            bundle.workbench.name
        );
        let Some(text) = files.get(&cm) else {
            assert!(
                bundle.litellm_routes.is_empty(),
                "{name}: routes but no gateway"
            );
            continue;
        };
        let cm: serde_json::Value = serde_saphyr::from_str(text).unwrap();
        configs.insert(
            name.clone(),
            cm["data"]["config.yaml"].as_str().unwrap().to_owned(),
        );
        let targets: usize = bundle.litellm_routes.iter().map(|r| r.targets.len()).sum();
        let mut groups: Vec<String> = bundle
            .litellm_routes
            .iter()
            .map(|r| r.model_name.clone())
            .collect();
        groups.sort();
        wanted.insert(name, (targets, groups));
    }
    assert!(configs.len() >= 3, "{configs:?}");
    let job = serde_json::json!({
        "strategies": ipai_codegen::spec::litellm::ROUTING_STRATEGIES,
        "configs": configs,
    });
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/litellm_check.py");
    let out = Command::new(python)
        .arg(script)
        .arg(job.to_string())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for (name, (targets, groups)) in &wanted {
        let r = &report[name];
        // LiteLLM silently drops deployments it cannot load: every target must survive.
        assert_eq!(r["deployments"], *targets, "{name}: {report}");
        assert_eq!(r["groups"], serde_json::json!(groups), "{name}");
        for g in groups {
            assert_eq!(r["answers"][g], "ok", "{name}: {g}");
        }
    }
    let seed = &report["litellm-seed.yaml"];
    assert_eq!(seed["deployments"], 4, "{report}");
    assert_eq!(seed["routing_strategy"], "usage-based-routing-v2");
    assert_eq!(
        report["litellm-single.yaml"]["routing_strategy"],
        "simple-shuffle"
    );
}

#[test]
fn the_litellm_check_fails_on_what_litellm_lets_through() {
    let Some(python) = venv_tool("python") else {
        return;
    };
    // LiteLLM itself accepts a fallback to a model group that does not exist.
    let config = "model_list:\n  - model_name: a\n    litellm_params:\n      model: openai/gpt-4o\n\
                  router_settings:\n  routing_strategy: simple-shuffle\n  fallbacks:\n    - a: [nowhere]\n  \
                  redis_host: x\n  redis_port: x\n  redis_password: x\n";
    let job = serde_json::json!({"strategies": [], "configs": {"bad": config}});
    let out = Command::new(python)
        .arg(input("tests/litellm_check.py"))
        .arg(job.to_string())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("a -> nowhere: no such model group"),
        "{stderr}"
    );
}
