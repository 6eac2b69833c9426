//! Checks of the workbench's DigitalOcean settings that need no API call (slug syntax,
//! CIDRs, node counts, durations). Whether a region or size exists is checked by the
//! provider against `/v2/regions` and `/v2/sizes` when a token is configured.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use ipnet::{IpNet, Ipv4Net};

use super::GPU_POOL_SUFFIX;
use crate::{
    AttrPath, Diagnostics,
    spec::WorkbenchSpec,
    spec::workbench::{AutoscaleSpec, TimeoutsSpec},
};

/// Ranges DOKS uses inside every cluster (pods and services by default); a VPC overlapping
/// them makes cluster creation fail.
const DOKS_RANGES: [&str; 2] = ["10.244.0.0/16", "10.245.0.0/16"];

/// Most nodes DigitalOcean allows in one pool.
const MAX_POOL_NODES: i64 = 512;

/// Validates the DigitalOcean side of a workbench spec; every problem carries its attribute
/// path.
pub fn validate(spec: &WorkbenchSpec) -> Diagnostics {
    let mut d = Diagnostics::new();
    region_slug(&AttrPath::attr("region"), &spec.region, &mut d);
    crate::names::dns1123_subdomain(&AttrPath::attr("domain"), &spec.domain, &mut d);
    let c = AttrPath::attr("cluster");
    size_slug(&c.at("node_size"), &spec.cluster.node_size, &mut d);
    version_slug(&c.at("version"), &spec.cluster.version, &mut d);
    pool_counts(
        &c,
        "node_count",
        spec.cluster.node_count,
        spec.cluster.autoscale.as_ref(),
        &mut d,
    );
    let mut seen = std::collections::BTreeSet::new();
    for (i, pool) in spec.cluster.node_pools.iter().enumerate() {
        let p = c.at("node_pools").index(i);
        if crate::names::dns1123_label(&p.at("name"), &pool.name, &mut d)
            && (pool.name == "default" || !seen.insert(pool.name.as_str()))
        {
            d.error(
                p.at("name"),
                "Duplicate node pool name",
                format!(
                    "A pool named {:?} already exists in this cluster (\"default\" is the \
                     default pool); pool names must be unique.",
                    pool.name
                ),
            );
        }
        if pool.name.ends_with(GPU_POOL_SUFFIX) {
            d.error(
                p.at("name"),
                "Reserved node pool name",
                format!(
                    "Pool names ending in {GPU_POOL_SUFFIX:?} are the GPU pools of ipai_ocr_stack \
                     ({:?} would share its DigitalOcean name with the pool of a stack named \
                     {:?}); pick another name.",
                    pool.name,
                    pool.name.trim_end_matches(GPU_POOL_SUFFIX)
                ),
            );
        }
        size_slug(&p.at("node_size"), &pool.node_size, &mut d);
        pool_counts(
            &p,
            "node_count",
            pool.node_count,
            pool.autoscale.as_ref(),
            &mut d,
        );
    }
    vpc_cidr(&AttrPath::attr("vpc_cidr"), &spec.vpc_cidr, &mut d);
    for (i, src) in spec.firewall.ssh_sources.iter().enumerate() {
        let path = AttrPath::attr("firewall").at("ssh_sources").index(i);
        if src.parse::<IpNet>().is_err() && src.parse::<IpAddr>().is_err() {
            d.error(
                path,
                "Invalid SSH source",
                format!(
                    "{src:?} is neither an IP address nor a CIDR range such as 203.0.113.0/24."
                ),
            );
        }
    }
    if !matches!(
        spec.registry_tier.as_str(),
        "starter" | "basic" | "professional"
    ) {
        d.error(
            AttrPath::attr("registry_tier"),
            "Unknown registry tier",
            format!(
                "{:?} is not a DigitalOcean registry tier; use starter, basic or professional.",
                spec.registry_tier
            ),
        );
    }
    if let Some(name) = &spec.registry_name {
        let ok = !name.is_empty()
            && name.len() <= 63
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !ok {
            d.error(
                AttrPath::attr("registry_name"),
                "Invalid registry name",
                format!("{name:?}: 1 to 63 lowercase letters, digits and '-'."),
            );
        }
    }
    for (i, sub) in spec.subdomains.iter().enumerate() {
        crate::names::dns1123_label(&AttrPath::attr("subdomains").index(i), sub, &mut d);
    }
    if let Some(ip) = &spec.ingress_ip
        && ip.parse::<Ipv4Addr>().is_err()
    {
        d.error(
            AttrPath::attr("ingress_ip"),
            "Invalid ingress address",
            format!("{ip:?} is not an IPv4 address; the DNS A records need one."),
        );
    }
    for (k, v) in &spec.tags {
        let tag = format!("{k}:{v}");
        let ok = tag.len() <= 255
            && tag
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '-' | '_'));
        if !ok || k.is_empty() {
            d.error(
                AttrPath::attr("tags").key(k.clone()),
                "Invalid tag",
                format!(
                    "The DigitalOcean tag {tag:?} may hold only letters, digits, ':', '-' and \
                     '_' (at most 255 characters), and the key must not be empty."
                ),
            );
        }
    }
    let up = AttrPath::attr("uptime");
    for (i, r) in spec.uptime.regions.iter().enumerate() {
        if !matches!(r.as_str(), "us_east" | "us_west" | "eu_west" | "se_asia") {
            d.error(
                up.at("regions").index(i),
                "Unknown uptime region",
                format!("{r:?}: uptime checks run from us_east, us_west, eu_west or se_asia."),
            );
        }
    }
    if spec.uptime.enabled && spec.uptime.regions.is_empty() && !spec.subdomains.is_empty() {
        d.error(
            up.at("regions"),
            "No uptime region",
            "Uptime checks need at least one region to run from; add one or set uptime.enabled = false.",
        );
    }
    for (i, e) in spec.uptime.alert_emails.iter().enumerate() {
        let ok = e
            .split_once('@')
            .is_some_and(|(u, h)| !u.is_empty() && h.contains('.') && !h.contains('@'));
        if !ok {
            d.error(
                up.at("alert_emails").index(i),
                "Invalid e-mail address",
                format!("{e:?} is not an e-mail address."),
            );
        }
    }
    timeouts(&AttrPath::attr("timeouts"), &spec.timeouts, &mut d);
    d
}

