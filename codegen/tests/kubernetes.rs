//! Kubernetes manifests generated from `tests/inputs/*.yaml`: snapshots, determinism and
//! validation against the upstream Kubernetes schemas.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

/// A Kubernetes version DOKS supports; manifests are validated against its schemas.
const KUBERNETES_VERSION: &str = "1.33.0";

/// Custom resources without an upstream schema: kubernetes-validate can only warn on them.
const CUSTOM_KINDS: &[&str] = &["HelmRelease", "HelmRepository", "Middleware"];

#[test]
fn kubernetes_manifests() {
    insta::glob!("inputs/*.yaml", |path| {
        insta::assert_snapshot!(common::files_under(&common::expand(path), "kubernetes"));
    });
}

#[test]
fn rendering_twice_gives_the_same_bytes() {
    insta::glob!("inputs/*.yaml", |path| {
        let a = common::expand(path);
        let b = common::expand(path);
        assert_eq!(a.files, b.files);
        for (p, c) in &a.files {
            assert!(
                c.ends_with('\n') && !c.contains('\r'),
                "{p}: LF endings, final newline"
            );
        }
    });
}

#[test]
fn services_decide_namespaces_and_traefik() {
    let inputs = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/inputs");
    let seed = common::expand(&inputs.join("seed.yaml"));
    let off = common::expand(&inputs.join("services-off.yaml"));
    for ns in ["ai-workbench", "litellm", "n8n", "ocr", "traefik"] {
        let p = format!("ipai/kubernetes/base/namespace-{ns}.yaml");
        assert!(seed.files.contains_key(&p), "{p}");
    }
    assert!(
        seed.files
            .contains_key("ipai/kubernetes/traefik/helmrelease.yaml")
    );
    assert!(
        !off.files
            .keys()
            .any(|p| p.contains("traefik") || p.contains("n8n"))
    );
    let top = &off.files["sandbox/kubernetes/kustomization.yaml"];
    assert!(
        top.contains("\"base\"") && !top.contains("traefik"),
        "{top}"
    );
}

/// The kubernetes-validate command: the repository's `.venv`, else PATH. `None` when it
/// is missing outside CI (in CI a missing validator fails the test).
fn validator() -> Option<PathBuf> {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/kubernetes-validate");
    if venv.is_file() {
        return Some(venv);
    }
    if Command::new("kubernetes-validate")
        .arg("--version")
        .output()
        .is_ok()
    {
        return Some("kubernetes-validate".into());
    }
    let hint = "kubernetes-validate not found: python3 -m venv .venv && .venv/bin/pip install kubernetes-validate";
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{hint}");
    }
    eprintln!("\n!!! SKIPPED: {hint}\n");
    None
}

#[test]
fn every_manifest_passes_kubernetes_validate_strict() {
    let Some(tool) = validator() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut manifests = Vec::new();
    for entry in
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/inputs")).unwrap()
    {
        let input = entry.unwrap().path();
        for (path, contents) in common::expand(&input).files {
            // Kubernetes objects only: not kustomizations, not Helm values.
            let is_manifest = path.contains("/kubernetes/")
                && path.ends_with(".yaml")
                && !path.ends_with("/kustomization.yaml")
                && contents.lines().any(|l| l.starts_with("apiVersion:"));
            if !is_manifest {
                continue;
            }
            let file = dir.path().join(&path);
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(&file, contents).unwrap();
            manifests.push(file);
        }
    }
    assert!(
        manifests.len() > 10,
        "found only {} manifests",
        manifests.len()
    );
    let out = Command::new(&tool)
        .args(["--strict", "--kubernetes-version", KUBERNETES_VERSION])
        .args(&manifests)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    for line in stdout.lines().chain(stderr.lines()) {
        assert!(!line.starts_with("ERROR"), "{line}");
        if line.starts_with("WARN") {
            // A kind without a schema is fine only for the known custom resources; a typo
            // in a core kind would otherwise pass as "no schema".
            assert!(
                CUSTOM_KINDS
                    .iter()
                    .any(|k| line.contains(&format!("for kind {k} "))),
                "{line}"
            );
        }
    }
}

/// Every YAML document of every generated Kubernetes file, with its path.
fn documents(exp: &ipai_codegen::Expansion) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for (path, contents) in &exp.files {
        if path.contains("/kubernetes/") && path.ends_with(".yaml") {
            let docs: Vec<Value> = serde_saphyr::from_multiple(contents)
                .unwrap_or_else(|e| panic!("{path} is not YAML: {e}"));
            out.extend(docs.into_iter().map(|d| (path.clone(), d)));
        }
    }
    out
}

#[test]
fn kustomizations_list_exactly_their_directory() {
    insta::glob!("inputs/*.yaml", |input| {
        let exp = common::expand(input);
        for (path, doc) in documents(&exp) {
            let Some(dir) = path.strip_suffix("/kustomization.yaml") else {
                continue;
            };
            let mut listed: BTreeSet<String> = doc["resources"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r.as_str().unwrap().to_owned())
                .collect();
            for g in doc["configMapGenerator"].as_array().into_iter().flatten() {
                listed.extend(
                    g["files"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|f| f.as_str().unwrap().to_owned()),
                );
            }
            // Direct children: files, or directories with a kustomization of their own.
            let present: BTreeSet<String> = exp
                .files
                .keys()
                .filter_map(|p| p.strip_prefix(&format!("{dir}/")))
                .filter(|rest| *rest != "kustomization.yaml")
                .filter_map(|rest| match rest.split_once('/') {
                    None => Some(rest.to_owned()),
                    Some((sub, "kustomization.yaml")) => Some(sub.to_owned()),
                    Some(_) => None,
                })
                .collect();
            assert_eq!(listed, present, "{path}");
        }
    });
}

