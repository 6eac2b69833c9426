//! One `ipai_ocr_stack`: PaddleOCR-VL inference (on the GPU pool) behind an HTTP adapter,
//! in `<wb>/kubernetes/ocr-<name>/`.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::spec::ocr::OcrStackSpec;
use crate::{AttrPath, Diagnostics, Error, Renderer, Result, names};

/// Namespace of every OCR stack (the seed's).
pub const NAMESPACE: &str = "ocr";
/// Port both containers listen on.
pub const PORT: u16 = 8080;
/// Longest stack name: `ocr-<name>-inference` must stay a DNS-1123 label.
pub const MAX_NAME_LEN: usize = names::MAX_NAME_LEN - "ocr--inference".len();

/// Directory of a stack's manifests, relative to `output_dir`.
pub fn dir(workbench: &str, name: &str) -> String {
    format!("{workbench}/kubernetes/ocr-{name}")
}

/// Path of a stack's spec file, from which `terraform import` rebuilds the resource. It
/// sits in a sub-directory so kustomize never reads it.
pub fn spec_path(workbench: &str, name: &str) -> String {
    format!("{}/spec/stack.yaml", dir(workbench, name))
}

/// The stack's spec file: the spec as YAML, read back by [`parse_spec_file`].
pub fn spec_file(spec: &OcrStackSpec) -> Result<(String, String)> {
    let text = serde_saphyr::to_string(spec).map_err(|e| Error::Template {
        name: "ocr stack spec".into(),
        message: e.to_string(),
    })?;
    let header = format!(
        "# ipai_ocr_stack {}/{}: the spec these manifests were generated from; not a manifest.\n",
        spec.workbench, spec.name
    );
    Ok((spec_path(&spec.workbench, &spec.name), header + &text))
}

/// Reads a spec file written by [`spec_file`].
pub fn parse_spec_file(path: &str, text: &str) -> Result<OcrStackSpec, Diagnostics> {
    serde_saphyr::from_str(text).map_err(|e| {
        let mut d = Diagnostics::new();
        d.error(
            AttrPath::root(),
            "Unreadable OCR stack spec",
            format!("{path}: {e}. It was edited by hand; re-apply the stack."),
        );
        d
    })
}

