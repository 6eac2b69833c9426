//! The simulator's account state and the operations on it, dispatched by OpenAPI operationId.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ipnet::Ipv4Net;
use serde_json::{Map, Value, json};

use super::catalog;

/// What a handler answers; the server adds headers, request ids and validates it.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) body: Body,
}

/// A reply body.
#[derive(Debug, Clone)]
pub(crate) enum Body {
    None,
    Json(Value),
    Yaml(String),
}

fn reply(status: u16, body: Value) -> Reply {
    Reply {
        status,
        body: Body::Json(body),
    }
}

fn no_content() -> Reply {
    Reply {
        status: 204,
        body: Body::None,
    }
}

/// A DigitalOcean-style error reply (`request_id` is added by the server).
pub(crate) fn error(status: u16, id: &str, message: impl Into<String>) -> Reply {
    reply(status, json!({"id": id, "message": message.into()}))
}

fn not_found() -> Reply {
    error(
        404,
        "not_found",
        "The resource you were accessing could not be found.",
    )
}

fn unprocessable(message: impl Into<String>) -> Reply {
    error(422, "unprocessable_entity", message)
}

/// One request as the handlers see it.
pub(crate) struct Req<'a> {
    pub(crate) op: &'a str,
    pub(crate) path: &'a str,
    pub(crate) params: &'a BTreeMap<String, String>,
    pub(crate) query: &'a [(String, String)],
    pub(crate) body: Value,
    pub(crate) base_url: &'a str,
}

impl Req<'_> {
    fn param(&self, name: &str) -> &str {
        self.params.get(name).map(String::as_str).unwrap_or("")
    }
    fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    fn str(&self, key: &str) -> Option<&str> {
        self.body.get(key).and_then(Value::as_str)
    }
}

/// Tunables of the state machines.
#[derive(Debug, Clone)]
pub(crate) struct Behaviour {
    pub(crate) provisioning_polls: u32,
    pub(crate) provisioning_delay: Duration,
    pub(crate) deletion_polls: u32,
    pub(crate) cluster_load_balancers: u32,
    pub(crate) cluster_volumes: u32,
}

#[derive(Debug, Clone)]
pub(crate) struct Vpc {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) region: String,
    pub(crate) ip_range: Ipv4Net,
    pub(crate) default: bool,
    pub(crate) created_at: String,
}

#[derive(Debug, Clone)]
pub(crate) struct Node {
    id: String,
    name: String,
    droplet_id: u64,
    created_at: String,
}

#[derive(Debug, Clone)]
pub(crate) struct Pool {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) size: String,
    pub(crate) count: u64,
    pub(crate) tags: Vec<String>,
    pub(crate) labels: Value,
    pub(crate) taints: Value,
    pub(crate) auto_scale: bool,
    pub(crate) min_nodes: u64,
    pub(crate) max_nodes: u64,
    nodes: Vec<Node>,
    /// Reads left before freshly added nodes report `running`.
    pending_polls: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClusterState {
    Provisioning,
    Running,
    Deleting,
}

impl ClusterState {
    fn as_str(self) -> &'static str {
        match self {
            ClusterState::Provisioning => "provisioning",
            ClusterState::Running => "running",
            ClusterState::Deleting => "deleting",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Cluster {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) region: String,
    pub(crate) version: String,
    pub(crate) vpc_uuid: String,
    pub(crate) tags: Vec<String>,
    pub(crate) pools: Vec<Pool>,
    pub(crate) state: ClusterState,
    pub(crate) auto_upgrade: bool,
    pub(crate) surge_upgrade: bool,
    pub(crate) ha: bool,
    pub(crate) maintenance_policy: Value,
    created_at: String,
    updated_at: String,
    created: Instant,
    /// Reads left in the current transitional state.
    polls_left: u32,
}

/// A load balancer or volume the cluster's workloads created (an Ingress, a PVC).
#[derive(Debug, Clone)]
pub(crate) struct Associated {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) cluster_id: String,
    pub(crate) region: String,
    ip: String,
    created_at: String,
}

#[derive(Debug, Clone)]
pub(crate) struct Project {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) purpose: String,
    pub(crate) environment: Option<String>,
    pub(crate) is_default: bool,
    created_at: String,
    updated_at: String,
}

#[derive(Debug, Clone)]
pub(crate) struct Registry {
    pub(crate) name: String,
    pub(crate) region: String,
    pub(crate) tier: String,
    /// Repositories pushed to it; they go with the registry.
    pub(crate) repositories: Vec<String>,
    created_at: String,
    updated_at: String,
}

#[derive(Debug, Clone)]
pub(crate) struct Domain {
    pub(crate) name: String,
    pub(crate) records: Vec<Value>,
}

/// The whole account.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) behaviour: Behaviour,
    seed: u64,
    next_record_id: u64,
    next_droplet_id: u64,
    pub(crate) vpcs: Vec<Vpc>,
    pub(crate) clusters: Vec<Cluster>,
    pub(crate) load_balancers: Vec<Associated>,
    pub(crate) volumes: Vec<Associated>,
    pub(crate) projects: Vec<Project>,
    /// URN → project id, for resources explicitly assigned.
    pub(crate) assignments: BTreeMap<String, (String, String)>,
    pub(crate) firewalls: Vec<Value>,
    pub(crate) registry: Option<Registry>,
    pub(crate) domains: Vec<Domain>,
    pub(crate) checks: Vec<Value>,
    /// check id → alerts.
    pub(crate) alerts: BTreeMap<String, Vec<Value>>,
}

/// RFC 3339 UTC timestamp of now, second precision.
pub(crate) fn now_rfc3339() -> String {
    rfc3339(SystemTime::now())
}

