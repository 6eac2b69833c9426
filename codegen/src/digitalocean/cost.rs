//! Monthly cost estimate from DigitalOcean's list prices.
//!
//! The built-in table holds the list prices (US cents per month) of the sizes the workbench
//! defaults to or commonly uses, as published by DigitalOcean when this table was written;
//! GPU sizes are hourly price × 672 hours, DigitalOcean's monthly cap (e.g. `gpu-h100x1-80gb`
//! at $6.74/h = $4,529.30, as in the API's own example). The provider replaces it with the
//! live `price_monthly` of `/v2/sizes` when a token is configured. Sizes missing from the
//! table count as zero. The DOKS control plane (non-HA) and uptime checks are free; load
//! balancers the cluster creates later are not part of the estimate.

use std::collections::BTreeMap;

use crate::{DoKind, DoObject};

/// Monthly prices of droplet sizes, in US cents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceTable {
    sizes: BTreeMap<String, u64>,
}

const BUILTIN: &[(&str, u64)] = &[
    ("s-1vcpu-1gb", 600),
    ("s-1vcpu-2gb", 1200),
    ("s-2vcpu-2gb", 1800),
    ("s-2vcpu-4gb", 2400),
    ("s-4vcpu-8gb", 4800),
    ("s-8vcpu-16gb", 9600),
    ("c-2", 4200),
    ("c-4", 8400),
    ("g-2vcpu-8gb", 6300),
    ("g-4vcpu-16gb", 12600),
    ("m-2vcpu-16gb", 8400),
    ("gpu-4000adax1-20gb", 51072),
    ("gpu-6000adax1-48gb", 105504),
    ("gpu-l40sx1-48gb", 105504),
    ("gpu-h100x1-80gb", 452930),
    // Eight GPUs at the one-GPU hourly price ($53.92/h × 672 h).
    ("gpu-h100x8-640gb", 3623424),
];

impl PriceTable {
    /// The built-in list prices (see the module documentation).
    pub fn builtin() -> Self {
        Self {
            sizes: BUILTIN.iter().map(|(s, c)| ((*s).to_owned(), *c)).collect(),
        }
    }

    /// Sets (or replaces) the monthly price of a size, e.g. from `/v2/sizes`.
    pub fn set(&mut self, slug: impl Into<String>, monthly_cents: u64) {
        self.sizes.insert(slug.into(), monthly_cents);
    }

    /// The monthly price of a size in cents, when known.
    pub fn size(&self, slug: &str) -> Option<u64> {
        self.sizes.get(slug).copied()
    }
}

/// Monthly price of a container registry tier, in US cents.
pub fn registry_tier_monthly_cents(tier: &str) -> u64 {
    match tier {
        "basic" => 500,
        "professional" => 2000,
        _ => 0,
    }
}

/// Monthly cost of the objects in cents: every pool's node count (the current count, also
/// for autoscaled pools) times its size's price, plus the registry tier.
pub fn estimate_monthly_cents(objects: &[DoObject], prices: &PriceTable) -> u64 {
    let pool = |p: &serde_json::Value| {
        let count = p["count"].as_u64().unwrap_or(0);
        let price = p["size"].as_str().and_then(|s| prices.size(s)).unwrap_or(0);
        count * price
    };
    objects
        .iter()
        .map(|o| match o.kind {
            DoKind::KubernetesCluster => o.spec["node_pools"]
                .as_array()
                .map_or(0, |ps| ps.iter().map(pool).sum()),
            DoKind::NodePool => pool(&o.spec),
            DoKind::Registry => o.spec["subscription_tier_slug"]
                .as_str()
                .map_or(0, registry_tier_monthly_cents),
            _ => 0,
        })
        .sum()
}
