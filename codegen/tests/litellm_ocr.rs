//! The LiteLLM gateway and OCR stacks, driven by input files: snapshots of the generated
//! manifests, diagnostics for bad input, `kubernetes-validate --strict` over every manifest
//! and the merged `config.yaml` loaded by the real `litellm` package.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use ipai_codegen::kubernetes::{litellm, ocr};
use ipai_codegen::spec::{LitellmRouteSpec, OcrStackSpec, WorkbenchSpec};
use ipai_codegen::{AttrPath, Diagnostics, Error, Renderer};
use serde::Deserialize;

/// The parts of a bundle input these tests read.
#[derive(Deserialize)]
struct Input {
    workbench: WorkbenchSpec,
    #[serde(default)]
    litellm_routes: Vec<LitellmRouteSpec>,
    #[serde(default)]
    ocr_stacks: Vec<OcrStackSpec>,
}

fn load(path: &Path) -> Input {
    let text = std::fs::read_to_string(path).unwrap();
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn expand(input: &Input) -> Result<BTreeMap<String, String>, Diagnostics> {
    let r = Renderer::embedded().unwrap();
    let wb = &input.workbench;
    let mut diags = Diagnostics::new();
    let mut files = BTreeMap::new();
    match litellm::bundle_files(&wb.name, &wb.domain, &input.litellm_routes, &r) {
        Ok(f) => files.extend(f),
        Err(Error::Invalid(d)) => diags.extend(d),
        Err(e) => panic!("{e}"),
    }
    for (i, stack) in input.ocr_stacks.iter().enumerate() {
        match ocr::manifests(stack, &wb.domain, &r) {
            Ok(f) => files.extend(f),
            Err(Error::Invalid(d)) => {
                diags.extend(d.prefixed(&AttrPath::attr("ocr_stacks").index(i)));
            }
            Err(e) => panic!("{e}"),
        }
    }
    if diags.has_errors() {
        Err(diags)
    } else {
        Ok(files)
    }
}

fn listing(files: &BTreeMap<String, String>) -> String {
    files
        .iter()
        .map(|(path, text)| format!("# ==== {path}\n{text}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn valid_inputs() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/inputs");
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.ends_with(".yaml") && (name.starts_with("litellm-") || name.starts_with("ocr-"))
        })
        .collect();
    out.sort();
    out
}

#[test]
fn manifests() {
    insta::glob!("inputs/{litellm,ocr}-*.yaml", |path| {
        let files = expand(&load(path)).unwrap_or_else(|d| panic!("{d:#?}"));
        insta::assert_snapshot!(listing(&files));
    });
}