fn rfc3339(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Seconds since the Unix epoch.
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// DigitalOcean reserves these ranges for DOKS networking.
const RESERVED: &[&str] = &["10.244.0.0/16", "10.245.0.0/16", "10.246.0.0/24"];

impl State {
    pub(crate) fn new(behaviour: Behaviour, default_vpcs: bool) -> State {
        let mut s = State {
            behaviour,
            seed: 0x1d05_1ab5,
            next_record_id: 100_000_000,
            next_droplet_id: 400_000_000,
            vpcs: Vec::new(),
            clusters: Vec::new(),
            load_balancers: Vec::new(),
            volumes: Vec::new(),
            projects: Vec::new(),
            assignments: BTreeMap::new(),
            firewalls: Vec::new(),
            registry: None,
            domains: Vec::new(),
            checks: Vec::new(),
            alerts: BTreeMap::new(),
        };
        let now = now_rfc3339();
        let id = s.uuid();
        s.projects.push(Project {
            id,
            name: "first-project".into(),
            description: "Default project".into(),
            purpose: "Just trying out DigitalOcean".into(),
            environment: None,
            is_default: true,
            created_at: now.clone(),
            updated_at: now,
        });
        if default_vpcs {
            // An account that has used sgp1 before has its default VPC there.
            s.default_vpc("sgp1");
        }
        s
    }

    /// Deterministic UUID v4-shaped ids (splitmix64), so runs are reproducible.
    pub(crate) fn uuid(&mut self) -> String {
        let a = self.next_u64();
        let b = self.next_u64();
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            0x8000 | (b >> 48) & 0x3fff,
            b & 0xffff_ffff_ffff
        )
    }

    fn next_u64(&mut self) -> u64 {
        self.seed = self.seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.seed;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn default_vpc(&mut self, region: &str) -> String {
        if let Some(v) = self.vpcs.iter().find(|v| v.default && v.region == region) {
            return v.id.clone();
        }
        // DigitalOcean picks a /20 per region from 10.104.0.0 upwards.
        let mut third = 104u8;
        let range = loop {
            let net = Ipv4Net::new(Ipv4Addr::new(10, third, 0, 0), 20).expect("prefix 20");
            if self.overlap(&net).is_none() {
                break net;
            }
            third = third.saturating_add(6);
        };
        let id = self.uuid();
        self.vpcs.push(Vpc {
            id: id.clone(),
            name: format!("default-{region}"),
            description: String::new(),
            region: region.to_string(),
            ip_range: range,
            default: true,
            created_at: now_rfc3339(),
        });
        id
    }

    /// What `net` overlaps: another VPC, a cluster network or a reserved range.
    fn overlap(&self, net: &Ipv4Net) -> Option<String> {
        let hits =
            |other: &Ipv4Net| net.contains(&other.network()) || other.contains(&net.network());
        if let Some(v) = self.vpcs.iter().find(|v| hits(&v.ip_range)) {
            return Some(format!("VPC {} ({})", v.name, v.ip_range));
        }
        RESERVED
            .iter()
            .filter_map(|r| r.parse::<Ipv4Net>().ok())
            .find(|r| hits(r))
            .map(|r| format!("the range {r} reserved for Kubernetes"))
    }

    /// Dispatches one validated request.
    pub(crate) fn handle(&mut self, req: &Req<'_>) -> Reply {
        match req.op {
            "account_get" => reply(200, self.account()),
            "regions_list" => self.page(req, "regions", catalog::regions_json()),
            "sizes_list" => self.page(
                req,
                "sizes",
                catalog::SIZES.iter().map(catalog::Size::to_json).collect(),
            ),
            "kubernetes_list_options" => reply(200, catalog::kubernetes_options_json()),

            "vpcs_list" => {
                let items = self.vpcs.iter().map(|v| self.vpc_json(v)).collect();
                self.page(req, "vpcs", items)
            }
            "vpcs_create" => self.vpc_create(req),
            "vpcs_get" => match self.vpcs.iter().find(|v| v.id == req.param("vpc_id")) {
                Some(v) => reply(200, json!({"vpc": self.vpc_json(v)})),
                None => not_found(),
            },
            "vpcs_update" | "vpcs_patch" => self.vpc_update(req),
            "vpcs_delete" => self.vpc_delete(req),

            "kubernetes_list_clusters" => {
                let ids: Vec<String> = self.clusters.iter().map(|c| c.id.clone()).collect();
                let items = ids
                    .iter()
                    .filter_map(|id| self.observe_cluster(id))
                    .collect();
                self.page(req, "kubernetes_clusters", items)
            }
            "kubernetes_create_cluster" => self.cluster_create(req),
            "kubernetes_get_cluster" => match self.observe_cluster(req.param("cluster_id")) {
                Some(c) => reply(200, json!({"kubernetes_cluster": c})),
                None => not_found(),
            },
            "kubernetes_update_cluster" => self.cluster_update(req),
            "kubernetes_delete_cluster" => self.cluster_delete(req, Vec::new(), false),
            "kubernetes_list_associatedResources" => self.associated(req),
            "kubernetes_destroy_associatedResourcesDangerous" => {
                self.cluster_delete(req, Vec::new(), true)
            }
            "kubernetes_destroy_associatedResourcesSelective" => {
                let mut ids = strings(req.body.get("load_balancers"));
                ids.extend(strings(req.body.get("volumes")));
                ids.extend(strings(req.body.get("volume_snapshots")));
                self.cluster_delete(req, ids, false)
            }
            "kubernetes_get_kubeconfig" => self.kubeconfig(req),
            "kubernetes_get_credentials" => self.credentials(req),
            "kubernetes_list_nodePools" => match self.observe_cluster(req.param("cluster_id")) {
                Some(c) => reply(200, json!({"node_pools": c["node_pools"].clone()})),
                None => not_found(),
            },
            "kubernetes_add_nodePool" => self.pool_create(req),
            "kubernetes_get_nodePool" => {
                let Some(c) = self.observe_cluster(req.param("cluster_id")) else {
                    return not_found();
                };
                let pool = c["node_pools"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|p| p["id"] == req.param("node_pool_id"));
                match pool {
                    Some(p) => reply(200, json!({"node_pool": p})),
                    None => not_found(),
                }
            }
            "kubernetes_update_nodePool" => self.pool_update(req),
            "kubernetes_delete_nodePool" => self.pool_delete(req),

            "loadBalancers_list" => {
                let items = self.load_balancers.iter().map(lb_json).collect();
                self.page(req, "load_balancers", items)
            }
            "loadBalancers_get" => match self
                .load_balancers
                .iter()
                .find(|l| l.id == req.param("lb_id"))
            {
                Some(lb) => reply(200, json!({"load_balancer": lb_json(lb)})),
                None => not_found(),
            },
            "loadBalancers_delete" => {
                let before = self.load_balancers.len();
                self.load_balancers.retain(|l| l.id != req.param("lb_id"));
                if before == self.load_balancers.len() {
                    not_found()
                } else {
                    no_content()
                }
            }

            "projects_list" => {
                let items = self.projects.iter().map(project_json).collect();
                self.page(req, "projects", items)
            }
            "projects_create" => self.project_create(req),
            "projects_get" | "projects_get_default" => match self.project_for(req) {
                Some(p) => reply(200, json!({"project": project_json(p)})),
                None => not_found(),
            },
            "projects_update"
            | "projects_patch"
            | "projects_update_default"
            | "projects_patch_default" => self.project_update(req),
            "projects_delete" => self.project_delete(req),
            "projects_list_resources" | "projects_list_resources_default" => {
                let Some(p) = self.project_for(req) else {
                    return not_found();
                };
                let id = p.id.clone();
                let items = self.project_resources(&id, req.base_url);
                self.page(req, "resources", items)
            }
            "projects_assign_resources" | "projects_assign_resources_default" => {
                self.project_assign(req)
            }

            "firewalls_list" => {
                let items = self.firewalls.clone();
                self.page(req, "firewalls", items)
            }
            "firewalls_create" => self.firewall_create(req),
            "firewalls_get" => match self.firewall_mut(req.param("firewall_id")) {
                Some(f) => reply(200, json!({"firewall": f.clone()})),
                None => not_found(),
            },
            "firewalls_update" => self.firewall_update(req),
            "firewalls_delete" => {
                let before = self.firewalls.len();
                let id = req.param("firewall_id");
                self.firewalls.retain(|f| f["id"] != id);
                if before == self.firewalls.len() {
                    not_found()
                } else {
                    no_content()
                }
            }
            "firewalls_add_rules" | "firewalls_delete_rules" => self.firewall_rules(req),
            "firewalls_add_tags" | "firewalls_delete_tags" => self.firewall_tags(req),

            "registry_get" => match &self.registry {
                Some(r) => reply(200, json!({"registry": registry_json(r)})),
                None => not_found(),
            },
            "registry_create" => self.registry_create(req),
            "registry_delete" => match self.registry.take() {
                Some(_) => no_content(),
                None => not_found(),
            },
            "registry_get_subscription" => match &self.registry {
                Some(r) => reply(200, json!({"subscription": subscription_json(r)})),
                None => not_found(),
            },
            "registry_update_subscription" => {
                let tier = req.str("tier_slug").unwrap_or("basic").to_string();
                match self.registry.as_mut() {
                    Some(r) => {
                        r.tier = tier;
                        r.updated_at = now_rfc3339();
                        reply(200, json!({"subscription": subscription_json(r)}))
                    }
                    None => not_found(),
                }
            }

            "domains_list" => {
                let items = self.domains.iter().map(|d| domain_json(&d.name)).collect();
                self.page(req, "domains", items)
            }
            "domains_create" => self.domain_create(req),
            "domains_get" => match self.domain(req.param("domain_name")) {
                Some(d) => reply(200, json!({"domain": domain_json(&d.name)})),
                None => not_found(),
            },
            "domains_delete" => {
                let before = self.domains.len();
                let name = req.param("domain_name").to_string();
                self.domains.retain(|d| d.name != name);
                if before == self.domains.len() {
                    not_found()
                } else {
                    no_content()
                }
            }
            "domains_list_records" => self.records_list(req),
            "domains_create_record" => self.record_create(req),
            "domains_get_record" => {
                match self.record_mut(req.param("domain_name"), req.param("domain_record_id")) {
                    Some(r) => reply(200, json!({"domain_record": r.clone()})),
                    None => not_found(),
                }
            }
            "domains_update_record" | "domains_patch_record" => self.record_update(req),
            "domains_delete_record" => {
                let id = req.param("domain_record_id").to_string();
                match self.domain_mut(req.param("domain_name")) {
                    Some(d) => {
                        let before = d.records.len();
                        d.records
                            .retain(|r| r["id"].as_u64() != id.parse::<u64>().ok());
                        if before == d.records.len() {
                            not_found()
                        } else {
                            no_content()
                        }
                    }
                    None => not_found(),
                }
            }

            "uptime_list_checks" => {
                let items = self.checks.clone();
                self.page(req, "checks", items)
            }
            "uptime_create_check" => self.check_create(req),
            "uptime_get_check" => match self
                .checks
                .iter()
                .find(|c| c["id"] == req.param("check_id"))
            {
                Some(c) => reply(200, json!({"check": c})),
                None => not_found(),
            },
            "uptime_update_check" => self.check_update(req),
            "uptime_delete_check" => {
                let id = req.param("check_id").to_string();
                let before = self.checks.len();
                self.checks.retain(|c| c["id"] != id.as_str());
                self.alerts.remove(&id);
                if before == self.checks.len() {
                    not_found()
                } else {
                    no_content()
                }
            }
            "uptime_get_checkState" => {
                if self.checks.iter().any(|c| c["id"] == req.param("check_id")) {
                    reply(200, json!({"state": {"regions": {}}}))
                } else {
                    not_found()
                }
            }
            "uptime_list_alerts" => {
                let Some(alerts) = self.alerts.get(req.param("check_id")).cloned() else {
                    return not_found();
                };
                self.page(req, "alerts", alerts)
            }
            "uptime_create_alert" => self.alert_create(req),
            "uptime_get_alert" => {
                match self.alert_mut(req.param("check_id"), req.param("alert_id")) {
                    Some(a) => reply(200, json!({"alert": a.clone()})),
                    None => not_found(),
                }
            }
            "uptime_update_alert" => self.alert_update(req),
            "uptime_delete_alert" => match self.alerts.get_mut(req.param("check_id")) {
                Some(alerts) => {
                    let before = alerts.len();
                    alerts.retain(|a| a["id"] != req.param("alert_id"));
                    if before == alerts.len() {
                        not_found()
                    } else {
                        no_content()
                    }
                }
                None => not_found(),
            },

            other => error(
                501,
                "not_implemented",
                format!("the DigitalOcean simulator does not implement {other}"),
            ),
        }
    }

    fn account(&self) -> Value {
        json!({"account": {
            "droplet_limit": 25,
            "floating_ip_limit": 3,
            "volume_limit": 100,
            "email": "platform@insightpulseai.net",
            "name": "InsightPulseAI Platform",
            "uuid": "b6fc48dbf6d9906cace5f3c78dc9851e757381ef",
            "email_verified": true,
            "status": "active",
            "status_message": "",
            "team": {"uuid": "5df3e3004a2dd1ab5d8a6c8b8a5c2b8e", "name": "InsightPulseAI"}
        }})
    }

    /// One page of a list, with `links.pages` and `meta.total` as DigitalOcean sends them.
    fn page(&self, req: &Req<'_>, key: &str, items: Vec<Value>) -> Reply {
        let per_page = req
            .query("per_page")
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(20)
            .clamp(1, 200);
        let page = req
            .query("page")
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(1)
            .max(1);
        let total = items.len();
        let last = total.div_ceil(per_page).max(1);
        let slice: Vec<Value> = items
            .into_iter()
            .skip((page - 1) * per_page)
            .take(per_page)
            .collect();
        let extra: String = req
            .query
            .iter()
            .filter(|(k, _)| k != "page" && k != "per_page")
            .map(|(k, v)| format!("&{k}={v}"))
            .collect();
        let url = |n: usize| {
            format!(
                "{}{}?page={n}&per_page={per_page}{extra}",
                req.base_url, req.path
            )
        };
        let mut pages = Map::new();
        if page > 1 {
            pages.insert("first".into(), url(1).into());
            pages.insert("prev".into(), url(page - 1).into());
        }
        if page < last {
            pages.insert("next".into(), url(page + 1).into());
            pages.insert("last".into(), url(last).into());
        }
        let mut body = Map::new();
        body.insert(key.to_string(), Value::Array(slice));
        body.insert("links".into(), json!({"pages": pages}));
        body.insert("meta".into(), json!({"total": total}));
        reply(200, Value::Object(body))
    }

    // ---------------------------------------------------------------- VPCs

    pub(crate) fn vpc_json(&self, v: &Vpc) -> Value {
        json!({
            "id": v.id,
            "urn": format!("do:vpc:{}", v.id),
            "name": v.name,
            "description": v.description,
            "region": v.region,
            "ip_range": v.ip_range.to_string(),
            "default": v.default,
            "created_at": v.created_at,
        })
    }

    fn vpc_create(&mut self, req: &Req<'_>) -> Reply {
        let name = req.str("name").unwrap_or_default().to_string();
        let region = req.str("region").unwrap_or_default().to_string();
        if !catalog::region_known(&region) {
            return unprocessable(format!("region {region:?} is not a valid region"));
        }
        if self.vpcs.iter().any(|v| v.name == name) {
            return unprocessable(format!("a VPC named {name:?} already exists"));
        }
        let ip_range = match req.str("ip_range") {
            Some(raw) => {
                let Ok(net) = raw.parse::<Ipv4Net>() else {
                    return unprocessable(format!("ip_range {raw:?} is not a valid IPv4 CIDR"));
                };
                if net.trunc() != net {
                    return unprocessable(format!(
                        "ip_range {raw:?} has host bits set; did you mean {}?",
                        net.trunc()
                    ));
                }
                if !net.network().is_private() {
                    return unprocessable(format!(
                        "ip_range {raw:?} must be within an RFC 1918 private range"
                    ));
                }
                if !(16..=28).contains(&net.prefix_len()) {
                    return unprocessable(format!("ip_range {raw:?} must be between /16 and /28"));
                }
                if let Some(what) = self.overlap(&net) {
                    return unprocessable(format!("ip_range {raw} overlaps {what}"));
                }
                net
            }
            None => {
                let mut third = 110u8;
                loop {
                    let net = Ipv4Net::new(Ipv4Addr::new(10, third, 0, 0), 20).expect("prefix 20");
                    if self.overlap(&net).is_none() {
                        break net;
                    }
                    third = third.saturating_add(1);
                }
            }
        };
        let id = self.uuid();
        let vpc = Vpc {
            id,
            name,
            description: req.str("description").unwrap_or_default().to_string(),
            region,
            ip_range,
            default: false,
            created_at: now_rfc3339(),
        };
        let body = json!({"vpc": self.vpc_json(&vpc)});
        self.vpcs.push(vpc);
        reply(201, body)
    }

    fn vpc_update(&mut self, req: &Req<'_>) -> Reply {
        let id = req.param("vpc_id").to_string();
        if let Some(name) = req.str("name")
            && self.vpcs.iter().any(|v| v.name == name && v.id != id)
        {
            return unprocessable(format!("a VPC named {name:?} already exists"));
        }
        let Some(idx) = self.vpcs.iter().position(|v| v.id == id) else {
            return not_found();
        };
        let make_default = req.body.get("default").and_then(Value::as_bool) == Some(true);
        if make_default {
            let region = self.vpcs[idx].region.clone();
            for v in self.vpcs.iter_mut().filter(|v| v.region == region) {
                v.default = false;
            }
        }
        let v = &mut self.vpcs[idx];
        if let Some(name) = req.body.get("name").and_then(Value::as_str) {
            v.name = name.to_string();
        }
        if let Some(d) = req.body.get("description").and_then(Value::as_str) {
            v.description = d.to_string();
        }
        if make_default {
            v.default = true;
        }
        let v = self.vpcs[idx].clone();
        reply(200, json!({"vpc": self.vpc_json(&v)}))
    }

    fn vpc_delete(&mut self, req: &Req<'_>) -> Reply {
        let id = req.param("vpc_id");
        let Some(v) = self.vpcs.iter().find(|v| v.id == id) else {
            return not_found();
        };
        if v.default {
            return error(
                403,
                "forbidden",
                "the default VPC of a region cannot be deleted",
            );
        }
        if let Some(c) = self.clusters.iter().find(|c| c.vpc_uuid == id) {
            return error(
                403,
                "forbidden",
                format!(
                    "VPC {} still has members (Kubernetes cluster {}); delete them first",
                    v.name, c.name
                ),
            );
        }
        self.vpcs.retain(|v| v.id != id);
        no_content()
    }

    // ---------------------------------------------------------------- Kubernetes

    /// Reads a cluster as DigitalOcean shows it, advancing its state machine by one poll.
    fn observe_cluster(&mut self, id: &str) -> Option<Value> {
        let idx = self.clusters.iter().position(|c| c.id == id)?;
        let behaviour = self.behaviour.clone();
        let mut became_running = false;
        let mut gone = false;
        {
            let c = &mut self.clusters[idx];
            match c.state {
                ClusterState::Provisioning => {
                    if c.polls_left > 0 {
                        c.polls_left -= 1;
                    } else if c.created.elapsed() >= behaviour.provisioning_delay {
                        c.state = ClusterState::Running;
                        c.updated_at = now_rfc3339();
                        became_running = true;
                    }
                }
                ClusterState::Deleting => {
                    if c.polls_left > 0 {
                        c.polls_left -= 1;
                    } else {
                        gone = true;
                    }
                }
                ClusterState::Running => {}
            }
            if c.state != ClusterState::Provisioning {
                for p in &mut c.pools {
                    p.pending_polls = p.pending_polls.saturating_sub(1);
                }
            }
        }
        if gone {
            self.clusters.remove(idx);
            return None;
        }
        if became_running {
            let (cid, region) = (
                self.clusters[idx].id.clone(),
                self.clusters[idx].region.clone(),
            );
            for _ in 0..behaviour.cluster_load_balancers {
                self.add_load_balancer(&cid, &region);
            }
            for _ in 0..behaviour.cluster_volumes {
                self.add_volume(&cid, &region);
            }
        }
        Some(cluster_json(&self.clusters[idx]))
    }

    /// A load balancer as a `Service` of type LoadBalancer creates it.
    pub(crate) fn add_load_balancer(&mut self, cluster_id: &str, region: &str) -> String {
        let id = self.uuid();
        let n = self.next_u64();
        let lb = Associated {
            name: format!("a{}", &id.replace('-', "")[..31]),
            id: id.clone(),
            cluster_id: cluster_id.to_string(),
            region: region.to_string(),
            ip: format!("159.223.{}.{}", n % 250 + 1, (n >> 8) % 250 + 1),
            created_at: now_rfc3339(),
        };
        self.load_balancers.push(lb);
        id
    }

    /// A block-storage volume as a PersistentVolumeClaim creates it.
    pub(crate) fn add_volume(&mut self, cluster_id: &str, region: &str) -> String {
        let id = self.uuid();
        let vol = Associated {
            name: format!("pvc-{}", self.uuid()),
            id: id.clone(),
            cluster_id: cluster_id.to_string(),
            region: region.to_string(),
            ip: String::new(),
            created_at: now_rfc3339(),
        };
        self.volumes.push(vol);
        id
    }

    fn new_pool(&mut self, cluster_id: &str, body: &Value) -> Result<Pool, Reply> {
        let name = body["name"].as_str().unwrap_or_default().to_string();
        let size = body["size"].as_str().unwrap_or_default().to_string();
        let count = body["count"].as_i64().unwrap_or(0);
        let auto_scale = body["auto_scale"].as_bool().unwrap_or(false);
        let min_nodes = body["min_nodes"].as_i64().unwrap_or(0);
        let max_nodes = body["max_nodes"].as_i64().unwrap_or(0);
        if catalog::size_by_slug(&size).is_none() {
            return Err(unprocessable(format!(
                "node pool {name:?}: size {size:?} is not a valid Kubernetes node size"
            )));
        }
        check_counts(&name, count, auto_scale, min_nodes, max_nodes)?;
        let mut tags = strings(body.get("tags"));
        for t in ["k8s", &format!("k8s:{cluster_id}"), "k8s:worker"] {
            if !tags.iter().any(|x| x == t) {
                tags.push(t.to_string());
            }
        }
        let mut pool = Pool {
            id: self.uuid(),
            name,
            size,
            count: count as u64,
            tags,
            labels: body.get("labels").cloned().unwrap_or(Value::Null),
            taints: body.get("taints").cloned().unwrap_or(json!([])),
            auto_scale,
            min_nodes: min_nodes as u64,
            max_nodes: max_nodes as u64,
            nodes: Vec::new(),
            pending_polls: self.behaviour.provisioning_polls,
        };
        self.grow(&mut pool);
        Ok(pool)
    }

    fn grow(&mut self, pool: &mut Pool) {
        while (pool.nodes.len() as u64) < pool.count {
            let id = self.uuid();
            let suffix: String = id
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .take(5)
                .collect();
            self.next_droplet_id += 1;
            pool.nodes.push(Node {
                name: format!("{}-{suffix}", pool.name),
                id,
                droplet_id: self.next_droplet_id,
                created_at: now_rfc3339(),
            });
        }
        pool.nodes.truncate(pool.count as usize);
    }

    fn cluster_create(&mut self, req: &Req<'_>) -> Reply {
        let body = &req.body;
        let name = req.str("name").unwrap_or_default().to_string();
        let region = req.str("region").unwrap_or_default().to_string();
        if !catalog::region_known(&region) {
            return unprocessable(format!("region {region:?} is not a valid region"));
        }
        let requested = req.str("version").unwrap_or_default();
        let Some(version) = catalog::resolve_k8s_version(requested) else {
            return unprocessable(format!(
                "version {requested:?} is not a supported Kubernetes version"
            ));
        };
        if self.clusters.iter().any(|c| c.name == name) {
            return unprocessable(format!("a cluster named {name:?} already exists"));
        }
        let vpc_uuid = match req.str("vpc_uuid") {
            Some(id) => match self.vpcs.iter().find(|v| v.id == id) {
                Some(v) if v.region == region => id.to_string(),
                Some(v) => {
                    return unprocessable(format!(
                        "VPC {} is in {}, not in the cluster's region {region}",
                        v.name, v.region
                    ));
                }
                None => return unprocessable(format!("VPC {id} does not exist")),
            },
            None => self.default_vpc(&region),
        };
        let pools_in = body["node_pools"].as_array().cloned().unwrap_or_default();
        if pools_in.is_empty() {
            return unprocessable("a cluster needs at least one node pool");
        }
        let id = self.uuid();
        let mut pools: Vec<Pool> = Vec::new();
        for p in &pools_in {
            let pool = match self.new_pool(&id, p) {
                Ok(p) => p,
                Err(r) => return r,
            };
            if pools.iter().any(|x| x.name == pool.name) {
                return unprocessable(format!("node pool name {:?} is used twice", pool.name));
            }
            pools.push(pool);
        }
        let mut tags = strings(body.get("tags"));
        for t in ["k8s".to_string(), format!("k8s:{id}")] {
            if !tags.contains(&t) {
                tags.push(t);
            }
        }
        let now = now_rfc3339();
        let mut maintenance_policy = json!({"start_time": "00:00", "day": "any"});
        if let Some(mp) = body.get("maintenance_policy").and_then(Value::as_object) {
            for (k, v) in mp {
                maintenance_policy[k] = v.clone();
            }
        }
        maintenance_policy["duration"] = json!("4h0m0s");
        let cluster = Cluster {
            id: id.clone(),
            name,
            region,
            version: version.to_string(),
            vpc_uuid,
            tags,
            pools,
            state: ClusterState::Provisioning,
            auto_upgrade: body["auto_upgrade"].as_bool().unwrap_or(false),
            surge_upgrade: body["surge_upgrade"].as_bool().unwrap_or(false),
            ha: body["ha"].as_bool().unwrap_or(false),
            maintenance_policy,
            created_at: now.clone(),
            updated_at: now,
            created: Instant::now(),
            polls_left: self.behaviour.provisioning_polls,
        };
        let body = json!({"kubernetes_cluster": cluster_json(&cluster)});
        self.clusters.push(cluster);
        reply(201, body)
    }

    fn cluster_update(&mut self, req: &Req<'_>) -> Reply {
        let id = req.param("cluster_id");
        let name = req.str("name").unwrap_or_default().to_string();
        if self.clusters.iter().any(|c| c.name == name && c.id != id) {
            return unprocessable(format!("a cluster named {name:?} already exists"));
        }
        let Some(c) = self.clusters.iter_mut().find(|c| c.id == id) else {
            return not_found();
        };
        if c.state == ClusterState::Deleting {
            return unprocessable("the cluster is being deleted");
        }
        c.name = name;
        if req.body.get("tags").is_some() {
            let mut tags = strings(req.body.get("tags"));
            for t in ["k8s".to_string(), format!("k8s:{}", c.id)] {
                if !tags.contains(&t) {
                    tags.push(t);
                }
            }
            c.tags = tags;
        }
        for (key, slot) in [
            ("auto_upgrade", &mut c.auto_upgrade),
            ("surge_upgrade", &mut c.surge_upgrade),
            ("ha", &mut c.ha),
        ] {
            if let Some(b) = req.body.get(key).and_then(Value::as_bool) {
                *slot = b;
            }
        }
        if let Some(mp) = req
            .body
            .get("maintenance_policy")
            .and_then(Value::as_object)
        {
            for (k, v) in mp {
                if k != "duration" {
                    c.maintenance_policy[k] = v.clone();
                }
            }
        }
        c.updated_at = now_rfc3339();
        reply(202, json!({"kubernetes_cluster": cluster_json(c)}))
    }

    fn cluster_delete(&mut self, req: &Req<'_>, selected: Vec<String>, everything: bool) -> Reply {
        let id = req.param("cluster_id").to_string();
        let polls = self.behaviour.deletion_polls;
        let Some(c) = self.clusters.iter_mut().find(|c| c.id == id) else {
            return not_found();
        };
        if c.state != ClusterState::Deleting {
            c.state = ClusterState::Deleting;
            c.polls_left = polls;
            c.updated_at = now_rfc3339();
        }
        if polls == 0 {
            self.clusters.retain(|c| c.id != id);
        }
        let doomed =
            |a: &Associated| a.cluster_id == id && (everything || selected.contains(&a.id));
        self.load_balancers.retain(|a| !doomed(a));
        self.volumes.retain(|a| !doomed(a));
        no_content()
    }

    fn associated(&mut self, req: &Req<'_>) -> Reply {
        let id = req.param("cluster_id");
        if !self.clusters.iter().any(|c| c.id == id) {
            return not_found();
        }
        let pick = |list: &[Associated]| -> Vec<Value> {
            list.iter()
                .filter(|a| a.cluster_id == id)
                .map(|a| json!({"id": a.id, "name": a.name}))
                .collect()
        };
        reply(
            200,
            json!({
                "load_balancers": pick(&self.load_balancers),
                "volumes": pick(&self.volumes),
                "volume_snapshots": [],
            }),
        )
    }

    fn kubeconfig(&mut self, req: &Req<'_>) -> Reply {
        let Some(c) = self
            .clusters
            .iter()
            .find(|c| c.id == req.param("cluster_id"))
        else {
            return not_found();
        };
        let (name, endpoint) = (
            format!("do-{}-{}", c.region, c.name),
            cluster_endpoint(&c.id),
        );
        let token = format!("dop_v1_{}", self.uuid().replace('-', ""));
        let yaml = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    certificate-authority-data: {CA}\n    server: {endpoint}\n  name: {name}\ncontexts:\n- context:\n    cluster: {name}\n    user: {name}-admin\n  name: {name}\ncurrent-context: {name}\nusers:\n- name: {name}-admin\n  user:\n    token: {token}\n"
        );
        Reply {
            status: 200,
            body: Body::Yaml(yaml),
        }
    }

    fn credentials(&mut self, req: &Req<'_>) -> Reply {
        let Some(c) = self
            .clusters
            .iter()
            .find(|c| c.id == req.param("cluster_id"))
        else {
            return not_found();
        };
        let endpoint = cluster_endpoint(&c.id);
        let expiry = req
            .query("expiry_seconds")
            .and_then(|v| v.parse::<u64>().ok())
            .filter(|s| *s > 0)
            .unwrap_or(7 * 24 * 3600);
        let token = format!("dop_v1_{}", self.uuid().replace('-', ""));
        reply(
            200,
            json!({
                "server": endpoint,
                "certificate_authority_data": CA,
                "client_certificate_data": null,
                "client_key_data": null,
                "token": token,
                "expires_at": rfc3339(SystemTime::now() + Duration::from_secs(expiry)),
            }),
        )
    }

    fn pool_create(&mut self, req: &Req<'_>) -> Reply {
        let cid = req.param("cluster_id").to_string();
        let Some(idx) = self.clusters.iter().position(|c| c.id == cid) else {
            return not_found();
        };
        if self.clusters[idx].state == ClusterState::Deleting {
            return unprocessable("the cluster is being deleted");
        }
        let name = req.str("name").unwrap_or_default();
        if self.clusters[idx].pools.iter().any(|p| p.name == name) {
            return unprocessable(format!(
                "a node pool named {name:?} already exists in this cluster"
            ));
        }
        let pool = match self.new_pool(&cid, &req.body) {
            Ok(p) => p,
            Err(r) => return r,
        };
        let body = json!({"node_pool": pool_json(&pool, false)});
        self.clusters[idx].pools.push(pool);
        reply(201, body)
    }

    fn pool_update(&mut self, req: &Req<'_>) -> Reply {
        let (cid, pid) = (req.param("cluster_id"), req.param("node_pool_id"));
        let Some(cidx) = self.clusters.iter().position(|c| c.id == cid) else {
            return not_found();
        };
        let Some(pidx) = self.clusters[cidx].pools.iter().position(|p| p.id == pid) else {
            return not_found();
        };
        let name = req.str("name").unwrap_or_default().to_string();
        if self.clusters[cidx]
            .pools
            .iter()
            .any(|p| p.name == name && p.id != pid)
        {
            return unprocessable(format!(
                "a node pool named {name:?} already exists in this cluster"
            ));
        }
        let old = self.clusters[cidx].pools[pidx].clone();
        let count = req.body["count"].as_i64().unwrap_or(old.count as i64);
        let auto_scale = req.body["auto_scale"].as_bool().unwrap_or(old.auto_scale);
        let min_nodes = req.body["min_nodes"]
            .as_i64()
            .unwrap_or(old.min_nodes as i64);
        let max_nodes = req.body["max_nodes"]
            .as_i64()
            .unwrap_or(old.max_nodes as i64);
        if let Err(r) = check_counts(&name, count, auto_scale, min_nodes, max_nodes) {
            return r;
        }
        let mut pool = old;
        pool.name = name;
        pool.auto_scale = auto_scale;
        pool.min_nodes = min_nodes as u64;
        pool.max_nodes = max_nodes as u64;
        if pool.count != count as u64 {
            pool.count = count as u64;
            pool.pending_polls = self.behaviour.provisioning_polls;
        }
        if req.body.get("tags").is_some() {
            let mut tags = strings(req.body.get("tags"));
            for t in [
                "k8s".to_string(),
                format!("k8s:{cid}"),
                "k8s:worker".to_string(),
            ] {
                if !tags.contains(&t) {
                    tags.push(t);
                }
            }
            pool.tags = tags;
        }
        if let Some(l) = req.body.get("labels") {
            pool.labels = l.clone();
        }
        if let Some(t) = req.body.get("taints") {
            pool.taints = t.clone();
        }
        self.grow(&mut pool);
        let body = json!({"node_pool": pool_json(&pool, self.clusters[cidx].state == ClusterState::Provisioning)});
        self.clusters[cidx].pools[pidx] = pool;
        reply(202, body)
    }

    fn pool_delete(&mut self, req: &Req<'_>) -> Reply {
        let (cid, pid) = (req.param("cluster_id"), req.param("node_pool_id"));
        let Some(c) = self.clusters.iter_mut().find(|c| c.id == cid) else {
            return not_found();
        };
        if !c.pools.iter().any(|p| p.id == pid) {
            return not_found();
        }
        if c.pools.len() == 1 {
            return unprocessable("a cluster must keep at least one node pool");
        }
        c.pools.retain(|p| p.id != pid);
        no_content()
    }

    // ---------------------------------------------------------------- Projects

    fn project_for(&self, req: &Req<'_>) -> Option<&Project> {
        if req.op.ends_with("_default") {
            self.projects.iter().find(|p| p.is_default)
        } else {
            let id = req.param("project_id");
            self.projects.iter().find(|p| p.id == id)
        }
    }

    fn project_create(&mut self, req: &Req<'_>) -> Reply {
        let name = req.str("name").unwrap_or_default().to_string();
        if self.projects.iter().any(|p| p.name == name) {
            return error(
                409,
                "conflict",
                format!("a project named {name:?} already exists"),
            );
        }
        let now = now_rfc3339();
        let p = Project {
            id: self.uuid(),
            name,
            description: req.str("description").unwrap_or_default().to_string(),
            purpose: req.str("purpose").unwrap_or_default().to_string(),
            environment: req.str("environment").map(str::to_string),
            is_default: false,
            created_at: now.clone(),
            updated_at: now,
        };
        let body = json!({"project": project_json(&p)});
        self.projects.push(p);
        reply(201, body)
    }

    fn project_update(&mut self, req: &Req<'_>) -> Reply {
        let Some(id) = self.project_for(req).map(|p| p.id.clone()) else {
            return not_found();
        };
        if let Some(name) = req.str("name")
            && self.projects.iter().any(|p| p.name == name && p.id != id)
        {
            return error(
                409,
                "conflict",
                format!("a project named {name:?} already exists"),
            );
        }
        let make_default = req.body.get("is_default").and_then(Value::as_bool) == Some(true);
        if make_default {
            for p in &mut self.projects {
                p.is_default = false;
            }
        }
        let p = self
            .projects
            .iter_mut()
            .find(|p| p.id == id)
            .expect("found above");
        if let Some(v) = req.body.get("name").and_then(Value::as_str) {
            p.name = v.to_string();
        }
        if let Some(v) = req.body.get("description").and_then(Value::as_str) {
            p.description = v.to_string();
        }
        if let Some(v) = req.body.get("purpose").and_then(Value::as_str) {
            p.purpose = v.to_string();
        }
        if let Some(v) = req.body.get("environment").and_then(Value::as_str) {
            p.environment = Some(v.to_string());
        }
        if make_default {
            p.is_default = true;
        }
        p.updated_at = now_rfc3339();
        reply(200, json!({"project": project_json(p)}))
    }

    fn project_delete(&mut self, req: &Req<'_>) -> Reply {
        let id = req.param("project_id").to_string();
        let Some(p) = self.projects.iter().find(|p| p.id == id) else {
            return not_found();
        };
        if p.is_default {
            return error(
                412,
                "precondition_failed",
                "the default project cannot be deleted",
            );
        }
        let n = self.project_resources(&id, "").len();
        if n > 0 {
            return error(
                412,
                "precondition_failed",
                format!("cannot delete a project with {n} resources; move or delete them first"),
            );
        }
        self.projects.retain(|p| p.id != id);
        no_content()
    }

    /// Every URN of an object that exists now.
    pub(crate) fn live_urns(&self) -> Vec<String> {
        let mut urns: Vec<String> = Vec::new();
        urns.extend(
            self.vpcs
                .iter()
                .filter(|v| !v.default)
                .map(|v| format!("do:vpc:{}", v.id)),
        );
        urns.extend(
            self.clusters
                .iter()
                .map(|c| format!("do:kubernetes:{}", c.id)),
        );
        urns.extend(self.domains.iter().map(|d| format!("do:domain:{}", d.name)));
        urns.extend(
            self.load_balancers
                .iter()
                .map(|l| format!("do:loadbalancer:{}", l.id)),
        );
        urns.extend(self.volumes.iter().map(|v| format!("do:volume:{}", v.id)));
        urns
    }

    fn project_resources(&self, project_id: &str, base_url: &str) -> Vec<Value> {
        let default_id = self
            .projects
            .iter()
            .find(|p| p.is_default)
            .map(|p| p.id.clone())
            .unwrap_or_default();
        self.live_urns()
            .into_iter()
            .filter_map(|urn| {
                let (owner, at) = self
                    .assignments
                    .get(&urn)
                    .cloned()
                    .unwrap_or((default_id.clone(), String::new()));
                (owner == project_id).then(|| resource_json(&urn, &at, base_url, "ok"))
            })
            .collect()
    }

    fn project_assign(&mut self, req: &Req<'_>) -> Reply {
        let Some(id) = self.project_for(req).map(|p| p.id.clone()) else {
            return not_found();
        };
        let live = self.live_urns();
        let now = now_rfc3339();
        let mut out = Vec::new();
        for urn in strings(req.body.get("resources")) {
            if live.contains(&urn) {
                self.assignments
                    .insert(urn.clone(), (id.clone(), now.clone()));
                out.push(resource_json(&urn, &now, req.base_url, "assigned"));
            } else {
                out.push(resource_json(&urn, &now, req.base_url, "not_found"));
            }
        }
        reply(200, json!({"resources": out}))
    }

    // ---------------------------------------------------------------- Firewalls

    fn firewall_mut(&mut self, id: &str) -> Option<&mut Value> {
        self.firewalls.iter_mut().find(|f| f["id"] == id)
    }

    fn firewall_from(&self, body: &Value, id: &str, created_at: &str) -> Result<Value, Reply> {
        let name = body["name"].as_str().unwrap_or_default();
        let inbound = body.get("inbound_rules").cloned().unwrap_or(json!([]));
        let outbound = body.get("outbound_rules").cloned().unwrap_or(json!([]));
        let inbound = if inbound.is_null() {
            json!([])
        } else {
            inbound
        };
        let outbound = if outbound.is_null() {
            json!([])
        } else {
            outbound
        };
        for (rules, key) in [(&inbound, "sources"), (&outbound, "destinations")] {
            for rule in rules.as_array().into_iter().flatten() {
                self.check_rule(rule, key)?;
            }
        }
        Ok(json!({
            "id": id,
            "name": name,
            "status": "succeeded",
            "created_at": created_at,
            "pending_changes": [],
            "inbound_rules": inbound,
            "outbound_rules": outbound,
            "droplet_ids": body.get("droplet_ids").filter(|v| !v.is_null()).cloned().unwrap_or(json!([])),
            "tags": body.get("tags").filter(|v| !v.is_null()).cloned().unwrap_or(json!([])),
        }))
    }

    fn check_rule(&self, rule: &Value, key: &str) -> Result<(), Reply> {
        let protocol = rule["protocol"].as_str().unwrap_or_default();
        let ports = rule["ports"].as_str().unwrap_or_default();
        let ports_ok = ports == "all"
            || ports == "0"
            || match ports.split_once('-') {
                Some((a, b)) => {
                    matches!((a.parse::<u16>(), b.parse::<u16>()), (Ok(a), Ok(b)) if a >= 1 && a <= b)
                }
                None => ports.parse::<u16>().is_ok_and(|p| p >= 1),
            };
        if protocol != "icmp" && !ports_ok {
            return Err(unprocessable(format!(
                "ports {ports:?} must be a port, a range like 8000-9000, or \"all\""
            )));
        }
        let target = &rule[key];
        let addresses = strings(target.get("addresses"));
        for a in &addresses {
            if a.parse::<ipnet::IpNet>().is_err() && a.parse::<std::net::IpAddr>().is_err() {
                return Err(unprocessable(format!(
                    "{key}: {a:?} is not an IP address or CIDR"
                )));
            }
        }
        for k in strings(target.get("kubernetes_ids")) {
            if !self.clusters.iter().any(|c| c.id == k) {
                return Err(unprocessable(format!(
                    "{key}: Kubernetes cluster {k} does not exist"
                )));
            }
        }
        let any = [
            "addresses",
            "droplet_ids",
            "load_balancer_uids",
            "kubernetes_ids",
            "tags",
        ]
        .iter()
        .any(|k| {
            target
                .get(*k)
                .and_then(Value::as_array)
                .is_some_and(|a| !a.is_empty())
        });
        if !any {
            return Err(unprocessable(format!(
                "every rule needs at least one of its {key}"
            )));
        }
        Ok(())
    }

    fn firewall_create(&mut self, req: &Req<'_>) -> Reply {
        let id = self.uuid();
        match self.firewall_from(&req.body, &id, &now_rfc3339()) {
            Ok(f) => {
                self.firewalls.push(f.clone());
                reply(202, json!({"firewall": f}))
            }
            Err(r) => r,
        }
    }

    fn firewall_update(&mut self, req: &Req<'_>) -> Reply {
        let id = req.param("firewall_id").to_string();
        let Some(old) = self.firewall_mut(&id).cloned() else {
            return not_found();
        };
        let created = old["created_at"].as_str().unwrap_or_default().to_string();
        match self.firewall_from(&req.body, &id, &created) {
            Ok(f) => {
                *self.firewall_mut(&id).expect("exists") = f.clone();
                reply(200, json!({"firewall": f}))
            }
            Err(r) => r,
        }
    }

    fn firewall_rules(&mut self, req: &Req<'_>) -> Reply {
        let id = req.param("firewall_id").to_string();
        if self.firewall_mut(&id).is_none() {
            return not_found();
        }
        let adding = req.op == "firewalls_add_rules";
        for (list, key) in [
            ("inbound_rules", "sources"),
            ("outbound_rules", "destinations"),
        ] {
            let rules = req
                .body
                .get(list)
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            if adding {
                for r in &rules {
                    if let Err(e) = self.check_rule(r, key) {
                        return e;
                    }
                }
            }
            let f = self.firewall_mut(&id).expect("exists");
            let current = f[list].as_array_mut().expect("rules are arrays");
            for r in rules {
                if adding {
                    if !current.contains(&r) {
                        current.push(r);
                    }
                } else {
                    current.retain(|c| c != &r);
                }
            }
        }
        no_content()
    }

    fn firewall_tags(&mut self, req: &Req<'_>) -> Reply {
        let adding = req.op == "firewalls_add_tags";
        let tags = strings(req.body.get("tags"));
        let Some(f) = self.firewall_mut(req.param("firewall_id")) else {
            return not_found();
        };
        let current = f["tags"].as_array_mut().expect("tags are arrays");
        for t in tags {
            let t = Value::String(t);
            if adding && !current.contains(&t) {
                current.push(t);
            } else if !adding {
                current.retain(|c| c != &t);
            }
        }
        no_content()
    }

    // ---------------------------------------------------------------- Registry

    fn registry_create(&mut self, req: &Req<'_>) -> Reply {
        if let Some(r) = &self.registry {
            return error(
                409,
                "conflict",
                format!("this account already has the registry {:?}", r.name),
            );
        }
        let now = now_rfc3339();
        let r = Registry {
            name: req.str("name").unwrap_or_default().to_string(),
            region: req.str("region").unwrap_or("nyc3").to_string(),
            tier: req
                .str("subscription_tier_slug")
                .unwrap_or("basic")
                .to_string(),
            repositories: Vec::new(),
            created_at: now.clone(),
            updated_at: now,
        };
        let body = json!({"registry": registry_json(&r)});
        self.registry = Some(r);
        reply(201, body)
    }

    // ---------------------------------------------------------------- Domains

    fn domain(&self, name: &str) -> Option<&Domain> {
        self.domains.iter().find(|d| d.name == name)
    }

    fn domain_mut(&mut self, name: &str) -> Option<&mut Domain> {
        self.domains.iter_mut().find(|d| d.name == name)
    }

    fn record_mut(&mut self, domain: &str, id: &str) -> Option<&mut Value> {
        self.domain_mut(domain)?
            .records
            .iter_mut()
            .find(|r| r["id"].as_u64() == id.parse::<u64>().ok())
    }

    fn new_record(&mut self, fields: Value) -> Value {
        self.next_record_id += 1;
        let mut r = json!({
            "id": self.next_record_id,
            "type": "A",
            "name": "@",
            "data": "",
            "priority": null,
            "port": null,
            "ttl": 1800,
            "weight": null,
            "flags": null,
            "tag": null,
        });
        for (k, v) in fields.as_object().into_iter().flatten() {
            if k != "id" {
                r[k] = v.clone();
            }
        }
        r
    }

    /// The SOA and NS records DigitalOcean puts in every new zone.
    fn zone_records(&mut self) -> Vec<Value> {
        let mut records = vec![self.new_record(json!({
            "type": "SOA", "name": "@", "data": "1800", "ttl": 1800
        }))];
        for ns in [
            "ns1.digitalocean.com",
            "ns2.digitalocean.com",
            "ns3.digitalocean.com",
        ] {
            records.push(self.new_record(json!({"type": "NS", "name": "@", "data": ns})));
        }
        records
    }

    /// Adds an empty zone (SOA and NS only), as a user would have before using ipai.
    /// False if it exists.
    pub(crate) fn console_push_repository(&mut self, repository: &str) -> bool {
        match self.registry.as_mut() {
            Some(r) => {
                r.repositories.push(repository.to_owned());
                true
            }
            None => false,
        }
    }

    pub(crate) fn console_add_domain(&mut self, name: &str) -> bool {
        if self.domain(name).is_some() {
            return false;
        }
        let records = self.zone_records();
        self.domains.push(Domain {
            name: name.to_owned(),
            records,
        });
        true
    }

    fn domain_create(&mut self, req: &Req<'_>) -> Reply {
        let name = req
            .str("name")
            .unwrap_or_default()
            .trim_end_matches('.')
            .to_ascii_lowercase();
        let valid = name.contains('.')
            && name.split('.').all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                    && !l.starts_with('-')
                    && !l.ends_with('-')
            });
        if !valid {
            return unprocessable(format!("{name:?} is not a valid domain name"));
        }
        if self.domain(&name).is_some() {
            return unprocessable(format!("the domain {name} already exists"));
        }
        let mut records = self.zone_records();
        if let Some(ip) = req.str("ip_address") {
            if ip.parse::<Ipv4Addr>().is_err() {
                return unprocessable(format!("ip_address {ip:?} is not an IPv4 address"));
            }
            records.push(self.new_record(json!({"type": "A", "name": "@", "data": ip})));
        }
        self.domains.push(Domain {
            name: name.clone(),
            records,
        });
        reply(201, json!({"domain": domain_json(&name)}))
    }

    fn records_list(&mut self, req: &Req<'_>) -> Reply {
        let Some(d) = self.domain(req.param("domain_name")) else {
            return not_found();
        };
        let fqdn = |r: &Value| -> String {
            match r["name"].as_str().unwrap_or_default() {
                "@" => d.name.clone(),
                n => format!("{n}.{}", d.name),
            }
        };
        let name = req.query("name");
        let kind = req.query("type");
        let items: Vec<Value> = d
            .records
            .iter()
            .filter(|r| name.is_none_or(|n| fqdn(r) == n))
            .filter(|r| kind.is_none_or(|k| r["type"] == k))
            .cloned()
            .collect();
        self.page(req, "domain_records", items)
    }

    fn check_record(domain: &str, r: &mut Value) -> Result<(), Reply> {
        let kind = r["type"].as_str().unwrap_or_default().to_string();
        if let Some(name) = r["name"].as_str() {
            let rel = name
                .trim_end_matches('.')
                .strip_suffix(&format!(".{domain}"))
                .map(str::to_string)
                .unwrap_or_else(|| {
                    if name.trim_end_matches('.') == domain {
                        "@".into()
                    } else {
                        name.to_string()
                    }
                });
            r["name"] = json!(rel);
        }
        let data = r["data"].as_str().unwrap_or_default();
        match kind.as_str() {
            "A" if data.parse::<Ipv4Addr>().is_err() => Err(unprocessable(format!(
                "A record data {data:?} is not an IPv4 address"
            ))),
            "AAAA" if data.parse::<std::net::Ipv6Addr>().is_err() => Err(unprocessable(format!(
                "AAAA record data {data:?} is not an IPv6 address"
            ))),
            "A" | "AAAA" | "CNAME" | "TXT" | "NS" | "MX" | "SRV" | "CAA" => {
                if r["ttl"].as_i64().is_some_and(|t| t < 30) {
                    return Err(unprocessable("ttl must be at least 30 seconds"));
                }
                Ok(())
            }
            other => Err(unprocessable(format!(
                "record type {other:?} cannot be managed"
            ))),
        }
    }

    fn record_create(&mut self, req: &Req<'_>) -> Reply {
        let domain = req.param("domain_name").to_string();
        if self.domain(&domain).is_none() {
            return not_found();
        }
        let mut r = self.new_record(req.body.clone());
        if let Err(e) = Self::check_record(&domain, &mut r) {
            return e;
        }
        self.domain_mut(&domain)
            .expect("exists")
            .records
            .push(r.clone());
        reply(201, json!({"domain_record": r}))
    }

    fn record_update(&mut self, req: &Req<'_>) -> Reply {
        let domain = req.param("domain_name").to_string();
        let Some(old) = self
            .record_mut(&domain, req.param("domain_record_id"))
            .cloned()
        else {
            return not_found();
        };
        let mut r = old;
        for (k, v) in req.body.as_object().into_iter().flatten() {
            if k != "id" {
                r[k] = v.clone();
            }
        }
        if let Err(e) = Self::check_record(&domain, &mut r) {
            return e;
        }
        *self
            .record_mut(&domain, req.param("domain_record_id"))
            .expect("exists") = r.clone();
        reply(200, json!({"domain_record": r}))
    }

    // ---------------------------------------------------------------- Uptime

    fn check_fields(body: &Value, base: &mut Value) -> Result<(), Reply> {
        for k in ["name", "type", "target", "regions", "enabled"] {
            if let Some(v) = body.get(k) {
                base[k] = v.clone();
            }
        }
        let kind = base["type"].as_str().unwrap_or_default();
        let target = base["target"].as_str().unwrap_or_default();
        let ok = match kind {
            "http" => target.starts_with("http://"),
            "https" => target.starts_with("https://"),
            _ => !target.is_empty(),
        };
        if !ok {
            return Err(unprocessable(format!(
                "target {target:?} does not suit a check of type {kind:?}"
            )));
        }
        Ok(())
    }

    fn check_create(&mut self, req: &Req<'_>) -> Reply {
        let mut check = json!({"id": self.uuid(), "enabled": true});
        if let Err(e) = Self::check_fields(&req.body, &mut check) {
            return e;
        }
        let id = check["id"].as_str().unwrap_or_default().to_string();
        self.checks.push(check.clone());
        self.alerts.insert(id, Vec::new());
        reply(201, json!({"check": check}))
    }

    fn check_update(&mut self, req: &Req<'_>) -> Reply {
        let id = req.param("check_id");
        let Some(c) = self.checks.iter_mut().find(|c| c["id"] == id) else {
            return not_found();
        };
        let mut updated = c.clone();
        if let Err(e) = Self::check_fields(&req.body, &mut updated) {
            return e;
        }
        *c = updated.clone();
        reply(200, json!({"check": updated}))
    }

    fn alert_mut(&mut self, check: &str, alert: &str) -> Option<&mut Value> {
        self.alerts
            .get_mut(check)?
            .iter_mut()
            .find(|a| a["id"] == alert)
    }

    fn alert_fields(body: &Value, base: &mut Value) -> Result<(), Reply> {
        for k in [
            "name",
            "type",
            "threshold",
            "comparison",
            "notifications",
            "period",
        ] {
            if let Some(v) = body.get(k) {
                base[k] = v.clone();
            }
        }
        if base["type"] == "latency"
            && (base["threshold"].is_null() || base["comparison"].is_null())
        {
            return Err(unprocessable(
                "a latency alert needs threshold and comparison",
            ));
        }
        Ok(())
    }

    fn alert_create(&mut self, req: &Req<'_>) -> Reply {
        let check = req.param("check_id").to_string();
        if !self.alerts.contains_key(&check) {
            return not_found();
        }
        let mut alert = json!({"id": self.uuid()});
        if let Err(e) = Self::alert_fields(&req.body, &mut alert) {
            return e;
        }
        self.alerts
            .get_mut(&check)
            .expect("exists")
            .push(alert.clone());
        reply(201, json!({"alert": alert}))
    }

    fn alert_update(&mut self, req: &Req<'_>) -> Reply {
        let Some(a) = self.alert_mut(req.param("check_id"), req.param("alert_id")) else {
            return not_found();
        };
        let mut updated = a.clone();
        if let Err(e) = Self::alert_fields(&req.body, &mut updated) {
            return e;
        }
        *a = updated.clone();
        reply(200, json!({"alert": updated}))
    }
}