/// Checks a `timeouts` block at `path`: every value set must be a duration.
pub fn timeouts(path: &AttrPath, t: &TimeoutsSpec, d: &mut Diagnostics) {
    for (field, value) in [
        ("create", &t.create),
        ("update", &t.update),
        ("delete", &t.delete),
    ] {
        if let Some(v) = value
            && parse_duration(v).is_none()
        {
            d.error(
                path.at(field),
                "Invalid duration",
                format!("{v:?} is not a duration; write it like 90s, 30m or 1h30m."),
            );
        }
    }
}

/// Parses a Go-style duration made of `<number><unit>` parts with units `h`, `m`, `s`
/// (`90s`, `30m`, `1h30m`), as Terraform's `timeouts` blocks use.
pub fn parse_duration(s: &str) -> Option<Duration> {
    if s.is_empty() {
        return None;
    }
    let mut total = 0u64;
    let mut digits = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let n: u64 = digits.parse().ok()?;
        digits.clear();
        let unit = match c {
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => return None,
        };
        total = total.checked_add(n.checked_mul(unit)?)?;
    }
    digits.is_empty().then_some(Duration::from_secs(total))
}

/// Region slugs are three letters and a digit (`sgp1`, `nyc3`).
fn region_slug(path: &AttrPath, value: &str, d: &mut Diagnostics) {
    let b = value.as_bytes();
    let ok = b.len() == 4 && b[..3].iter().all(u8::is_ascii_lowercase) && b[3].is_ascii_digit();
    if !ok {
        d.error(
            path.clone(),
            "Invalid region slug",
            format!("{value:?} is not a DigitalOcean region slug such as sgp1 or nyc3."),
        );
    }
}

