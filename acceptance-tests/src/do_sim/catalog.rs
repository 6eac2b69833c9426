//! Static catalogue: regions, sizes (with DigitalOcean's list prices), Kubernetes versions.

use serde_json::{Value, json};

/// A region: slug, name, whether it is available.
pub(crate) const REGIONS: &[(&str, &str)] = &[
    ("nyc1", "New York 1"),
    ("nyc2", "New York 2"),
    ("nyc3", "New York 3"),
    ("sfo2", "San Francisco 2"),
    ("sfo3", "San Francisco 3"),
    ("ams3", "Amsterdam 3"),
    ("sgp1", "Singapore 1"),
    ("lon1", "London 1"),
    ("fra1", "Frankfurt 1"),
    ("tor1", "Toronto 1"),
    ("blr1", "Bangalore 1"),
    ("syd1", "Sydney 1"),
    ("atl1", "Atlanta 1"),
];

/// Regions where GPU sizes are sold (sgp1 included so the default workbench region can host OCR).
const GPU_REGIONS: &[&str] = &["nyc2", "tor1", "atl1", "ams3", "sgp1"];

/// A droplet size usable as a DOKS node.
pub(crate) struct Size {
    pub(crate) slug: &'static str,
    pub(crate) memory_mb: u64,
    pub(crate) vcpus: u64,
    pub(crate) disk_gb: u64,
    pub(crate) transfer_tb: f64,
    pub(crate) price_monthly: f64,
    pub(crate) description: &'static str,
    /// (count, model, vram GiB) for GPU sizes.
    pub(crate) gpu: Option<(u64, &'static str, u64)>,
}

/// The sizes the simulator sells.
pub(crate) const SIZES: &[Size] = &[
    size("s-1vcpu-1gb", 1024, 1, 25, 1.0, 6.0, "Basic"),
    size("s-1vcpu-2gb", 2048, 1, 50, 2.0, 12.0, "Basic"),
    size("s-2vcpu-2gb", 2048, 2, 60, 3.0, 18.0, "Basic"),
    size("s-2vcpu-4gb", 4096, 2, 80, 4.0, 24.0, "Basic"),
    size("s-4vcpu-8gb", 8192, 4, 160, 5.0, 48.0, "Basic"),
    size("s-8vcpu-16gb", 16384, 8, 320, 6.0, 96.0, "Basic"),
    size("c-4", 8192, 4, 50, 5.0, 84.0, "CPU-Optimized"),
    size("g-4vcpu-16gb", 16384, 4, 50, 5.0, 126.0, "General Purpose"),
    size(
        "m-4vcpu-32gb",
        32768,
        4,
        100,
        6.0,
        168.0,
        "Memory-Optimized",
    ),
    Size {
        slug: "gpu-l40sx1-48gb",
        memory_mb: 65536,
        vcpus: 8,
        disk_gb: 500,
        transfer_tb: 10.0,
        price_monthly: 1171.74,
        description: "GPU L40S 1X",
        gpu: Some((1, "nvidia_l40s", 48)),
    },
    Size {
        slug: "gpu-h100x1-80gb",
        memory_mb: 245760,
        vcpus: 20,
        disk_gb: 720,
        transfer_tb: 15.0,
        price_monthly: 2485.44,
        description: "GPU H100 1X",
        gpu: Some((1, "nvidia_h100", 80)),
    },
    Size {
        slug: "gpu-h100x8-640gb",
        memory_mb: 1966080,
        vcpus: 160,
        disk_gb: 2046,
        transfer_tb: 60.0,
        price_monthly: 17883.36,
        description: "GPU H100 8X",
        gpu: Some((8, "nvidia_h100", 80)),
    },
];

const fn size(
    slug: &'static str,
    memory_mb: u64,
    vcpus: u64,
    disk_gb: u64,
    transfer_tb: f64,
    price_monthly: f64,
    description: &'static str,
) -> Size {
    Size {
        slug,
        memory_mb,
        vcpus,
        disk_gb,
        transfer_tb,
        price_monthly,
        description,
        gpu: None,
    }
}

impl Size {
    /// Regions where this size is available.
    pub(crate) fn regions(&self) -> Vec<&'static str> {
        if self.gpu.is_some() {
            GPU_REGIONS.to_vec()
        } else {
            REGIONS.iter().map(|(slug, _)| *slug).collect()
        }
    }