impl State {
    pub(crate) fn clusters_json(&self) -> Vec<Value> {
        self.clusters.iter().map(cluster_json).collect()
    }

    pub(crate) fn load_balancers_json(&self) -> Vec<Value> {
        self.load_balancers.iter().map(lb_json).collect()
    }

    pub(crate) fn volumes_json(&self) -> Vec<Value> {
        self.volumes
            .iter()
            .map(|v| json!({"id": v.id, "name": v.name, "cluster_id": v.cluster_id}))
            .collect()
    }

    pub(crate) fn projects_json(&self) -> Vec<Value> {
        self.projects.iter().map(project_json).collect()
    }

    pub(crate) fn project_urns(&self, project_id: Option<&str>) -> Vec<String> {
        let id = match project_id {
            Some(id) => id.to_string(),
            None => match self.projects.iter().find(|p| p.is_default) {
                Some(p) => p.id.clone(),
                None => return Vec::new(),
            },
        };
        self.project_resources(&id, "")
            .into_iter()
            .filter_map(|r| r["urn"].as_str().map(str::to_string))
            .collect()
    }

    pub(crate) fn registry_json(&self) -> Option<Value> {
        self.registry.as_ref().map(registry_json)
    }

    pub(crate) fn leftovers(&self) -> Vec<String> {
        let mut out = Vec::new();
        for v in self.vpcs.iter().filter(|v| !v.default) {
            out.push(format!("vpc {} ({})", v.name, v.id));
        }
        for c in &self.clusters {
            out.push(format!(
                "kubernetes cluster {} ({}, {})",
                c.name,
                c.id,
                c.state.as_str()
            ));
        }
        for l in &self.load_balancers {
            out.push(format!(
                "load balancer {} ({}) of cluster {}",
                l.name, l.id, l.cluster_id
            ));
        }
        for v in &self.volumes {
            out.push(format!(
                "volume {} ({}) of cluster {}",
                v.name, v.id, v.cluster_id
            ));
        }
        for p in self.projects.iter().filter(|p| !p.is_default) {
            out.push(format!("project {} ({})", p.name, p.id));
        }
        for f in &self.firewalls {
            out.push(format!(
                "firewall {} ({})",
                f["name"].as_str().unwrap_or(""),
                f["id"].as_str().unwrap_or("")
            ));
        }
        if let Some(r) = &self.registry {
            out.push(format!("registry {}", r.name));
        }
        for d in &self.domains {
            out.push(format!("domain {} ({} records)", d.name, d.records.len()));
        }
        for c in &self.checks {
            out.push(format!(
                "uptime check {} ({})",
                c["name"].as_str().unwrap_or(""),
                c["id"].as_str().unwrap_or("")
            ));
        }
        out
    }

