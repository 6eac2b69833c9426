//! DigitalOcean objects and the monthly cost estimate.
//!
//! Every object is named from the workbench (`<workbench>-vpc`, `<workbench>-cluster`, ...)
//! and, where DigitalOcean allows tags, tagged `ipai-workbench:<workbench>`, so an applier can
//! find what it created before (after a failed apply, or from another machine) instead of
//! creating twins. [`DoObject::spec`] is the body of the DigitalOcean API v2 create request;
//! ids of other objects (`vpc_uuid` of the cluster, the cluster of an extra pool, the check of
//! an alert) are not known here and are filled in by the applier from `depends_on`.

mod cost;
mod validate;

use serde_json::{Value, json};

pub use cost::{PriceTable, estimate_monthly_cents, registry_tier_monthly_cents};
pub use validate::{parse_duration, timeouts as validate_timeouts, validate};

use crate::kubernetes::{EGRESS_PORTS, REDIS_EGRESS_PORTS};
use crate::{
    AttrPath, DoKind, DoObject, Error, Expansion, Result,
    spec::WorkbenchSpec,
    spec::workbench::{AutoscaleSpec, NodePoolSpec},
};

/// Prefix of the tag put on every taggable object of a workbench.
pub const WORKBENCH_TAG_PREFIX: &str = "ipai-workbench:";

/// Node label that names the pool a node belongs to (also set on GPU pools, so workloads
/// can select them with a `nodeSelector`).
pub const POOL_LABEL: &str = "ipai.insightpulseai.net/pool";

/// Taint put on GPU pools so only workloads that tolerate it land there.
pub const GPU_TAINT_KEY: &str = "nvidia.com/gpu";

/// The tag that marks an object as the workbench's: `ipai-workbench:<workbench>`.
pub fn workbench_tag(workbench: &str) -> String {
    format!("{WORKBENCH_TAG_PREFIX}{workbench}")
}

/// Name of the workbench's project.
pub fn project_name(workbench: &str) -> String {
    format!("{workbench}-project")
}

/// Name of the workbench's VPC.
pub fn vpc_name(workbench: &str) -> String {
    format!("{workbench}-vpc")
}

/// Name of the workbench's DOKS cluster.
pub fn cluster_name(workbench: &str) -> String {
    format!("{workbench}-cluster")
}

/// Name of the cluster's default node pool.
pub fn default_pool_name(workbench: &str) -> String {
    format!("{workbench}-default")
}

/// Name of an extra node pool.
pub fn pool_name(workbench: &str, pool: &str) -> String {
    format!("{workbench}-{pool}")
}

/// What ends the name of an OCR stack's GPU pool; a workbench's extra pool may not end so
/// (`<workbench>-<stack>-gpu` would then name two pools).
pub const GPU_POOL_SUFFIX: &str = "-gpu";

/// Name of the GPU node pool of an OCR stack.
pub fn gpu_pool_name(workbench: &str, stack: &str) -> String {
    format!("{workbench}-{stack}{GPU_POOL_SUFFIX}")
}

/// Name of the workbench's cloud firewall.
pub fn firewall_name(workbench: &str) -> String {
    format!("{workbench}-firewall")
}

/// Object name of a subdomain's DNS record.
pub fn record_name(workbench: &str, subdomain: &str) -> String {
    format!("{workbench}-dns-{subdomain}")
}

/// Name of a subdomain's uptime check.
pub fn uptime_check_name(workbench: &str, subdomain: &str) -> String {
    format!("{workbench}-{subdomain}-uptime")
}

/// Name of the "down everywhere" alert of a subdomain's uptime check.
pub fn uptime_alert_name(workbench: &str, subdomain: &str) -> String {
    format!("{workbench}-{subdomain}-down")
}

/// Ports the firewall lets in from anywhere (HTTPS, and HTTP for the redirect).
pub const INBOUND_PORTS: &[&str] = &["443", "80"];

/// TCP ports the firewall lets out: HTTPS, PostgreSQL, the Supabase pooler, Qdrant, and
/// Redis, which the network policies also let out (outbound rules deny everything else, so
/// without 6379/25061 the LiteLLM gateway's Redis cache would be unreachable).
pub const OUTBOUND_TCP_PORTS: [u16; 6] = {
    let [https, postgres, pooler, qdrant] = EGRESS_PORTS;
    let [redis, managed_redis] = REDIS_EGRESS_PORTS;
    [https, postgres, pooler, qdrant, redis, managed_redis]
};

const ANYWHERE: [&str; 2] = ["0.0.0.0/0", "::/0"];