/// Validates a stack; `domain` is the workbench's, which the hostname must be inside
/// (unchecked while the workbench is not known yet).
pub fn validate(spec: &OcrStackSpec, domain: Option<&str>) -> Diagnostics {
    let mut d = Diagnostics::new();
    names::dns1123_label(&AttrPath::attr("workbench"), &spec.workbench, &mut d);
    if names::dns1123_label(&AttrPath::attr("name"), &spec.name, &mut d)
        && spec.name.len() > MAX_NAME_LEN
    {
        d.error(
            AttrPath::attr("name"),
            "Invalid name",
            format!(
                "{:?} is {} characters long; at most {MAX_NAME_LEN} are allowed so that \
                 ocr-<name>-inference stays within 63.",
                spec.name,
                spec.name.len()
            ),
        );
    }
    for (attr, value) in [
        ("image", &spec.image),
        ("adapter_image", &spec.adapter_image),
    ] {
        if value.is_empty() || value.contains(char::is_whitespace) {
            d.error(
                AttrPath::attr(attr),
                "Invalid image",
                format!("{value:?} is not a container image reference."),
            );
        }
    }
    if spec.model.trim().is_empty() {
        d.error(AttrPath::attr("model"), "Invalid model", "model is empty.");
    }
    if spec.replicas < 0 {
        d.error(
            AttrPath::attr("replicas"),
            "Negative replicas",
            format!("replicas is {}; it must be 0 or more.", spec.replicas),
        );
    }
    validate_gpu(spec, &mut d);
    crate::digitalocean::validate_timeouts(&AttrPath::attr("timeouts"), &spec.timeouts, &mut d);
    let res = AttrPath::attr("resources");
    for (kind, amounts) in [
        ("requests", &spec.resources.requests),
        ("limits", &spec.resources.limits),
    ] {
        for (attr, value, unit) in [
            ("cpu", &amounts.cpu, Unit::Cpu),
            ("memory", &amounts.memory, Unit::Bytes),
        ] {
            if quantity(value, unit).is_none() {
                d.error(
                    res.at(kind).at(attr),
                    "Invalid quantity",
                    format!(
                        "{value:?} is not a Kubernetes {attr} quantity (e.g. {}).",
                        if unit == Unit::Cpu {
                            "500m or 2"
                        } else {
                            "512Mi or 8Gi"
                        }
                    ),
                );
            }
        }
    }
    for (attr, unit) in [("cpu", Unit::Cpu), ("memory", Unit::Bytes)] {
        let (req, lim) = match attr {
            "cpu" => (&spec.resources.requests.cpu, &spec.resources.limits.cpu),
            _ => (
                &spec.resources.requests.memory,
                &spec.resources.limits.memory,
            ),
        };
        if let (Some(r), Some(l)) = (quantity(req, unit), quantity(lim, unit))
            && r > l
        {
            d.error(
                res.at("requests").at(attr),
                "Request above limit",
                format!("The {attr} request {req} is more than the limit {lim}."),
            );
        }
    }
    match quantity(&spec.max_body_size, Unit::Bytes) {
        Some(n) if n >= 1.0 => {}
        _ => d.error(
            AttrPath::attr("max_body_size"),
            "Invalid body size",
            format!(
                "{:?} is not a positive size such as 64Mi.",
                spec.max_body_size
            ),
        ),
    }
    if let Some(host) = &spec.hostname {
        let path = AttrPath::attr("hostname");
        if names::dns1123_subdomain(&path, host, &mut d)
            && let Some(domain) = domain
            && !(host == domain || host.ends_with(&format!(".{domain}")))
        {
            d.error(
                path,
                "Hostname outside the workbench's domain",
                format!(
                    "{host:?} is not inside {domain:?}; the workbench's DNS records and \
                     certificates only cover {domain} and its subdomains (e.g. ocr.{domain})."
                ),
            );
        }
    }
    if let Some(a) = &spec.autoscaling {
        let at = AttrPath::attr("autoscaling");
        if a.min < 1 {
            d.error(
                at.at("min"),
                "Invalid autoscaling",
                format!("min is {}; it must be at least 1.", a.min),
            );
        }
        if a.max < a.min {
            d.error(
                at.at("max"),
                "Invalid autoscaling",
                format!("max ({}) is below min ({}).", a.max, a.min),
            );
        }
        if !(1..=100).contains(&a.target_cpu) {
            d.error(
                at.at("target_cpu"),
                "Invalid autoscaling",
                format!(
                    "target_cpu is {}; it must be a percentage from 1 to 100.",
                    a.target_cpu
                ),
            );
        }
    }
    d
}

fn validate_gpu(spec: &OcrStackSpec, d: &mut Diagnostics) {
    let gpu = &spec.gpu;
    let at = AttrPath::attr("gpu");
    if !gpu.enabled {
        return;
    }
    if gpu.count < 1 {
        d.error(
            at.at("count"),
            "Invalid GPU count",
            format!(
                "count is {}; a GPU stack needs at least one GPU per replica (or set enabled = false).",
                gpu.count
            ),
        );
    }
    match gpu.node_size.as_deref() {
        None | Some("") => d.error(
            at.at("node_size"),
            "GPU count with no GPU node size",
            format!(
                "{} GPU(s) per replica are requested but no GPU node size is set, so no node \
                 could run the pods. Set node_size to a DigitalOcean GPU size such as \
                 gpu-h100x1-80gb, or set enabled = false.",
                gpu.count
            ),
        ),
        Some(s) if !s.starts_with("gpu-") => d.error(
            at.at("node_size"),
            "Not a GPU node size",
            format!("{s:?} is not a DigitalOcean GPU droplet size (they start with gpu-)."),
        ),
        Some(s) => {
            if let Some(per_node) = gpus_per_node(s).filter(|n| gpu.count > *n) {
                d.error(
                    at.at("count"),
                    "Too many GPUs per replica",
                    format!(
                        "count is {} but a {s} node has {per_node} GPU(s); one replica cannot \
                         span nodes. Pick a larger size or fewer GPUs.",
                        gpu.count
                    ),
                );
            }
        }
    }
}