/// What a user's cluster policy (and the issue) demands of a pod: non-root, no privilege
/// escalation, all capabilities dropped, RuntimeDefault seccomp, explicit read-only-root
/// decision, requests and limits, and secrets only by reference.
fn pod_problems(pod: &Value) -> Vec<String> {
    let mut p = Vec::new();
    let psc = &pod["securityContext"];
    let containers = ["initContainers", "containers"]
        .iter()
        .flat_map(|k| pod[*k].as_array().cloned().unwrap_or_default());
    for c in containers {
        let name = c["name"].as_str().unwrap_or("?").to_owned();
        let sc = &c["securityContext"];
        let mut bad = |what: &str| p.push(format!("container {name}: {what}"));
        if sc["runAsNonRoot"] != true && psc["runAsNonRoot"] != true {
            bad("runAsNonRoot is not true");
        }
        if sc["allowPrivilegeEscalation"] != false {
            bad("allowPrivilegeEscalation is not false");
        }
        if !sc["readOnlyRootFilesystem"].is_boolean() {
            bad("readOnlyRootFilesystem is not decided");
        }
        if !sc["capabilities"]["drop"]
            .as_array()
            .is_some_and(|d| d.contains(&json!("ALL")))
        {
            bad("capabilities are not all dropped");
        }
        if sc["seccompProfile"]["type"] != "RuntimeDefault"
            && psc["seccompProfile"]["type"] != "RuntimeDefault"
        {
            bad("seccompProfile is not RuntimeDefault");
        }
        for k in ["requests", "limits"] {
            let set = |q: &Value| q.is_string() || q.is_number();
            if !set(&c["resources"][k]["memory"]) || !set(&c["resources"][k]["cpu"]) {
                bad(&format!("no cpu and memory {k}"));
            }
        }
        for env in c["env"].as_array().into_iter().flatten() {
            let var = env["name"]
                .as_str()
                .unwrap_or_default()
                .to_ascii_uppercase();
            let secretish = ["KEY", "TOKEN", "PASSWORD", "SECRET"]
                .iter()
                .any(|s| var.contains(s));
            if secretish && !env["value"].is_null() {
                bad(&format!(
                    "{var} has a literal value; use valueFrom.secretKeyRef"
                ));
            }
        }
    }
    p
}

#[test]
fn workloads_are_locked_down_and_hold_no_secrets() {
    insta::glob!("inputs/*.yaml", |input| {
        let exp = common::expand(input);
        let mut problems = Vec::new();
        for (path, doc) in documents(&exp) {
            let kind = doc["kind"].as_str().unwrap_or_default();
            assert_ne!(kind, "Secret", "{path}: secret values are never generated");
            let pod = match kind {
                "Deployment" | "StatefulSet" | "DaemonSet" | "Job" => {
                    &doc["spec"]["template"]["spec"]
                }
                "CronJob" => &doc["spec"]["jobTemplate"]["spec"]["template"]["spec"],
                _ => continue,
            };
            problems.extend(
                pod_problems(pod)
                    .into_iter()
                    .map(|p| format!("{path}: {p}")),
            );
        }
        // Traefik's pod is rendered by its chart from these values.
        if let Some(values) = exp
            .files
            .iter()
            .find(|(p, _)| p.ends_with("/traefik/values.yaml"))
        {
            let v: Value = serde_saphyr::from_str(values.1).unwrap();
            let pod = json!({
                "securityContext": v["podSecurityContext"],
                "containers": [{
                    "name": "traefik",
                    "securityContext": v["securityContext"],
                    "resources": v["resources"],
                }],
            });
            problems.extend(
                pod_problems(&pod)
                    .into_iter()
                    .map(|p| format!("{}: {p}", values.0)),
            );
        }
        assert!(problems.is_empty(), "{problems:#?}");
    });
}

#[test]
fn the_pod_check_catches_an_unhardened_container() {
    let pod =
        json!({"containers": [{"name": "app", "env": [{"name": "API_KEY", "value": "sk-1"}]}]});
    let problems = pod_problems(&pod);
    assert_eq!(problems.len(), 8, "{problems:#?}");
}

#[test]
fn only_the_gateway_namespace_reaches_redis() {
    let seed =
        common::expand(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/inputs/seed.yaml"));
    // External egress (rules without a `to`) per namespace.
    let mut ports: std::collections::BTreeMap<String, BTreeSet<u64>> = Default::default();
    for (_, doc) in documents(&seed) {
        if doc["kind"] != "NetworkPolicy" {
            continue;
        }
        let ns = doc["metadata"]["namespace"].as_str().unwrap().to_owned();
        let entry = ports.entry(ns).or_default();
        for rule in doc["spec"]["egress"].as_array().into_iter().flatten() {
            if rule.get("to").is_none() {
                for p in rule["ports"].as_array().unwrap() {
                    entry.insert(p["port"].as_u64().unwrap());
                }
            }
        }
    }
    let firewall: BTreeSet<u64> = [443, 5432, 6543, 6333].into();
    let redis: BTreeSet<u64> = [6379, 25061].into();
    assert_eq!(ports.len(), 5, "{ports:?}");
    for (ns, open) in &ports {
        let expected = if ns == "litellm" {
            firewall.union(&redis).copied().collect()
        } else {
            firewall.clone()
        };
        assert_eq!(open, &expected, "{ns}");
    }
}