/// The workbench's DigitalOcean objects (project, VPC, cluster with its default pool, extra
/// pools, firewall, registry, DNS records, uptime checks and alerts) in dependency order,
/// and their monthly cost from the static price table.
pub fn workbench(spec: &WorkbenchSpec) -> Result<Expansion> {
    let diags = validate(spec);
    if diags.has_errors() {
        return Err(Error::Invalid(diags));
    }
    let wb = spec.name.as_str();
    let tags = tags(spec);
    let mut objects = Vec::new();

    objects.push(object(
        DoKind::Project,
        project_name(wb),
        &[],
        json!({
            "name": project_name(wb),
            "description": format!("ipai workbench {wb}"),
            "purpose": "Operational / Developer tooling",
            "environment": project_environment(&spec.environment),
        }),
    ));
    objects.push(object(
        DoKind::Vpc,
        vpc_name(wb),
        &[],
        json!({
            "name": vpc_name(wb),
            "description": format!("ipai workbench {wb}"),
            "region": spec.region,
            "ip_range": spec.vpc_cidr,
        }),
    ));
    let c = &spec.cluster;
    objects.push(object(
        DoKind::KubernetesCluster,
        cluster_name(wb),
        &[vpc_name(wb)],
        json!({
            "name": cluster_name(wb),
            "region": spec.region,
            "version": c.version,
            "tags": tags,
            "node_pools": [pool_body(
                &default_pool_name(wb),
                &c.node_size,
                c.node_count,
                c.autoscale.as_ref(),
                &tags,
                json!({ POOL_LABEL: default_pool_name(wb) }),
                None,
            )],
            // Upgrades are an explicit change of `cluster.version`, never a surprise.
            "auto_upgrade": false,
            "surge_upgrade": true,
        }),
    ));
    for pool in &c.node_pools {
        objects.push(extra_pool(wb, pool, &tags));
    }
    objects.push(object(
        DoKind::Firewall,
        firewall_name(wb),
        &[cluster_name(wb)],
        firewall_body(wb, &spec.firewall.ssh_sources),
    ));
    let registry = spec.registry_name.clone().unwrap_or_else(|| wb.to_owned());
    let mut registry_body = json!({
        "name": registry,
        "subscription_tier_slug": spec.registry_tier,
    });
    if let Some(region) = registry_region(&spec.region) {
        registry_body["region"] = json!(region);
    }
    objects.push(object(DoKind::Registry, registry, &[], registry_body));
    if let Some(ip) = &spec.ingress_ip {
        for sub in &spec.subdomains {
            objects.push(object(
                DoKind::DomainRecord,
                record_name(wb, sub),
                &[],
                json!({
                    "type": "A",
                    "name": sub,
                    "data": ip,
                    "ttl": 300,
                    "domain": spec.domain,
                }),
            ));
        }
    }
    if spec.uptime.enabled {
        for sub in &spec.subdomains {
            let check = uptime_check_name(wb, sub);
            objects.push(object(
                DoKind::UptimeCheck,
                check.clone(),
                &[],
                json!({
                    "name": check,
                    "type": "https",
                    // Not a property of the check schema, yet the published contract
                    // lists it as required on create.
                    "method": "GET",
                    "target": format!("https://{sub}.{}/", spec.domain),
                    "regions": spec.uptime.regions,
                    "enabled": true,
                }),
            ));
            objects.push(object(
                DoKind::UptimeAlert,
                uptime_alert_name(wb, sub),
                &[check],
                json!({
                    "name": uptime_alert_name(wb, sub),
                    "type": "down_global",
                    "period": "2m",
                    "notifications": {
                        "email": spec.uptime.alert_emails,
                        "slack": [],
                    },
                }),
            ));
        }
    }

    let monthly_cost_cents = estimate_monthly_cents(&objects, &PriceTable::builtin());
    Ok(Expansion {
        digitalocean: objects,
        monthly_cost_cents,
        ..Expansion::default()
    })
}