/// GPUs on one node of a DigitalOcean GPU size: `gpu-h100x8-640gb` has 8.
fn gpus_per_node(slug: &str) -> Option<i64> {
    let model = slug.strip_prefix("gpu-")?.split('-').next()?;
    model.rsplit_once('x')?.1.parse().ok()
}

/// Most inference replicas the stack can run: the autoscaler's max, else `replicas`.
fn max_replicas(spec: &OcrStackSpec) -> i64 {
    spec.autoscaling.as_ref().map_or(spec.replicas, |a| a.max)
}

/// The stack's GPU node pool (a DigitalOcean object), sized to hold its largest replica
/// count; none when the stack does not use GPUs. The spec must be valid.
pub fn gpu_pool(spec: &OcrStackSpec) -> Result<Option<crate::Expansion>> {
    let gpu = &spec.gpu;
    let Some(size) = gpu.node_size.as_deref().filter(|_| gpu.enabled) else {
        return Ok(None);
    };
    let per_node = gpus_per_node(size).unwrap_or(1).max(1);
    let gpus = max_replicas(spec).max(1) * gpu.count.max(1);
    let nodes = (gpus + per_node - 1) / per_node;
    crate::digitalocean::ocr_gpu_pool(
        &spec.workbench,
        &spec.name,
        size,
        nodes,
        &AttrPath::attr("gpu"),
    )
    .map(Some)
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Unit {
    Cpu,
    Bytes,
}

/// Parses a Kubernetes quantity (`500m`, `2`, `64Mi`, `1G`) into cores or bytes.
fn quantity(s: &str, unit: Unit) -> Option<f64> {
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, suffix) = s.split_at(split);
    if num.is_empty() || num.starts_with('.') || num.ends_with('.') {
        return None;
    }
    let n: f64 = num.parse().ok()?;
    let factor = match (unit, suffix) {
        (_, "") => 1.0,
        (Unit::Cpu, "m") => 1e-3,
        (Unit::Bytes, "k") => 1e3,
        (Unit::Bytes, "M") => 1e6,
        (Unit::Bytes, "G") => 1e9,
        (Unit::Bytes, "T") => 1e12,
        (Unit::Bytes, "Ki") => 1024.0,
        (Unit::Bytes, "Mi") => 1024.0 * 1024.0,
        (Unit::Bytes, "Gi") => 1024.0 * 1024.0 * 1024.0,
        (Unit::Bytes, "Ti") => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    Some(n * factor)
}

#[derive(Serialize)]
struct Part {
    name: String,
    labels: BTreeMap<String, String>,
    selector: BTreeMap<String, String>,
}

#[derive(Serialize)]
struct OcrCtx<'a> {
    namespace: &'static str,
    port: u16,
    spec: &'a OcrStackSpec,
    host: String,
    max_body_bytes: u64,
    /// Whether the Deployments carry a replica count; an HPA owns it otherwise.
    fixed_replicas: bool,
    replicas: i64,
    /// One inference pod at most: the model cache is one ReadWriteOnce volume.
    shared_cache: bool,
    pool_label: &'static str,
    gpu_pool: String,
    inference: Part,
    adapter: Part,
    middleware: String,
    cache: String,
}

fn part(spec: &OcrStackSpec, name: String, component: &str) -> Part {
    let mut labels = super::labels(
        &spec.workbench,
        &BTreeMap::new(),
        &format!("ocr-{}", spec.name),
        component,
    );
    let image = if component == "adapter" {
        &spec.adapter_image
    } else {
        &spec.image
    };
    labels.insert("app.kubernetes.io/version".into(), image_tag(image));
    Part {
        name,
        selector: super::litellm::selector(&labels),
        labels,
    }
}

