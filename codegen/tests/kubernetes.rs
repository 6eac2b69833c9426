//! Kubernetes manifests generated from `tests/inputs/*.yaml`: snapshots, determinism and
//! validation against the upstream Kubernetes schemas.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

/// A Kubernetes version DOKS supports; manifests are validated against its schemas.
const KUBERNETES_VERSION: &str = "1.33.0";

/// Custom resources without an upstream schema: kubernetes-validate can only warn on them.
const CUSTOM_KINDS: &[&str] = &["HelmRelease", "HelmRepository"];

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