    pub(crate) fn console_resize_pool(
        &mut self,
        cluster_id: &str,
        pool_id: &str,
        count: u64,
    ) -> bool {
        let polls = self.behaviour.provisioning_polls;
        let Some(mut pool) = self
            .clusters
            .iter()
            .find(|c| c.id == cluster_id)
            .and_then(|c| c.pools.iter().find(|p| p.id == pool_id))
            .cloned()
        else {
            return false;
        };
        pool.count = count;
        pool.pending_polls = polls;
        self.grow(&mut pool);
        let c = self
            .clusters
            .iter_mut()
            .find(|c| c.id == cluster_id)
            .expect("found");
        let p = c.pools.iter_mut().find(|p| p.id == pool_id).expect("found");
        *p = pool;
        true
    }

    pub(crate) fn console_delete_pool(&mut self, cluster_id: &str, pool_id: &str) -> bool {
        let Some(c) = self.clusters.iter_mut().find(|c| c.id == cluster_id) else {
            return false;
        };
        let before = c.pools.len();
        c.pools.retain(|p| p.id != pool_id);
        before != c.pools.len()
    }

    pub(crate) fn console_remove_inbound(&mut self, firewall_id: &str, ports: &str) -> bool {
        let Some(f) = self.firewall_mut(firewall_id) else {
            return false;
        };
        let Some(rules) = f["inbound_rules"].as_array_mut() else {
            return false;
        };
        let before = rules.len();
        rules.retain(|r| r["ports"] != ports);
        before != rules.len()
    }
}

