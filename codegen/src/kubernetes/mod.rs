//! Kubernetes manifests (GitOps): namespaces, network policies, Traefik, LiteLLM, OCR.
//!
//! Everything lands under `<workbench>/kubernetes/`, one directory per component with its
//! own `kustomization.yaml`; the top `kustomization.yaml` is an aggregate (see
//! [`crate::aggregate`]). Manifests hold no secret values, only references.

pub mod litellm;
pub mod ocr;

use std::collections::BTreeMap;

use serde_json::json;

use crate::{AttrPath, Diagnostics, Expansion, Renderer, Result, names, spec::WorkbenchSpec};

/// `app.kubernetes.io/part-of` of everything ipai generates.
pub const PART_OF: &str = "ai-workbench";
/// `app.kubernetes.io/managed-by` of everything ipai generates.
pub const MANAGED_BY: &str = "ipai";
/// Egress ports the seed firewall allows: HTTPS, Postgres, the Supabase pooler, Qdrant.
pub const EGRESS_PORTS: [u16; 4] = [443, 5432, 6543, 6333];
/// Redis ports the LiteLLM gateway reaches for its router cache and rate limits (the seed's
/// Redis cache): 6379 for a plain Redis/Valkey, 25061 for DigitalOcean's managed one (TLS).
pub const REDIS_EGRESS_PORTS: [u16; 2] = [6379, 25061];
/// Container ports of Traefik's `web` (80) and `websecure` (443) entry points; they are
/// unprivileged so Traefik runs as non-root.
pub const TRAEFIK_POD_PORTS: [u16; 2] = [8000, 8443];
/// Helm repository of the Traefik chart.
pub const TRAEFIK_CHART_REPOSITORY: &str = "https://traefik.github.io/charts";
/// Pinned Traefik chart version. `values.yaml` follows its syntax (`service.type`,
/// `ports.web.redirections`, `logs.access`); chart 40 moved `service.type` under
/// `service.spec` and 41 renamed the other two, so a bump needs the template too.
pub const TRAEFIK_CHART_VERSION: &str = "37.4.0";

/// The namespaces a workbench gets, in a fixed order: `ai-workbench`, `litellm`, `n8n`
/// (when `services.n8n`), `ocr`, `traefik` (when `services.traefik`).
pub fn namespaces(spec: &WorkbenchSpec) -> Vec<&'static str> {
    let mut ns = vec!["ai-workbench", "litellm"];
    if spec.services.n8n {
        ns.push("n8n");
    }
    ns.push("ocr");
    if spec.services.traefik {
        ns.push("traefik");
    }
    ns
}

/// The recommended `app.kubernetes.io/*` labels of one object, plus the workbench's tags
/// (validated as label keys and values by [`validate_workbench`]). Tags never override the
/// recommended labels.
pub fn labels(
    workbench: &str,
    tags: &BTreeMap<String, String>,
    name: &str,
    component: &str,
) -> BTreeMap<String, String> {
    let mut l = tags.clone();
    for (k, v) in [
        ("app.kubernetes.io/name", name),
        ("app.kubernetes.io/instance", workbench),
        ("app.kubernetes.io/component", component),
        ("app.kubernetes.io/part-of", PART_OF),
        ("app.kubernetes.io/managed-by", MANAGED_BY),
    ] {
        l.insert(k.to_owned(), v.to_owned());
    }
    l
}

/// Pod Security Admission level enforced in a namespace: `restricted` where ipai generates
/// the workloads, `baseline` (warning on `restricted`) where users install their own.
fn pod_security_level(namespace: &str) -> &'static str {
    match namespace {
        "litellm" | "ocr" | "traefik" => "restricted",
        _ => "baseline",
    }
}

