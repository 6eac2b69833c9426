//! Shared by the snapshot tests: load a bundle input and expand it.
#![allow(dead_code)] // each test binary uses a different part

use std::path::Path;

use ipai_codegen::{
    Expansion, Renderer,
    expand::expand_bundle,
    spec::{
        BundleSpec,
        source::{Format, parse},
    },
};

/// Parses a bundle input file (`tests/inputs/*.yaml`).
pub fn load(path: &Path) -> BundleSpec {
    load_as(path)
}

/// Parses an input file into `T` (a bundle, or a test's own shape around bundles).
pub fn load_as<T: serde::de::DeserializeOwned>(path: &Path) -> T {
    let text = std::fs::read_to_string(path).unwrap();
    parse(&text, Format::of(path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Expands a bundle input with the embedded templates.
pub fn expand(path: &Path) -> Expansion {
    expand_bundle(&load(path), &Renderer::embedded().unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The files whose path contains `/<dir>/` as one readable text: a header line per file.
pub fn files_under(exp: &Expansion, dir: &str) -> String {
    let needle = format!("/{dir}/");
    let mut out = String::new();
    for (path, contents) in exp.files.iter().filter(|(p, _)| p.contains(&needle)) {
        out.push_str(&format!("==> {path} <==\n{contents}\n"));
    }
    out
}