fn check_counts(name: &str, count: i64, auto_scale: bool, min: i64, max: i64) -> Result<(), Reply> {
    if auto_scale {
        if max < 1 || min < 0 || min > max {
            return Err(unprocessable(format!(
                "node pool {name:?}: need 0 <= min_nodes ({min}) <= max_nodes ({max}) and max_nodes >= 1"
            )));
        }
        if count < min || count > max {
            return Err(unprocessable(format!(
                "node pool {name:?}: count {count} is outside min_nodes {min} .. max_nodes {max}"
            )));
        }
    } else if count < 1 {
        return Err(unprocessable(format!(
            "node pool {name:?}: count must be at least 1 without auto_scale"
        )));
    }
    if count > 512 {
        return Err(unprocessable(format!(
            "node pool {name:?}: at most 512 nodes"
        )));
    }
    Ok(())
}

/// A fixed, syntactically valid base64 CA blob; nothing verifies it.
const CA: &str = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSURKekNDQWcrZ0F3SUJBZ0lDQm5Vd0RRWUpLb1pJaHZjTkFRRUxCUUF3TXpFVk1CTUdBMVVFQ2hNTVJHbG4KLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo=";

fn cluster_endpoint(id: &str) -> String {
    format!("https://{id}.k8s.ondigitalocean.com")
}