/// Checks what the manifests add to the workbench's own checks (name, domain and
/// subdomain syntax are checked in [`crate::expand::validate_workbench`]): no subdomain
/// twice, and tags that are valid Kubernetes label keys and values.
pub fn validate_workbench(spec: &WorkbenchSpec, d: &mut Diagnostics) {
    let mut seen = std::collections::BTreeSet::new();
    for (i, sub) in spec.subdomains.iter().enumerate() {
        if !seen.insert(sub.as_str()) {
            d.error(
                AttrPath::attr("subdomains").index(i),
                "Duplicate subdomain",
                format!("{sub:?} is listed more than once; each subdomain gets one DNS record."),
            );
        }
    }
    for (k, v) in &spec.tags {
        let path = AttrPath::attr("tags").key(k);
        names::label_key(&path, k, d);
        names::label_value(&path, v, d);
    }
}

/// The workbench's own manifests: `<wb>/kubernetes/base/` (namespaces and network policies)
/// and `<wb>/kubernetes/traefik/` (when `services.traefik`), each with a `kustomization.yaml`.
pub fn workbench(spec: &WorkbenchSpec, r: &Renderer) -> Result<Expansion> {
    let wb = spec.name.as_str();
    let root = format!("{wb}/kubernetes");
    let all = namespaces(spec);
    let mut files = BTreeMap::new();
    let mut base = Vec::new();
    for ns in &all {
        let mut ns_labels = labels(wb, &spec.tags, ns, "namespace");
        let level = pod_security_level(ns);
        ns_labels.insert("pod-security.kubernetes.io/enforce".into(), level.into());
        ns_labels.insert(
            "pod-security.kubernetes.io/warn".into(),
            "restricted".into(),
        );
        ns_labels.insert(
            "pod-security.kubernetes.io/audit".into(),
            "restricted".into(),
        );
        let file = format!("namespace-{ns}.yaml");
        let ctx = json!({ "name": ns, "labels": ns_labels });
        files.insert(
            format!("{root}/base/{file}"),
            r.render("kubernetes/namespace.yaml", &ctx)?,
        );
        base.push(file);

        let edge = *ns == "traefik";
        let backends: Vec<&str> = all.iter().copied().filter(|n| *n != "traefik").collect();
        let ctx = json!({
            "namespace": ns,
            "labels": labels(wb, &spec.tags, ns, "network-policy"),
            "egress_ports": EGRESS_PORTS,
            "redis_ports": if *ns == litellm::NAMESPACE { &REDIS_EGRESS_PORTS[..] } else { &[] },
            "edge": edge,
            "edge_ports": TRAEFIK_POD_PORTS,
            "backend_namespaces": backends,
            "from_traefik": spec.services.traefik && !edge,
        });
        let file = format!("networkpolicies-{ns}.yaml");
        files.insert(
            format!("{root}/base/{file}"),
            r.render("kubernetes/networkpolicies.yaml", &ctx)?,
        );
        base.push(file);
    }
    files.insert(
        format!("{root}/base/kustomization.yaml"),
        kustomization(r, &base)?,
    );

    if spec.services.traefik {
        let labels = labels(wb, &spec.tags, "traefik", "ingress-controller");
        let mut common = spec.tags.clone();
        common.insert("app.kubernetes.io/part-of".into(), PART_OF.into());
        let ctx = json!({
            "labels": labels,
            "common_labels": common,
            "chart_repository": TRAEFIK_CHART_REPOSITORY,
            "chart_version": TRAEFIK_CHART_VERSION,
            "replicas": 2,
            "load_balancer_name": format!("{wb}-traefik"),
        });
        for (template, file) in [
            ("traefik-helmrepository", "helmrepository.yaml"),
            ("traefik-helmrelease", "helmrelease.yaml"),
            ("traefik-values", "values.yaml"),
            ("traefik-kustomization", "kustomization.yaml"),
        ] {
            files.insert(
                format!("{root}/traefik/{file}"),
                r.render(&format!("kubernetes/{template}.yaml"), &ctx)?,
            );
        }
    }
    Ok(Expansion {
        files,
        ..Expansion::default()
    })
}