/// The tag of an image reference (a label value), `latest` when it has none.
fn image_tag(image: &str) -> String {
    let last = image.rsplit('/').next().unwrap_or(image);
    let tag = last
        .split('@')
        .next()
        .and_then(|n| n.split_once(':'))
        .map_or("latest", |(_, t)| t);
    tag.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(names::MAX_NAME_LEN)
        .collect()
}

/// The stack's manifests: inference and adapter Deployments, Services, model cache PVC,
/// Ingress with its body-limit Middleware, HPAs (with autoscaling), PDBs
/// and the kustomization.
pub fn manifests(
    spec: &OcrStackSpec,
    domain: &str,
    r: &Renderer,
) -> Result<BTreeMap<String, String>> {
    let diags = validate(spec, Some(domain));
    if diags.has_errors() {
        return Err(Error::Invalid(diags));
    }
    let base = format!("ocr-{}", spec.name);
    let max_inference = spec.autoscaling.as_ref().map_or(spec.replicas, |a| a.max);
    let ctx = OcrCtx {
        namespace: NAMESPACE,
        port: PORT,
        spec,
        host: spec
            .hostname
            .clone()
            .unwrap_or_else(|| format!("ocr.{domain}")),
        max_body_bytes: quantity(&spec.max_body_size, Unit::Bytes).unwrap_or_default() as u64,
        fixed_replicas: spec.autoscaling.is_none(),
        replicas: spec.replicas,
        shared_cache: max_inference <= 1,
        pool_label: crate::digitalocean::POOL_LABEL,
        gpu_pool: crate::digitalocean::gpu_pool_name(&spec.workbench, &spec.name),
        inference: part(spec, format!("{base}-inference"), "inference"),
        adapter: part(spec, base.clone(), "adapter"),
        middleware: format!("{base}-body-limit"),
        cache: format!("{base}-model-cache"),
    };
    let mut files = BTreeMap::new();
    let dir = dir(&spec.workbench, &spec.name);
    let mut list = vec![
        "inference-deployment",
        "inference-service",
        "adapter-deployment",
        "adapter-service",
        "middleware",
        "ingress",
        "pdb",
    ];
    if ctx.shared_cache {
        list.push("pvc");
    }
    if spec.autoscaling.is_some() {
        list.push("hpa");
    }
    list.sort_unstable();
    for name in &list {
        let text = r.render(&format!("kubernetes/ocr/{name}.yaml"), &ctx)?;
        files.insert(format!("{dir}/{name}.yaml"), text);
    }
    let kustomization = r.render(
        "kubernetes/ocr/kustomization.yaml",
        &serde_json::json!({ "resources": list }),
    )?;
    files.insert(format!("{dir}/kustomization.yaml"), kustomization);
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_parse_like_kubernetes() {
        assert_eq!(quantity("64Mi", Unit::Bytes), Some(67_108_864.0));
        assert_eq!(quantity("500m", Unit::Cpu), Some(0.5));
        assert_eq!(quantity("2", Unit::Cpu), Some(2.0));
        assert_eq!(quantity("1G", Unit::Bytes), Some(1e9));
        assert_eq!(quantity("64MB", Unit::Bytes), None);
        assert_eq!(quantity("m", Unit::Cpu), None);
        assert_eq!(quantity("500m", Unit::Bytes), None);
    }

    #[test]
    fn gpu_sizes_tell_their_gpu_count() {
        assert_eq!(gpus_per_node("gpu-h100x8-640gb"), Some(8));
        assert_eq!(gpus_per_node("gpu-4000adax1-20gb"), Some(1));
        assert_eq!(gpus_per_node("s-4vcpu-8gb"), None);
    }

    #[test]
    fn image_tags_become_label_values() {
        assert_eq!(
            image_tag("registry.digitalocean.com/ipai/ocr:1.2.0"),
            "1.2.0"
        );
        assert_eq!(image_tag("localhost:5000/ocr"), "latest");
        assert_eq!(image_tag("ocr@sha256:abc"), "latest");
    }
}