fn pool_json(p: &Pool, cluster_provisioning: bool) -> Value {
    let node_state = if cluster_provisioning || p.pending_polls > 0 {
        "provisioning"
    } else {
        "running"
    };
    json!({
        "id": p.id,
        "name": p.name,
        "size": p.size,
        "count": p.count,
        "tags": p.tags,
        "labels": p.labels,
        "taints": p.taints,
        "auto_scale": p.auto_scale,
        "min_nodes": p.min_nodes,
        "max_nodes": p.max_nodes,
        "nodes": p.nodes.iter().map(|n| json!({
            "id": n.id,
            "name": n.name,
            "status": {"state": node_state},
            "droplet_id": n.droplet_id.to_string(),
            "created_at": n.created_at,
            "updated_at": n.created_at,
        })).collect::<Vec<_>>(),
    })
}

fn cluster_json(c: &Cluster) -> Value {
    let provisioning = c.state == ClusterState::Provisioning;
    json!({
        "id": c.id,
        "name": c.name,
        "region": c.region,
        "version": c.version,
        "cluster_subnet": "10.244.0.0/16",
        "service_subnet": "10.245.0.0/16",
        "vpc_uuid": c.vpc_uuid,
        "ipv4": if provisioning { String::new() } else { "164.92.64.10".to_string() },
        "endpoint": if provisioning { String::new() } else { cluster_endpoint(&c.id) },
        "tags": c.tags,
        "node_pools": c.pools.iter().map(|p| pool_json(p, provisioning)).collect::<Vec<_>>(),
        "maintenance_policy": c.maintenance_policy,
        "auto_upgrade": c.auto_upgrade,
        "surge_upgrade": c.surge_upgrade,
        "ha": c.ha,
        "registry_enabled": false,
        "status": {"state": c.state.as_str(), "message": match c.state {
            ClusterState::Provisioning => "provisioning",
            ClusterState::Running => "",
            ClusterState::Deleting => "deleting",
        }},
        "created_at": c.created_at,
        "updated_at": c.updated_at,
    })
}