/// A `kustomization.yaml` listing `resources` in the given order.
pub fn kustomization(r: &Renderer, resources: &[String]) -> Result<String> {
    r.render(
        "kubernetes/kustomization.yaml",
        &json!({ "resources": resources }),
    )
}

/// The aggregate `<wb>/kubernetes/kustomization.yaml`: every component directory that has
/// a `kustomization.yaml` of its own (`base` first, then by name); `None` when there is none.
pub(crate) fn top_kustomization(
    workbench: &str,
    files: &BTreeMap<String, String>,
    r: &Renderer,
) -> Result<Option<String>> {
    let prefix = format!("{workbench}/kubernetes/");
    let mut dirs: Vec<String> = files
        .keys()
        .filter_map(|p| p.strip_prefix(&prefix))
        .filter_map(|rest| rest.strip_suffix("/kustomization.yaml"))
        .filter(|dir| !dir.is_empty() && !dir.contains('/'))
        .map(str::to_owned)
        .collect();
    if dirs.is_empty() {
        return Ok(None);
    }
    // Namespaces first reads best; kustomize orders by kind anyway.
    dirs.sort_by_key(|d| (d != "base", d.clone()));
    kustomization(r, &dirs).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(yaml: &str) -> WorkbenchSpec {
        serde_saphyr::from_str(yaml).unwrap()
    }

    #[test]
    fn namespaces_follow_the_services() {
        assert_eq!(
            namespaces(&spec("name: wb")),
            ["ai-workbench", "litellm", "n8n", "ocr", "traefik"]
        );
        assert_eq!(
            namespaces(&spec("name: wb\nservices: {n8n: false, traefik: false}")),
            ["ai-workbench", "litellm", "ocr"]
        );
    }

    #[test]
    fn tags_cannot_override_recommended_labels() {
        let tags = BTreeMap::from([("app.kubernetes.io/name".to_owned(), "x".to_owned())]);
        let l = labels("wb", &tags, "litellm", "gateway");
        assert_eq!(l["app.kubernetes.io/name"], "litellm");
        let mut d = Diagnostics::new();
        validate_workbench(
            &spec("name: wb\ntags: {\"app.kubernetes.io/name\": x}"),
            &mut d,
        );
        assert_eq!(d.0.len(), 1);
        assert_eq!(d.0[0].path.to_string(), "tags[\"app.kubernetes.io/name\"]");
    }

    #[test]
    fn bad_workbench_fields_point_at_their_attribute() {
        let mut d = Diagnostics::new();
        let yaml = "name: wb\nsubdomains: [api, erp, api]\ntags: {team: \"-x\", \"k8s.io/a\": b}";
        validate_workbench(&spec(yaml), &mut d);
        let paths: Vec<String> = d.0.iter().map(|d| d.path.to_string()).collect();
        assert_eq!(
            paths,
            ["subdomains[2]", "tags[\"k8s.io/a\"]", "tags[\"team\"]"]
        );
    }

    #[test]
    fn top_kustomization_lists_component_directories() {
        let r = Renderer::embedded().unwrap();
        let files: BTreeMap<String, String> = [
            "wb/kubernetes/traefik/kustomization.yaml",
            "wb/kubernetes/ocr-main/kustomization.yaml",
            "wb/kubernetes/base/kustomization.yaml",
            "wb/kubernetes/base/namespace-ocr.yaml",
            "other/kubernetes/litellm/kustomization.yaml",
        ]
        .into_iter()
        .map(|p| (p.to_owned(), String::new()))
        .collect();
        let top = top_kustomization("wb", &files, &r).unwrap().unwrap();
        assert!(
            top.ends_with("resources:\n  - \"base\"\n  - \"ocr-main\"\n  - \"traefik\"\n"),
            "{top}"
        );
        assert_eq!(
            top_kustomization("none", &files, &r).unwrap(),
            None,
            "no components, no aggregate"
        );
    }
}