#[test]
fn bad_input_is_diagnosed_and_nothing_is_written() {
    insta::glob!("invalid/*.yaml", |path| {
        let diags = expand(&load(path)).expect_err("invalid input expanded");
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
    let input =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/invalid/litellm-literal-key.yaml");
    let diags = expand(&load(&input)).unwrap_err();
    let text = format!("{diags:?}");
    assert!(!text.contains("Zx81kQv0aQ3pLm7tYb2WcE9r"), "{text}");
    assert!(!text.contains("AIzaSyD4f8Qk2"), "{text}");
    assert!(!text.contains("s3cret"), "{text}");
}

fn seed_routes() -> Input {
    load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/inputs/litellm-seed.yaml"))
}

#[test]
fn merged_config_does_not_depend_on_route_order() {
    let mut input = seed_routes();
    let first = expand(&input).unwrap();
    input.litellm_routes.reverse();
    assert_eq!(first, expand(&input).unwrap());
}

fn checksum(deployment: &str) -> &str {
    deployment
        .lines()
        .find_map(|l| l.trim().strip_prefix("checksum/config: "))
        .expect("checksum annotation")
}

#[test]
fn a_route_change_changes_the_config_and_rolls_the_gateway() {
    let mut input = seed_routes();
    let before = expand(&input).unwrap();
    input.litellm_routes[1].timeout = 30;
    let after = expand(&input).unwrap();
    let cm = "insightpulse/kubernetes/litellm/configmap.yaml";
    let dep = "insightpulse/kubernetes/litellm/deployment.yaml";
    assert_ne!(before[cm], after[cm]);
    assert_ne!(checksum(&before[dep]), checksum(&after[dep]));
}

#[test]
fn one_route_at_a_time_writes_what_the_bundle_writes() {
    let input = seed_routes();
    let bundle = expand(&input).unwrap();
    let r = Renderer::embedded().unwrap();
    let mut written = BTreeMap::new();
    // As the provider does: each route is expanded with the other routes' fragments.
    for (i, route) in input.litellm_routes.iter().enumerate() {
        let mut others = input.litellm_routes.clone();
        others.remove(i);
        let exp =
            ipai_codegen::expand::expand_litellm_route(route, &others, &input.workbench.domain, &r)
                .unwrap();
        let gateway: BTreeMap<_, _> = exp
            .files
            .iter()
            .filter(|(p, _)| !p.contains("/routes/"))
            .collect();
        let expected: BTreeMap<_, _> = bundle
            .iter()
            .filter(|(p, _)| !p.contains("/routes/"))
            .collect();
        assert_eq!(gateway, expected, "route {}", route.model_name);
        written.extend(exp.files);
    }
    assert_eq!(bundle, written);
}

#[test]
fn no_routes_means_no_gateway() {
    let r = Renderer::embedded().unwrap();
    assert!(
        litellm::merge("lab", "example.org", &[], &r)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn fragments_read_back_as_the_route() {
    for route in seed_routes().litellm_routes {
        let (path, text) = litellm::fragment(&route).unwrap();
        assert_eq!(litellm::parse_fragment(&path, &text).unwrap(), route);
    }
    let diags = litellm::parse_fragment("x.yaml", "model_name: [").unwrap_err();
    assert!(diags.0[0].detail.starts_with("x.yaml: "));
}

/// A tool of the project's Python venv; in CI its absence fails the test, locally it is
/// a loud skip.
fn venv_tool(name: &str) -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../.venv/bin")
        .join(name);
    if path.exists() {
        return Some(path);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{} is missing: CI must provide the Python venv",
        path.display()
    );
    eprintln!(
        "SKIPPED: {} is missing; create the venv (see HACKING) to run this test",
        path.display()
    );
    None
}

fn all_valid_files() -> BTreeMap<String, String> {
    let mut files = BTreeMap::new();
    for path in valid_inputs() {
        files.extend(expand(&load(&path)).unwrap());
    }
    files
}

#[test]
fn every_manifest_passes_kubernetes_validate_strict() {
    let Some(tool) = venv_tool("kubernetes-validate") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut paths = Vec::new();
    for (rel, text) in all_valid_files() {
        if rel.contains("/routes/") || rel.ends_with("/kustomization.yaml") {
            continue;
        }
        let path = dir.path().join(&rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        paths.push(path);
    }
    assert!(paths.len() > 20, "only {} manifests", paths.len());
    // 1.33: the newest Kubernetes DOKS offers as the default in the workbench spec.
    let out = Command::new(tool)
        .args(["--strict", "--no-warn", "-k", "1.33.0"])
        .args(&paths)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && !stdout.contains("ERROR"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Every Kubernetes document passed; Traefik's Middleware has no upstream schema.
    let documents: usize = paths
        .iter()
        .filter(|p| !p.ends_with("middleware.yaml"))
        .map(|p| {
            std::fs::read_to_string(p)
                .unwrap()
                .matches("\n---\n")
                .count()
                + 1
        })
        .sum();
    assert_eq!(
        stdout.matches(" passed for resource ").count(),
        documents,
        "{stdout}"
    );
}

#[test]
fn litellm_loads_the_merged_config() {
    let Some(python) = venv_tool("python") else {
        return;
    };
    let mut configs = BTreeMap::new();
    for (rel, text) in all_valid_files() {
        if rel.ends_with("/litellm/configmap.yaml") {
            let cm: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
            let config = cm["data"]["config.yaml"].as_str().unwrap().to_owned();
            configs.insert(rel, config);
        }
    }
    assert_eq!(configs.len(), 2, "{configs:?}");
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
    let seed = &report["insightpulse/kubernetes/litellm/configmap.yaml"];
    // Every target of the seed input survived LiteLLM's loading: 2 + 1 + 1.
    assert_eq!(seed["deployments"], 4, "{report}");
    assert_eq!(
        seed["groups"],
        serde_json::json!(["claude-sonnet", "gpt-4o", "qwen-local"])
    );
    assert_eq!(seed["routing_strategy"], "usage-based-routing-v2");
    assert_eq!(seed["answers"]["gpt-4o"], "ok");
    assert_eq!(
        report["lab/kubernetes/litellm/configmap.yaml"]["deployments"],
        1
    );
}