/// Size slugs are lowercase letters, digits and `-` (`s-4vcpu-8gb`, `gpu-h100x1-80gb`).
pub(super) fn size_slug(path: &AttrPath, value: &str, d: &mut Diagnostics) {
    let ok = !value.is_empty()
        && value.len() <= 64
        && value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !value.starts_with('-')
        && !value.ends_with('-');
    if !ok {
        d.error(
            path.clone(),
            "Invalid size slug",
            format!(
                "{value:?} is not a DigitalOcean size slug such as s-4vcpu-8gb \
                 (lowercase letters, digits and '-')."
            ),
        );
    }
}

/// `latest`, a minor version (`1.33`) or a full DOKS slug (`1.33.1-do.0`).
fn version_slug(path: &AttrPath, value: &str, d: &mut Diagnostics) {
    let base = value.split_once("-do.").map_or(value, |(b, _)| b);
    let parts: Vec<&str> = base.split('.').collect();
    let ok = value == "latest"
        || ((2..=3).contains(&parts.len())
            && parts
                .iter()
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit())));
    if !ok {
        d.error(
            path.clone(),
            "Invalid Kubernetes version",
            format!(
                "{value:?} is not a DOKS version: use latest, a minor version such as 1.33 \
                 or a full slug such as 1.33.1-do.0."
            ),
        );
    }
}

fn pool_counts(
    pool: &AttrPath,
    field: &str,
    count: i64,
    autoscale: Option<&AutoscaleSpec>,
    d: &mut Diagnostics,
) {
    if !(1..=MAX_POOL_NODES).contains(&count) {
        d.error(
            pool.at(field),
            "Invalid node count",
            format!("{field} is {count}; a pool holds 1 to {MAX_POOL_NODES} nodes."),
        );
    }
    let Some(a) = autoscale else { return };
    let ap = pool.at("autoscale");
    if a.min < 1 || a.max > MAX_POOL_NODES || a.min > a.max {
        d.error(
            ap.clone(),
            "Invalid autoscale bounds",
            format!(
                "min is {} and max is {}; they need 1 <= min <= max <= {MAX_POOL_NODES}.",
                a.min, a.max
            ),
        );
    } else if count < a.min || count > a.max {
        d.error(
            pool.at(field),
            "Node count outside the autoscale bounds",
            format!(
                "{field} is {count} but autoscale allows {} to {}; pick a count in that range.",
                a.min, a.max
            ),
        );
    }
}

fn vpc_cidr(path: &AttrPath, value: &str, d: &mut Diagnostics) {
    let net: Ipv4Net = match value.parse() {
        Ok(n) => n,
        Err(_) => {
            d.error(
                path.clone(),
                "Invalid CIDR",
                format!("{value:?} is not an IPv4 CIDR range such as 10.10.0.0/16."),
            );
            return;
        }
    };
    if net.trunc() != net {
        d.error(
            path.clone(),
            "Invalid CIDR",
            format!(
                "{value:?} has host bits set; the range starts at {}.",
                net.trunc()
            ),
        );
        return;
    }
    if !(16..=28).contains(&net.prefix_len()) {
        d.error(
            path.clone(),
            "VPC range of the wrong size",
            format!(
                "{value:?} is a /{}; DigitalOcean VPCs are /16 to /28.",
                net.prefix_len()
            ),
        );
    }
    if !net.addr().is_private() {
        d.error(
            path.clone(),
            "VPC range is not private",
            format!("{value:?} is outside 10.0.0.0/8, 172.16.0.0/12 and 192.168.0.0/16."),
        );
    }
    for r in DOKS_RANGES {
        let doks: Ipv4Net = r.parse().expect("constant CIDR");
        if net.contains(&doks.network()) || doks.contains(&net.network()) {
            d.error(
                path.clone(),
                "VPC range overlaps the cluster's internal ranges",
                format!("{value:?} overlaps {r}, which DOKS uses for pods and services."),
            );
        }
    }
}
