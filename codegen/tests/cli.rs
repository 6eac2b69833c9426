//! The `ipai` binary: render writes exactly the bundle's expansion, validate points at the
//! file and line, schema is JSON.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn ipai(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ipai"))
        .args(args)
        .output()
        .unwrap()
}

fn input(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/inputs")
        .join(name)
}

/// Every file under `dir`, keyed by its `/`-separated path relative to `dir`.
fn tree(dir: &Path) -> BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                out.insert(rel, std::fs::read_to_string(&p).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

#[test]
fn render_writes_exactly_the_expansion() {
    for name in ["seed.yaml", "services-off.yaml"] {
        let out = tempfile::tempdir().unwrap();
        let spec = input(name);
        let r = ipai(&[
            "render".as_ref(),
            spec.as_os_str(),
            "-o".as_ref(),
            out.path().as_os_str(),
        ]);
        assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
        assert_eq!(tree(out.path()), common::expand(&spec).files, "{name}");
        let top = out.path().join("ipai/kubernetes/kustomization.yaml");
        if name == "seed.yaml" {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&top).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o644, "readable like the provider's files");
        }
    }
}

#[test]
fn render_prune_removes_what_the_spec_no_longer_produces() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().as_os_str();
    let full = tempfile::NamedTempFile::with_suffix(".yaml").unwrap();
    std::fs::write(full.path(), "workbench:\n  name: wb\n").unwrap();
    let r = ipai(&[
        "render".as_ref(),
        full.path().as_os_str(),
        "-o".as_ref(),
        dir,
    ]);
    assert!(r.status.success());
    assert!(
        out.path()
            .join("wb/kubernetes/traefik/values.yaml")
            .exists()
    );

    std::fs::write(
        full.path(),
        "workbench:\n  name: wb\n  services: {traefik: false}\n",
    )
    .unwrap();
    let r = ipai(&[
        "render".as_ref(),
        full.path().as_os_str(),
        "-o".as_ref(),
        dir,
    ]);
    assert!(r.status.success());
    assert!(
        out.path()
            .join("wb/kubernetes/traefik/values.yaml")
            .exists(),
        "without --prune nothing is deleted"
    );
    let r = ipai(&[
        "render".as_ref(),
        full.path().as_os_str(),
        "-o".as_ref(),
        dir,
        "--prune".as_ref(),
    ]);
    assert!(r.status.success());
    assert!(!out.path().join("wb/kubernetes/traefik").exists());
    let spec = ipai_codegen::spec::source::parse(
        &std::fs::read_to_string(full.path()).unwrap(),
        ipai_codegen::spec::source::Format::Yaml,
    )
    .unwrap();
    let want =
        ipai_codegen::expand::expand_bundle(&spec, &ipai_codegen::Renderer::embedded().unwrap())
            .unwrap();
    assert_eq!(tree(out.path()), want.files);
}

#[test]
fn validate_prints_file_and_line_of_a_bad_name() {
    let spec = tempfile::NamedTempFile::with_suffix(".yaml").unwrap();
    std::fs::write(
        spec.path(),
        "# a comment\nworkbench:\n  region: sgp1\n  name: Not_DNS\n",
    )
    .unwrap();
    let r = ipai(&["validate".as_ref(), spec.path().as_os_str()]);
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert!(!r.status.success());
    let want = format!(
        "{}:4:9: error: workbench.name: Invalid name",
        spec.path().display()
    );
    assert!(stderr.contains(&want), "{stderr}");

    // Nothing is written for a bad spec.
    let out = tempfile::tempdir().unwrap();
    let r = ipai(&[
        "render".as_ref(),
        spec.path().as_os_str(),
        "-o".as_ref(),
        out.path().as_os_str(),
    ]);
    assert!(!r.status.success());
    assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 0);
}

#[test]
fn validate_reports_json_shape_errors_with_position() {
    let spec = tempfile::NamedTempFile::with_suffix(".json").unwrap();
    std::fs::write(
        spec.path(),
        "{\n  \"workbench\": {\n    \"name\": \"wb\",\n    \"colour\": 1\n  }\n}\n",
    )
    .unwrap();
    let r = ipai(&["validate".as_ref(), spec.path().as_os_str()]);
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert!(!r.status.success());
    assert!(
        stderr.starts_with(&format!("{}:4:", spec.path().display())) && stderr.contains("colour"),
        "{stderr}"
    );
    let r = ipai(&["validate".as_ref(), input("seed.yaml").as_os_str()]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
}

#[test]
fn schema_is_json_describing_the_bundle() {
    let r = ipai(&["schema".as_ref()]);
    assert!(r.status.success());
    let schema: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(schema["required"], serde_json::json!(["workbench"]));
    let wb = &schema["$defs"]["WorkbenchSpec"];
    assert_eq!(wb["required"], serde_json::json!(["name"]));
    assert!(wb["properties"]["name"]["description"].is_string());
}