fn lb_json(l: &Associated) -> Value {
    json!({
        "id": l.id,
        "name": l.name,
        "ip": l.ip,
        "size_unit": 1,
        "status": "active",
        "created_at": l.created_at,
        "forwarding_rules": [
            {"entry_protocol": "tcp", "entry_port": 80, "target_protocol": "tcp", "target_port": 31080},
            {"entry_protocol": "tcp", "entry_port": 443, "target_protocol": "tcp", "target_port": 31443}
        ],
        "region": {"slug": l.region, "name": l.region, "available": true, "features": ["load_balancers"], "sizes": []},
        "tag": format!("k8s:{}", l.cluster_id),
        "droplet_ids": [],
    })
}

fn project_json(p: &Project) -> Value {
    let mut v = json!({
        "id": p.id,
        "owner_uuid": "b6fc48dbf6d9906cace5f3c78dc9851e757381ef",
        "owner_id": 2_581_456,
        "name": p.name,
        "description": p.description,
        "purpose": p.purpose,
        "created_at": p.created_at,
        "updated_at": p.updated_at,
        "is_default": p.is_default,
    });
    if let Some(env) = &p.environment {
        v["environment"] = json!(env);
    }
    v
}

fn resource_json(urn: &str, at: &str, base_url: &str, status: &str) -> Value {
    let mut parts = urn.splitn(3, ':');
    let (_, kind, id) = (
        parts.next(),
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
    );
    let path = match kind {
        "kubernetes" => format!("/v2/kubernetes/clusters/{id}"),
        "vpc" => format!("/v2/vpcs/{id}"),
        "domain" => format!("/v2/domains/{id}"),
        "loadbalancer" => format!("/v2/load_balancers/{id}"),
        _ => format!("/v2/{kind}s/{id}"),
    };
    let base = if base_url.is_empty() {
        "http://127.0.0.1"
    } else {
        base_url
    };
    let mut v = json!({"urn": urn, "links": {"self": format!("{base}{path}")}, "status": status});
    if !at.is_empty() {
        v["assigned_at"] = json!(at);
    }
    v
}

