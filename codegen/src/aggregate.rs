//! Aggregate files: files of a workbench that no single resource owns, recomputed from
//! the component files present.
//!
//! The provider sees one resource at a time; the `ipai` CLI sees the whole bundle. Both
//! call [`aggregate`] with every file of the workbench they have (the provider: what is
//! under `<output_dir>/<workbench>/` after writing the resource's own files; the CLI: the
//! bundle's expansion), so both write the same bytes. An aggregate that is not returned
//! must not exist: the caller deletes any file for which [`is_aggregate`] is true and that
//! is missing from the result.
//!
//! Adding an aggregate: append an [`Aggregate`] to `AGGREGATES` (before the ones that
//! read its output; the top `kustomization.yaml` comes last). The LiteLLM gateway is one:
//! it is recomputed from the route fragments under `kubernetes/litellm/routes/`.

use std::collections::BTreeMap;

use crate::{Renderer, Result};

/// Builds aggregates from the workbench's files: path (relative to `output_dir`) to
/// contents. A path of the aggregate's `paths` missing from the result must not exist.
type Build = fn(&str, &BTreeMap<String, String>, &Renderer) -> Result<BTreeMap<String, String>>;

/// One aggregate: a fixed set of files computed together.
struct Aggregate {
    /// Paths relative to `<workbench>/` it may produce.
    paths: &'static [&'static str],
    /// Computes their contents.
    build: Build,
}

/// Every aggregate, in the order they are computed; each sees the ones before it.
const AGGREGATES: &[Aggregate] = &[
    Aggregate {
        paths: crate::kubernetes::litellm::GATEWAY_FILES,
        build: crate::kubernetes::litellm::gateway,
    },
    Aggregate {
        paths: &["kubernetes/kustomization.yaml"],
        build: top_kustomization,
    },
];

fn top_kustomization(
    workbench: &str,
    files: &BTreeMap<String, String>,
    r: &Renderer,
) -> Result<BTreeMap<String, String>> {
    Ok(crate::kubernetes::top_kustomization(workbench, files, r)?
        .map(|c| (format!("{workbench}/kubernetes/kustomization.yaml"), c))
        .into_iter()
        .collect())
}

/// True when `path` (relative to `output_dir`) is an aggregate file of `workbench`.
pub fn is_aggregate(workbench: &str, path: &str) -> bool {
    path.strip_prefix(workbench)
        .and_then(|rest| rest.strip_prefix('/'))
        .is_some_and(|rest| AGGREGATES.iter().any(|a| a.paths.contains(&rest)))
}

/// The aggregate files of `workbench` (path relative to `output_dir` to contents), computed
/// from `files`: every file the workbench has, keyed like [`crate::Expansion::files`].
/// Files of other workbenches and aggregate files already in `files` are ignored, so the
/// result depends only on the component files.
pub fn aggregate(
    workbench: &str,
    files: &BTreeMap<String, String>,
    r: &Renderer,
) -> Result<BTreeMap<String, String>> {
    let prefix = format!("{workbench}/");
    let mut seen: BTreeMap<String, String> = files
        .iter()
        .filter(|(p, _)| p.starts_with(&prefix) && !is_aggregate(workbench, p))
        .map(|(p, c)| (p.clone(), c.clone()))
        .collect();
    let mut out = BTreeMap::new();
    for a in AGGREGATES {
        for (path, contents) in (a.build)(workbench, &seen, r)? {
            debug_assert!(is_aggregate(workbench, &path), "{path} is not declared");
            seen.insert(path.clone(), contents.clone());
            out.insert(path, contents);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregates_ignore_stale_aggregates_and_other_workbenches() {
        let r = Renderer::embedded().unwrap();
        let mut files = BTreeMap::new();
        files.insert(
            "wb/kubernetes/base/kustomization.yaml".to_owned(),
            String::new(),
        );
        files.insert(
            "wb/kubernetes/kustomization.yaml".to_owned(),
            "stale hand edit".to_owned(),
        );
        files.insert(
            "wb2/kubernetes/traefik/kustomization.yaml".to_owned(),
            String::new(),
        );
        let out = aggregate("wb", &files, &r).unwrap();
        assert_eq!(
            out.keys().collect::<Vec<_>>(),
            ["wb/kubernetes/kustomization.yaml"]
        );
        let top = &out["wb/kubernetes/kustomization.yaml"];
        assert!(
            top.contains("- \"base\"\n") && !top.contains("traefik"),
            "{top}"
        );
        assert!(aggregate("wb3", &files, &r).unwrap().is_empty());
    }

    #[test]
    fn aggregate_paths_are_recognised() {
        assert!(is_aggregate("wb", "wb/kubernetes/kustomization.yaml"));
        assert!(!is_aggregate("wb", "wb/kubernetes/base/kustomization.yaml"));
        assert!(!is_aggregate("w", "wb/kubernetes/kustomization.yaml"));
        assert!(is_aggregate("wb", "wb/kubernetes/litellm/configmap.yaml"));
        assert!(!is_aggregate(
            "wb",
            "wb/kubernetes/litellm/routes/gpt-4o.yaml"
        ));
    }
}