    pub(crate) fn to_json(&self) -> Value {
        let mut v = json!({
            "slug": self.slug,
            "memory": self.memory_mb,
            "vcpus": self.vcpus,
            "disk": self.disk_gb,
            "transfer": self.transfer_tb,
            "price_monthly": self.price_monthly,
            // DigitalOcean bills 672 hours per month.
            "price_hourly": (self.price_monthly / 672.0 * 100_000.0).round() / 100_000.0,
            "regions": self.regions(),
            "available": true,
            "description": self.description,
            "disk_info": [{"type": "local", "size": {"amount": self.disk_gb, "unit": "gib"}}],
        });
        if let Some((count, model, vram)) = self.gpu {
            v["gpu_info"] =
                json!({"count": count, "model": model, "vram": {"amount": vram, "unit": "gib"}});
        }
        v
    }
}

/// Looks a size up by slug.
pub(crate) fn size_by_slug(slug: &str) -> Option<&'static Size> {
    SIZES.iter().find(|s| s.slug == slug)
}

/// Whether `region` is a known region slug.
pub(crate) fn region_known(region: &str) -> bool {
    REGIONS.iter().any(|(slug, _)| *slug == region)
}

/// DOKS versions, newest first: (slug, upstream version).
pub(crate) const K8S_VERSIONS: &[(&str, &str)] = &[
    ("1.33.1-do.0", "1.33.1"),
    ("1.32.5-do.0", "1.32.5"),
    ("1.31.9-do.0", "1.31.9"),
];

/// Resolves a requested version (`latest`, a slug, or a minor like `1.32`) to a slug.
pub(crate) fn resolve_k8s_version(requested: &str) -> Option<&'static str> {
    if requested == "latest" {
        return Some(K8S_VERSIONS[0].0);
    }
    K8S_VERSIONS
        .iter()
        .find(|(slug, upstream)| {
            *slug == requested
                || *upstream == requested
                || upstream.starts_with(&format!("{requested}."))
        })
        .map(|(slug, _)| *slug)
}

/// Body of `GET /v2/regions` items.
pub(crate) fn regions_json() -> Vec<Value> {
    REGIONS
        .iter()
        .map(|(slug, name)| {
            let sizes: Vec<&str> = SIZES
                .iter()
                .filter(|s| s.regions().contains(slug))
                .map(|s| s.slug)
                .collect();
            json!({
                "slug": slug,
                "name": name,
                "features": ["backups", "ipv6", "metadata", "install_agent", "storage", "image_transfer"],
                "available": true,
                "sizes": sizes,
            })
        })
        .collect()
}

/// Body of `GET /v2/kubernetes/options`.
pub(crate) fn kubernetes_options_json() -> Value {
    json!({
        "options": {
            "regions": REGIONS.iter().map(|(slug, name)| json!({"name": name, "slug": slug})).collect::<Vec<_>>(),
            "versions": K8S_VERSIONS.iter().map(|(slug, upstream)| json!({
                "slug": slug,
                "kubernetes_version": upstream,
                "supported_features": ["cluster-autoscaler", "docr-integration", "ha-control-plane", "token-authentication"],
            })).collect::<Vec<_>>(),
            "sizes": SIZES.iter().map(|s| json!({"name": s.slug, "slug": s.slug})).collect::<Vec<_>>(),
        }
    })
}

/// Registry subscription tiers: (slug, name, repositories, storage bytes, monthly cents).
pub(crate) const REGISTRY_TIERS: &[(&str, &str, u64, u64, u64)] = &[
    ("starter", "Starter", 1, 524_288_000, 0),
    ("basic", "Basic", 5, 5_368_709_120, 500),
    ("professional", "Professional", 0, 107_374_182_400, 2000),
];