fn subscription_json(r: &Registry) -> Value {
    let (slug, name, repos, bytes, cents) = catalog::REGISTRY_TIERS
        .iter()
        .find(|t| t.0 == r.tier)
        .copied()
        .unwrap_or(catalog::REGISTRY_TIERS[1]);
    json!({
        "tier": {
            "name": name,
            "slug": slug,
            "included_repositories": repos,
            "included_storage_bytes": bytes,
            "allow_storage_overage": slug != "starter",
            "included_bandwidth_bytes": bytes,
            "monthly_price_in_cents": cents,
            "storage_overage_price_in_cents": if slug == "starter" { 0 } else { 2 },
        },
        "created_at": r.created_at,
        "updated_at": r.updated_at,
    })
}

fn registry_json(r: &Registry) -> Value {
    json!({
        "name": r.name,
        "created_at": r.created_at,
        "region": r.region,
        "storage_usage_bytes": 0,
        "storage_usage_bytes_updated_at": r.updated_at,
        "subscription": subscription_json(r),
    })
}

fn domain_json(name: &str) -> Value {
    json!({
        "name": name,
        "ttl": 1800,
        "zone_file": format!("$ORIGIN {name}.\n$TTL 1800\n{name}. IN SOA ns1.digitalocean.com. hostmaster.{name}. 1 10800 3600 604800 1800\n"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(1_795_000_000)),
            "2026-11-18T11:06:40Z"
        );
    }

    #[test]
    fn ids_look_like_uuids_and_are_deterministic() {
        let b = Behaviour {
            provisioning_polls: 0,
            provisioning_delay: Duration::ZERO,
            deletion_polls: 0,
            cluster_load_balancers: 0,
            cluster_volumes: 0,
        };
        let (mut a, mut c) = (State::new(b.clone(), false), State::new(b, false));
        let id = a.uuid();
        assert_eq!(id, c.uuid());
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
    }
}