/// The GPU node pool of an OCR stack (`ipai_ocr_stack` with `gpu.enabled`): an extra pool
/// of the workbench's cluster, labelled [`POOL_LABEL`]` = `[`gpu_pool_name`] and tainted
/// [`GPU_TAINT_KEY`]` = present:NoSchedule`, so the OCR Deployment selects it and tolerates
/// the taint. `path` is where the stack's `gpu` block sits, for diagnostics.
pub fn ocr_gpu_pool(
    workbench: &str,
    stack: &str,
    node_size: &str,
    count: i64,
    path: &AttrPath,
) -> Result<Expansion> {
    let mut d = crate::Diagnostics::new();
    crate::names::dns1123_label(&path.at("stack"), stack, &mut d);
    validate::size_slug(&path.at("node_size"), node_size, &mut d);
    if count < 1 {
        d.error(
            path.at("count"),
            "Invalid GPU node count",
            format!("count is {count}; a GPU pool needs at least 1 node."),
        );
    }
    if d.has_errors() {
        return Err(Error::Invalid(d));
    }
    let name = gpu_pool_name(workbench, stack);
    let tags = vec![workbench_tag(workbench)];
    let mut body = pool_body(
        &name,
        node_size,
        count,
        None,
        &tags,
        json!({ POOL_LABEL: name }),
        Some(json!([{ "key": GPU_TAINT_KEY, "value": "present", "effect": "NoSchedule" }])),
    );
    body["cluster"] = json!(cluster_name(workbench));
    let objects = vec![object(
        DoKind::NodePool,
        name,
        &[cluster_name(workbench)],
        body,
    )];
    let monthly_cost_cents = estimate_monthly_cents(&objects, &PriceTable::builtin());
    Ok(Expansion {
        digitalocean: objects,
        monthly_cost_cents,
        ..Expansion::default()
    })
}

fn object(kind: DoKind, name: String, depends_on: &[String], spec: Value) -> DoObject {
    DoObject {
        kind,
        name,
        depends_on: depends_on.to_vec(),
        spec,
    }
}

/// The workbench tag first, then the user's `key:value` tags in key order.
fn tags(spec: &WorkbenchSpec) -> Vec<String> {
    std::iter::once(workbench_tag(&spec.name))
        .chain(spec.tags.iter().map(|(k, v)| format!("{k}:{v}")))
        .collect()
}

fn pool_body(
    name: &str,
    size: &str,
    count: i64,
    autoscale: Option<&AutoscaleSpec>,
    tags: &[String],
    labels: Value,
    taints: Option<Value>,
) -> Value {
    let mut body = json!({
        "name": name,
        "size": size,
        "count": count,
        "tags": tags,
        "labels": labels,
        "auto_scale": autoscale.is_some(),
    });
    if let Some(a) = autoscale {
        body["min_nodes"] = json!(a.min);
        body["max_nodes"] = json!(a.max);
    }
    if let Some(t) = taints {
        body["taints"] = t;
    }
    body
}

fn extra_pool(wb: &str, pool: &NodePoolSpec, tags: &[String]) -> DoObject {
    let name = pool_name(wb, &pool.name);
    let mut labels = serde_json::Map::new();
    for (k, v) in &pool.labels {
        labels.insert(k.clone(), json!(v));
    }
    labels.insert(POOL_LABEL.into(), json!(name));
    let mut body = pool_body(
        &name,
        &pool.node_size,
        pool.node_count,
        pool.autoscale.as_ref(),
        tags,
        Value::Object(labels),
        None,
    );
    // Which cluster the pool belongs to; the applier turns it into the URL's cluster id.
    body["cluster"] = json!(cluster_name(wb));
    object(DoKind::NodePool, name, &[cluster_name(wb)], body)
}

fn firewall_body(wb: &str, ssh_sources: &[String]) -> Value {
    let mut inbound: Vec<Value> = INBOUND_PORTS
        .iter()
        .map(|p| json!({ "protocol": "tcp", "ports": p, "sources": { "addresses": ANYWHERE } }))
        .collect();
    if !ssh_sources.is_empty() {
        inbound.push(
            json!({ "protocol": "tcp", "ports": "22", "sources": { "addresses": ssh_sources } }),
        );
    }
    let mut outbound: Vec<Value> = OUTBOUND_TCP_PORTS
        .iter()
        .map(|p| {
            json!({ "protocol": "tcp", "ports": p.to_string(), "destinations": { "addresses": ANYWHERE } })
        })
        .collect();
    // DNS, or nothing else resolves.
    for proto in ["udp", "tcp"] {
        outbound.push(
            json!({ "protocol": proto, "ports": "53", "destinations": { "addresses": ANYWHERE } }),
        );
    }
    json!({
        "name": firewall_name(wb),
        // Applies to every droplet carrying the workbench tag: the cluster's nodes.
        "tags": [workbench_tag(wb)],
        "inbound_rules": inbound,
        "outbound_rules": outbound,
    })
}

fn project_environment(env: &str) -> &'static str {
    match env {
        "dev" => "Development",
        "staging" => "Staging",
        _ => "Production",
    }
}

/// The container registry region nearest to a droplet region (the registry lives in only
/// five regions); `None` lets DigitalOcean choose.
fn registry_region(region: &str) -> Option<&'static str> {
    Some(match region.get(..3)? {
        "nyc" | "tor" => "nyc3",
        "sfo" => "sfo3",
        "ams" | "lon" => "ams3",
        "fra" => "fra1",
        "sgp" | "blr" | "syd" => "sgp1",
        _ => return None,
    })
}
