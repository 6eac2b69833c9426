//! Reconciles a workbench's DigitalOcean objects: find (by name and tag) before create,
//! adopt what a failed run left behind, update in place, wait for provisioning, observe
//! drift, destroy in reverse dependency order.
//!
//! Progress is recorded in a [`DoState`] as soon as an object has an id, so a failed or
//! timed-out apply still tells destroy (and the next apply) everything it made.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use ipai_codegen::{AttrPath, Diagnostics, DoKind, DoObject, digitalocean::PriceTable};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::client::{ApiError, Client};

/// Default time limit of creates, updates and deletes.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// Time limits of long operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Creating objects, including waiting for the cluster to run.
    pub create: Duration,
    /// Updating objects, including waiting for resized pools.
    pub update: Duration,
    /// Deleting objects and waiting until they are gone.
    pub delete: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            create: DEFAULT_TIMEOUT,
            update: DEFAULT_TIMEOUT,
            delete: DEFAULT_TIMEOUT,
        }
    }
}

impl Timeouts {
    /// From the workbench's `timeouts` block (already validated; unset or unparsable
    /// values keep the default).
    pub fn from_spec(t: &ipai_codegen::spec::workbench::TimeoutsSpec) -> Self {
        let parse = |v: &Option<String>| {
            v.as_deref()
                .and_then(ipai_codegen::digitalocean::parse_duration)
                .unwrap_or(DEFAULT_TIMEOUT)
        };
        Self {
            create: parse(&t.create),
            update: parse(&t.update),
            delete: parse(&t.delete),
        }
    }
}

/// How an object came to be the workbench's; only what it created is deleted by destroy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// The provider created it, or found its own object again (by the workbench tag, or
    /// after a create whose answer was lost): destroy deletes it.
    Created,
    /// It existed before and was found by name (a registry named in `registry_name`, a
    /// VPC or project of the same name): destroy leaves it where it is.
    Adopted,
}

/// One object the workbench created or adopted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Recorded {
    /// What it is.
    pub kind: DoKind,
    /// DigitalOcean's id (the name for the registry).
    pub id: String,
    /// The id of what it lives in (cluster of a pool, check of an alert, domain of a
    /// record), so it can be deleted even when it is no longer in the configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// `created` (destroy deletes it) or `adopted` (it existed before and was found by
    /// name: destroy leaves it); unset only in state written before this was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<Origin>,
}

impl Recorded {
    /// Whether destroy may delete it. A record from before origins were kept proves
    /// nothing (it may be an adopted registry full of someone's images), so it is kept
    /// until a refresh finds the workbench tag on it.
    pub fn created(&self) -> bool {
        self.origin == Some(Origin::Created)
    }
}

/// What the provider keeps in state about the DigitalOcean side: saved after every
/// apply, also a failed one, so destroy and the next apply find everything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DoState {
    /// Objects created or adopted, by object name, with their DigitalOcean ids.
    #[serde(default)]
    pub objects: BTreeMap<String, Recorded>,
    /// The DNS domain, when the provider created it (only then does destroy delete it; a
    /// zone that existed before is left alone).
    #[serde(default)]
    pub created_domain: Option<String>,
}

impl DoState {
    /// Whether it records anything in DigitalOcean.
    pub fn is_empty(&self) -> bool {
        self.objects.is_empty() && self.created_domain.is_none()
    }

    /// Marks every recorded object as the workbench's own: importing a workbench claims
    /// what it finds by name, as `terraform import` claims any object.
    pub fn claim_all(&mut self) {
        for r in self.objects.values_mut() {
            r.origin = Some(Origin::Created);
        }
    }
}

/// Whether the live object carries the workbench tag (the first of the desired tags):
/// proof that the workbench made it, even when a failed run never recorded it. Projects,
/// VPCs, registries, records and uptime checks have no tags, so this is never proven.
fn tagged_ours(obj: &DoObject, live: &Value) -> bool {
    obj.spec["tags"][0]
        .as_str()
        .is_some_and(|tag| str_list(&live["tags"]).iter().any(|t| t == tag))
}

/// The origin of a live object: as recorded for the same id, else created when it carries
/// the workbench tag, else adopted (found by name only).
fn origin_of(obj: &DoObject, live: &Value, prior: Option<&Recorded>) -> Origin {
    match prior {
        Some(Recorded {
            id,
            origin: Some(o),
            ..
        }) if id_of(live).as_ref() == Some(id) => *o,
        _ if tagged_ours(obj, live) => Origin::Created,
        _ => Origin::Adopted,
    }
}

/// A failed reconciliation, shaped like a diagnostic. It carries no token.
#[derive(Debug, thiserror::Error)]
#[error("{object}: {summary}: {detail}")]
pub struct ApplyError {
    /// The object it happened to.
    pub object: String,
    /// One line.
    pub summary: String,
    /// Why, and what to do.
    pub detail: String,
    /// The API error behind it, if any.
    #[source]
    pub source: Option<ApiError>,
}

impl ApplyError {
    fn api(object: &str, e: ApiError) -> Self {
        Self {
            object: object.to_owned(),
            summary: "DigitalOcean API call failed".into(),
            detail: e.to_string(),
            source: Some(e),
        }
    }

    fn new(object: &str, summary: &str, detail: impl Into<String>) -> Self {
        Self {
            object: object.to_owned(),
            summary: summary.to_owned(),
            detail: detail.into(),
            source: None,
        }
    }
}

type Result<T, E = ApplyError> = std::result::Result<T, E>;

/// What a plan-time check looks at, each value with its attribute path.
#[derive(Debug, Clone, Default)]
pub struct PlanCheck {
    /// Region slug.
    pub region: Option<(String, AttrPath)>,
    /// Droplet size slugs.
    pub sizes: Vec<(String, AttrPath)>,
    /// Kubernetes version.
    pub version: Option<(String, AttrPath)>,
    /// VPC name and range: the range must not overlap another VPC of the account.
    pub vpc: Option<(String, String, AttrPath)>,
}

impl PlanCheck {
    /// What the workbench's plan checks.
    pub fn workbench(spec: &ipai_codegen::spec::WorkbenchSpec) -> Self {
        let c = AttrPath::attr("cluster");
        let mut sizes = vec![(spec.cluster.node_size.clone(), c.at("node_size"))];
        for (i, p) in spec.cluster.node_pools.iter().enumerate() {
            sizes.push((
                p.node_size.clone(),
                c.at("node_pools").index(i).at("node_size"),
            ));
        }
        Self {
            region: Some((spec.region.clone(), AttrPath::attr("region"))),
            sizes,
            version: Some((spec.cluster.version.clone(), c.at("version"))),
            vpc: Some((
                ipai_codegen::digitalocean::vpc_name(&spec.name),
                spec.vpc_cidr.clone(),
                AttrPath::attr("vpc_cidr"),
            )),
        }
    }
}

/// Reconciles DigitalOcean objects through a [`Client`].
#[derive(Debug, Clone)]
pub struct Applier {
    client: Client,
    /// Time limits.
    pub timeouts: Timeouts,
    /// Pause between two status reads while waiting.
    pub poll_interval: Duration,
}

fn kind_name(kind: DoKind) -> &'static str {
    match kind {
        DoKind::Project => "project",
        DoKind::Vpc => "VPC",
        DoKind::KubernetesCluster => "Kubernetes cluster",
        DoKind::NodePool => "node pool",
        DoKind::Firewall => "firewall",
        DoKind::Registry => "container registry",
        DoKind::DomainRecord => "DNS record",
        DoKind::UptimeCheck => "uptime check",
        DoKind::UptimeAlert => "uptime alert",
    }
}

/// The response key holding one object of a kind.
fn item_key(kind: DoKind) -> &'static str {
    match kind {
        DoKind::Project => "project",
        DoKind::Vpc => "vpc",
        DoKind::KubernetesCluster => "kubernetes_cluster",
        DoKind::NodePool => "node_pool",
        DoKind::Firewall => "firewall",
        DoKind::Registry => "registry",
        DoKind::DomainRecord => "domain_record",
        DoKind::UptimeCheck => "check",
        DoKind::UptimeAlert => "alert",
    }
}

fn id_of(v: &Value) -> Option<String> {
    match &v["id"] {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn str_list(v: &Value) -> Vec<String> {
    let mut out: Vec<String> = v
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|x| x.as_str().map(str::to_owned))
        .collect();
    out.sort();
    out
}

/// The request body without the keys that only say where the object goes (URL parts).
fn body(obj: &DoObject) -> Value {
    let mut b = obj.spec.clone();
    if let Some(m) = b.as_object_mut() {
        m.remove("cluster");
        m.remove("domain");
    }
    b
}

/// DigitalOcean adds its own `k8s…` tags to clusters and pools; they are not drift.
fn own_tags(v: &Value) -> Vec<String> {
    str_list(v)
        .into_iter()
        .filter(|t| t != "k8s" && !t.starts_with("k8s:"))
        .collect()
}

/// The parts of a pool that are compared. An autoscaled pool's node count belongs to the
/// autoscaler, so only its bounds are compared.
fn pool_view(p: &Value) -> Value {
    let auto = p["auto_scale"].as_bool().unwrap_or(false);
    let labels: BTreeMap<String, Value> = p["labels"]
        .as_object()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    let mut v = json!({
        "name": p["name"],
        "size": p["size"],
        "auto_scale": auto,
        "tags": own_tags(&p["tags"]),
        "labels": labels,
    });
    if auto {
        v["min_nodes"] = p["min_nodes"].clone();
        v["max_nodes"] = p["max_nodes"].clone();
    } else {
        v["count"] = p["count"].clone();
    }
    v
}

fn rules_view(rules: &Value, side: &str) -> Vec<String> {
    let mut out: Vec<String> = rules
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            format!(
                "{}/{} {}",
                r["protocol"].as_str().unwrap_or(""),
                r["ports"].as_str().unwrap_or(""),
                str_list(&r[side]["addresses"]).join(",")
            )
        })
        .collect();
    out.sort();
    out
}

/// Whether a live Kubernetes version satisfies the desired one (`latest`, a minor
/// version such as `1.33`, or a full slug).
pub fn version_matches(desired: &str, live: &str) -> bool {
    desired == "latest" || desired == live || live.starts_with(&format!("{desired}."))
}

/// The compared view of a desired spec (`live = None`) or of a live object (`desired` is
/// used to tolerate what DigitalOcean fills in, e.g. the version slug).
fn view(obj: &DoObject, live: Option<&Value>) -> Value {
    let v = live.unwrap_or(&obj.spec);
    match obj.kind {
        DoKind::Project => json!({
            "name": v["name"], "description": v["description"],
            "purpose": v["purpose"], "environment": v["environment"],
        }),
        DoKind::Vpc => json!({
            "name": v["name"], "region": v["region"], "ip_range": v["ip_range"],
            "description": v["description"],
        }),
        DoKind::KubernetesCluster => {
            let desired_version = obj.spec["version"].as_str().unwrap_or("");
            let version = match live {
                Some(l)
                    if version_matches(desired_version, l["version"].as_str().unwrap_or("")) =>
                {
                    json!(desired_version)
                }
                Some(l) => l["version"].clone(),
                None => json!(desired_version),
            };
            // The default pool is the first desired pool, found by name in the live one.
            let pool_name = &obj.spec["node_pools"][0]["name"];
            let pool = v["node_pools"]
                .as_array()
                .and_then(|ps| ps.iter().find(|p| &p["name"] == pool_name))
                .map(pool_view)
                .unwrap_or(Value::Null);
            json!({
                "name": v["name"], "region": v["region"], "version": version,
                "tags": own_tags(&v["tags"]), "default_pool": pool,
            })
        }
        DoKind::NodePool => pool_view(v),
        DoKind::Firewall => json!({
            "name": v["name"],
            "tags": str_list(&v["tags"]),
            "inbound": rules_view(&v["inbound_rules"], "sources"),
            "outbound": rules_view(&v["outbound_rules"], "destinations"),
        }),
        DoKind::Registry => json!({
            "name": v["name"],
            "tier": if live.is_some() { v["subscription_tier_slug"].clone() } else { obj.spec["subscription_tier_slug"].clone() },
        }),
        DoKind::DomainRecord => json!({
            "type": v["type"], "name": v["name"], "data": v["data"], "ttl": v["ttl"],
        }),
        DoKind::UptimeCheck => json!({
            "name": v["name"], "type": v["type"], "target": v["target"],
            "regions": str_list(&v["regions"]), "enabled": v["enabled"],
        }),
        DoKind::UptimeAlert => json!({
            "name": v["name"], "type": v["type"], "period": v["period"],
            "email": str_list(&v["notifications"]["email"]),
        }),
    }
}

/// Marker of an object that does not exist.
pub const ABSENT: &str = "absent";

/// What the plan expects each object to look like: name → compact JSON of its compared
/// attributes. [`Applier::observe`] returns the same shape from the live objects, so
/// drift shows as a difference. Pure.
pub fn summaries(desired: &[DoObject]) -> BTreeMap<String, String> {
    desired
        .iter()
        .map(|o| (o.name.clone(), view(o, None).to_string()))
        .collect()
}

impl Applier {
    /// An applier with default timeouts, polling every 5 seconds.
    pub fn new(client: Client) -> Self {
        Self {
            client,
            timeouts: Timeouts::default(),
            poll_interval: Duration::from_secs(5),
        }
    }

    /// The client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Pause before status read `n` (from 1): short at first, since most operations
    /// finish quickly, growing to [`Applier::poll_interval`].
    fn poll_wait(&self, n: u32) -> Duration {
        Duration::from_millis(200)
            .saturating_mul(1 << n.min(8))
            .min(self.poll_interval)
    }

    // ---- finding ------------------------------------------------------------------

    fn parent_id(&self, state: &DoState, name: &str) -> Option<String> {
        state.objects.get(name).map(|r| r.id.clone())
    }

    /// The live object with this name (and the workbench tag where DigitalOcean has tags).
    async fn find(&self, obj: &DoObject, state: &DoState) -> Result<Option<Value>> {
        let name = obj.spec["name"].as_str().unwrap_or(&obj.name).to_owned();
        let by_name = |items: Vec<Value>| items.into_iter().find(|i| i["name"] == name.as_str());
        let api = |e| ApplyError::api(&obj.name, e);
        Ok(match obj.kind {
            DoKind::Project => by_name(
                self.client
                    .list("/v2/projects", "projects")
                    .await
                    .map_err(api)?,
            ),
            DoKind::Vpc => by_name(self.client.list("/v2/vpcs", "vpcs").await.map_err(api)?),
            DoKind::KubernetesCluster => {
                let found = by_name(
                    self.client
                        .list("/v2/kubernetes/clusters", "kubernetes_clusters")
                        .await
                        .map_err(api)?,
                );
                if let Some(c) = &found {
                    let tag = obj.spec["tags"][0].as_str().unwrap_or("");
                    if !str_list(&c["tags"]).iter().any(|t| t == tag) {
                        return Err(ApplyError::new(
                            &obj.name,
                            "A cluster with this name belongs to someone else",
                            format!(
                                "The account already has a cluster named {name:?} without the tag \
                                 {tag:?}; rename the workbench or that cluster."
                            ),
                        ));
                    }
                }
                found
            }
            DoKind::NodePool => {
                let Some(cid) = self.cluster_id(obj, state).await? else {
                    return Ok(None);
                };
                by_name(
                    self.client
                        .list(
                            &format!("/v2/kubernetes/clusters/{cid}/node_pools"),
                            "node_pools",
                        )
                        .await
                        .map_err(api)?,
                )
            }
            DoKind::Firewall => by_name(
                self.client
                    .list("/v2/firewalls", "firewalls")
                    .await
                    .map_err(api)?,
            ),
            DoKind::Registry => match self.client.get_opt("/v2/registry").await.map_err(api)? {
                None => None,
                Some(r) if r["registry"]["name"] == name.as_str() => {
                    Some(self.registry_live().await?)
                }
                Some(r) => {
                    return Err(ApplyError::new(
                        &obj.name,
                        "The account already has another container registry",
                        format!(
                            "DigitalOcean allows one registry per account and this one has {}; \
                             set registry_name to it to use it.",
                            r["registry"]["name"]
                        ),
                    ));
                }
            },
            DoKind::DomainRecord => {
                let domain = obj.spec["domain"].as_str().unwrap_or("");
                let path = format!("/v2/domains/{domain}/records?type=A&name={name}.{domain}");
                match self.client.list(&path, "domain_records").await {
                    Ok(items) => by_name(items),
                    Err(e) if e.is_not_found() => None,
                    Err(e) => return Err(api(e)),
                }
            }
            DoKind::UptimeCheck => by_name(
                self.client
                    .list("/v2/uptime/checks", "checks")
                    .await
                    .map_err(api)?,
            ),
            DoKind::UptimeAlert => {
                let check = obj.depends_on.first().cloned().unwrap_or_default();
                let Some(cid) = self.parent_id(state, &check) else {
                    return Ok(None);
                };
                match self
                    .client
                    .list(&format!("/v2/uptime/checks/{cid}/alerts"), "alerts")
                    .await
                {
                    Ok(items) => by_name(items),
                    Err(e) if e.is_not_found() => None,
                    Err(e) => return Err(api(e)),
                }
            }
        })
    }

    /// What to remember about an object with this id.
    async fn record(
        &self,
        obj: &DoObject,
        id: &str,
        origin: Origin,
        state: &DoState,
    ) -> Result<Recorded> {
        let parent = match obj.kind {
            DoKind::NodePool => self.cluster_id(obj, state).await?,
            DoKind::UptimeAlert => obj
                .depends_on
                .first()
                .and_then(|c| self.parent_id(state, c)),
            DoKind::DomainRecord => obj.spec["domain"].as_str().map(str::to_owned),
            _ => None,
        };
        Ok(Recorded {
            kind: obj.kind,
            id: id.to_owned(),
            parent,
            origin: Some(origin),
        })
    }

    /// The cluster a pool belongs to: from state (the workbench records its cluster),
    /// else found by name and the pool's workbench tag (an OCR stack's pool lives on the
    /// workbench's cluster, which the stack does not record).
    async fn cluster_id(&self, obj: &DoObject, state: &DoState) -> Result<Option<String>> {
        let cname = obj.spec["cluster"].as_str().unwrap_or_default();
        if let Some(id) = self.parent_id(state, cname) {
            return Ok(Some(id));
        }
        let tag = obj.spec["tags"][0].as_str().unwrap_or_default();
        Ok(self
            .tagged_cluster(cname, tag)
            .await
            .map_err(|e| ApplyError::api(&obj.name, e))?
            .as_ref()
            .and_then(id_of))
    }

    async fn registry_live(&self) -> Result<Value> {
        let api = |e| ApplyError::api("registry", e);
        let mut r = self.client.get("/v2/registry").await.map_err(api)?["registry"].clone();
        let sub = self
            .client
            .get("/v2/registry/subscription")
            .await
            .map_err(api)?;
        r["subscription_tier_slug"] = sub["subscription"]["tier"]["slug"].clone();
        r["id"] = r["name"].clone();
        Ok(r)
    }

    /// The object's URL, from its id and its parent's.
    async fn url(&self, obj: &DoObject, id: &str, state: &DoState) -> Result<Option<String>> {
        Ok(Some(match obj.kind {
            DoKind::Project => format!("/v2/projects/{id}"),
            DoKind::Vpc => format!("/v2/vpcs/{id}"),
            DoKind::KubernetesCluster => format!("/v2/kubernetes/clusters/{id}"),
            DoKind::NodePool => {
                let Some(cid) = self.cluster_id(obj, state).await? else {
                    return Ok(None);
                };
                format!("/v2/kubernetes/clusters/{cid}/node_pools/{id}")
            }
            DoKind::Firewall => format!("/v2/firewalls/{id}"),
            DoKind::Registry => "/v2/registry".to_owned(),
            DoKind::DomainRecord => {
                format!(
                    "/v2/domains/{}/records/{id}",
                    obj.spec["domain"].as_str().unwrap_or("")
                )
            }
            DoKind::UptimeCheck => format!("/v2/uptime/checks/{id}"),
            DoKind::UptimeAlert => {
                let check = obj.depends_on.first().cloned().unwrap_or_default();
                let Some(cid) = self.parent_id(state, &check) else {
                    return Ok(None);
                };
                format!("/v2/uptime/checks/{cid}/alerts/{id}")
            }
        }))
    }

    /// The live object by recorded id; `None` when it is gone.
    async fn get_live(&self, obj: &DoObject, id: &str, state: &DoState) -> Result<Option<Value>> {
        if obj.kind == DoKind::Registry {
            return match self.client.get_opt("/v2/registry").await {
                Ok(Some(r)) if r["registry"]["name"] == id => Ok(Some(self.registry_live().await?)),
                Ok(_) => Ok(None),
                Err(e) => Err(ApplyError::api(&obj.name, e)),
            };
        }
        let Some(url) = self.url(obj, id, state).await? else {
            return Ok(None);
        };
        match self.client.get_opt(&url).await {
            Ok(v) => Ok(v.map(|v| v[item_key(obj.kind)].clone())),
            Err(e) => Err(ApplyError::api(&obj.name, e)),
        }
    }

    /// The live object: by recorded id, else by name.
    async fn locate(&self, obj: &DoObject, state: &DoState) -> Result<Option<Value>> {
        if let Some(rec) = state.objects.get(&obj.name)
            && let Some(live) = self.get_live(obj, &rec.id, state).await?
        {
            return Ok(Some(live));
        }
        self.find(obj, state).await
    }

    // ---- apply --------------------------------------------------------------------

    /// Brings every desired object into existence and into its desired form, in order,
    /// then deletes recorded objects that are no longer desired. `state` is updated as
    /// objects get ids, also when an error stops the run.
    pub async fn apply(&self, desired: &[DoObject], state: &mut DoState) -> Result<()> {
        for obj in desired {
            let live = self.locate(obj, state).await?;
            let (live, limit) = match live {
                Some(l) => {
                    let id = id_of(&l).unwrap_or_default();
                    let origin = origin_of(obj, &l, state.objects.get(&obj.name));
                    if origin == Origin::Adopted {
                        tracing::info!(object = %obj.name, "adopting an object that existed before; destroy will leave it");
                    }
                    let rec = self.record(obj, &id, origin, state).await?;
                    state.objects.insert(obj.name.clone(), rec);
                    if view(obj, Some(&l)) != view(obj, None) {
                        tracing::info!(object = %obj.name, "updating in place");
                        self.update(obj, &id, &l, state).await?;
                        // Wait for what the update started (new nodes of a resized pool),
                        // not for the object as it was before.
                        let fresh = match obj.kind {
                            DoKind::KubernetesCluster | DoKind::NodePool => {
                                self.get_live(obj, &id, state).await?
                            }
                            _ => None,
                        };
                        (fresh.unwrap_or(l), self.timeouts.update)
                    } else {
                        (l, self.timeouts.update)
                    }
                }
                None => {
                    tracing::info!(object = %obj.name, "creating");
                    (self.create(obj, state).await?, self.timeouts.create)
                }
            };
            self.wait_ready(obj, &live, state, limit).await?;
        }
        self.learn_created_domain(desired, state).await?;
        self.assign_to_project(desired, state).await?;
        // Objects recorded earlier but no longer desired (a removed pool or subdomain).
        let wanted: BTreeSet<&str> = desired.iter().map(|o| o.name.as_str()).collect();
        let stale: Vec<(String, Recorded)> = state
            .objects
            .iter()
            .filter(|(n, _)| !wanted.contains(n.as_str()))
            .map(|(n, r)| (n.clone(), r.clone()))
            .collect();
        for (name, rec) in stale.into_iter().rev() {
            self.delete_recorded(&name, &rec, desired, state).await?;
        }
        Ok(())
    }

    async fn ensure_domain(&self, obj: &DoObject, state: &mut DoState) -> Result<()> {
        let domain = obj.spec["domain"].as_str().unwrap_or_default();
        let api = |e| ApplyError::api(&obj.name, e);
        if self
            .client
            .get_opt(&format!("/v2/domains/{domain}"))
            .await
            .map_err(api)?
            .is_none()
        {
            match self
                .client
                .post("/v2/domains", &json!({ "name": domain }))
                .await
            {
                Ok(_) => {}
                // Created by a request whose answer was lost, or by a parallel run.
                Err(e) if e.status == Some(409) || e.status == Some(422) || e.is_retryable() => {
                    if self
                        .client
                        .get_opt(&format!("/v2/domains/{domain}"))
                        .await
                        .map_err(api)?
                        .is_none()
                    {
                        return Err(api(e));
                    }
                }
                Err(e) => return Err(api(e)),
            }
            state.created_domain = Some(domain.to_owned());
        }
        Ok(())
    }

    /// The create URL and body, with ids of the objects it depends on filled in.
    async fn create_request(&self, obj: &DoObject, state: &DoState) -> Result<(String, Value)> {
        let mut b = body(obj);
        let missing = |what: &str| {
            ApplyError::new(
                &obj.name,
                "A dependency is missing",
                format!("{what} was not created first."),
            )
        };
        let path = match obj.kind {
            DoKind::Project => "/v2/projects".to_owned(),
            DoKind::Vpc => "/v2/vpcs".to_owned(),
            DoKind::KubernetesCluster => {
                if let Some(vpc) = obj.depends_on.first() {
                    let id = self.parent_id(state, vpc).ok_or_else(|| missing(vpc))?;
                    b["vpc_uuid"] = json!(id);
                }
                if let Some(v) = self.resolve_version(obj).await? {
                    b["version"] = json!(v);
                }
                "/v2/kubernetes/clusters".to_owned()
            }
            DoKind::NodePool => {
                let cid = self.cluster_id(obj, state).await?.ok_or_else(|| {
                    missing(obj.spec["cluster"].as_str().unwrap_or("the cluster"))
                })?;
                format!("/v2/kubernetes/clusters/{cid}/node_pools")
            }
            DoKind::Firewall => "/v2/firewalls".to_owned(),
            DoKind::Registry => "/v2/registry".to_owned(),
            DoKind::DomainRecord => {
                format!(
                    "/v2/domains/{}/records",
                    obj.spec["domain"].as_str().unwrap_or("")
                )
            }
            DoKind::UptimeCheck => "/v2/uptime/checks".to_owned(),
            DoKind::UptimeAlert => {
                let check = obj.depends_on.first().cloned().unwrap_or_default();
                let cid = self
                    .parent_id(state, &check)
                    .ok_or_else(|| missing(&check))?;
                format!("/v2/uptime/checks/{cid}/alerts")
            }
        };
        Ok((path, b))
    }

    /// A minor version (`1.33`) becomes the newest matching DOKS slug.
    async fn resolve_version(&self, obj: &DoObject) -> Result<Option<String>> {
        let v = obj.spec["version"].as_str().unwrap_or("latest");
        if v == "latest" || v.contains("-do.") {
            return Ok(None);
        }
        let opts = self
            .client
            .get("/v2/kubernetes/options")
            .await
            .map_err(|e| ApplyError::api(&obj.name, e))?;
        let slugs = opts["options"]["versions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|x| x["slug"].as_str())
            .filter(|s| version_matches(v, s))
            .map(str::to_owned)
            .collect::<Vec<_>>();
        // The options list newest first.
        Ok(slugs.into_iter().next())
    }

    /// Creates the object. A create whose answer is lost or a server error may still have
    /// created it: look it up by name before trying again, so no twin is made.
    async fn create(&self, obj: &DoObject, state: &mut DoState) -> Result<Value> {
        if obj.kind == DoKind::DomainRecord {
            self.ensure_domain(obj, state).await?;
        }
        let (path, b) = self.create_request(obj, state).await?;
        let deadline = Instant::now() + self.timeouts.create;
        let mut wait = Duration::from_millis(500);
        loop {
            let result = self.client.post(&path, &b).await;
            let created = match result {
                Ok(v) => {
                    let mut item = v[item_key(obj.kind)].clone();
                    if obj.kind == DoKind::Registry {
                        item["id"] = item["name"].clone();
                    }
                    Some(item)
                }
                Err(e) if e.is_retryable() || e.status == Some(409) || e.status == Some(422) => {
                    tracing::info!(object = %obj.name, error = %e, "create failed; looking for the object before retrying");
                    match self.find(obj, state).await? {
                        Some(found) => Some(found),
                        None if e.is_retryable() && Instant::now() + wait < deadline => {
                            tokio::time::sleep(wait).await;
                            wait = (wait * 2).min(Duration::from_secs(30));
                            continue;
                        }
                        None => return Err(ApplyError::api(&obj.name, e)),
                    }
                }
                Err(e) => return Err(ApplyError::api(&obj.name, e)),
            };
            let item = created.unwrap_or(Value::Null);
            let id = id_of(&item).ok_or_else(|| {
                ApplyError::new(
                    &obj.name,
                    "No id in DigitalOcean's answer",
                    item.to_string(),
                )
            })?;
            let rec = self.record(obj, &id, Origin::Created, state).await?;
            state.objects.insert(obj.name.clone(), rec);
            return Ok(item);
        }
    }

    async fn update(&self, obj: &DoObject, id: &str, live: &Value, state: &DoState) -> Result<()> {
        let api = |e| ApplyError::api(&obj.name, e);
        let immutable = |field: &str| {
            ApplyError::new(
                &obj.name,
                "Cannot change this in place",
                format!(
                    "The {}'s {field} cannot change once it exists (it is {} now). Put it back, \
                     or destroy and recreate the workbench.",
                    kind_name(obj.kind),
                    live[field]
                ),
            )
        };
        let s = &obj.spec;
        let url = self.url(obj, id, state).await?.unwrap_or_default();
        match obj.kind {
            DoKind::Project => {
                self.client
                    .patch(&url, &json!({"name": s["name"], "description": s["description"], "purpose": s["purpose"], "environment": s["environment"]}))
                    .await
                    .map_err(api)?;
            }
            DoKind::Vpc => {
                for f in ["region", "ip_range"] {
                    if live[f] != s[f] {
                        return Err(immutable(f));
                    }
                }
                self.client
                    .patch(
                        &url,
                        &json!({"name": s["name"], "description": s["description"]}),
                    )
                    .await
                    .map_err(api)?;
            }
            DoKind::KubernetesCluster => {
                if live["region"] != s["region"] {
                    return Err(immutable("region"));
                }
                let desired_version = s["version"].as_str().unwrap_or("");
                if !version_matches(desired_version, live["version"].as_str().unwrap_or("")) {
                    return Err(immutable("version"));
                }
                if live["name"] != s["name"] || own_tags(&live["tags"]) != str_list(&s["tags"]) {
                    self.client
                        .put(&url, &json!({"name": s["name"], "tags": s["tags"], "auto_upgrade": s["auto_upgrade"], "surge_upgrade": s["surge_upgrade"]}))
                        .await
                        .map_err(api)?;
                }
                let want = &s["node_pools"][0];
                let pool = live["node_pools"]
                    .as_array()
                    .and_then(|ps| ps.iter().find(|p| p["name"] == want["name"]));
                match pool {
                    Some(p) if pool_view(p) != pool_view(want) => {
                        if p["size"] != want["size"] {
                            return Err(immutable_pool_size(&obj.name, p, want));
                        }
                        let pid = id_of(p).unwrap_or_default();
                        self.client
                            .put(&format!("{url}/node_pools/{pid}"), &pool_update(want))
                            .await
                            .map_err(api)?;
                    }
                    Some(_) => {}
                    None => {
                        return Err(ApplyError::new(
                            &obj.name,
                            "The default node pool is missing",
                            format!(
                                "The cluster has no pool named {}; it was removed outside \
                                 Terraform. Recreate it (same name) or destroy the workbench.",
                                want["name"]
                            ),
                        ));
                    }
                }
            }
            DoKind::NodePool => {
                if live["size"] != s["size"] {
                    return Err(immutable_pool_size(&obj.name, live, s));
                }
                self.client.put(&url, &pool_update(s)).await.map_err(api)?;
            }
            DoKind::Firewall => {
                self.client.put(&url, &body(obj)).await.map_err(api)?;
            }
            DoKind::Registry => {
                if live["name"] != s["name"] {
                    return Err(immutable("name"));
                }
                self.client
                    .post_idempotent(
                        "/v2/registry/subscription",
                        &json!({"tier_slug": s["subscription_tier_slug"]}),
                    )
                    .await
                    .map_err(api)?;
            }
            DoKind::DomainRecord | DoKind::UptimeCheck | DoKind::UptimeAlert => {
                self.client.put(&url, &body(obj)).await.map_err(api)?;
            }
        }
        Ok(())
    }

    /// Waits for a cluster to run and for pools to have their nodes running.
    async fn wait_ready(
        &self,
        obj: &DoObject,
        live: &Value,
        state: &DoState,
        limit: Duration,
    ) -> Result<()> {
        if !matches!(obj.kind, DoKind::KubernetesCluster | DoKind::NodePool) {
            return Ok(());
        }
        let Some(rec) = state.objects.get(&obj.name) else {
            return Ok(());
        };
        let started = Instant::now();
        let mut polls = 0u32;
        let mut current = live.clone();
        loop {
            let (ready, what) = readiness(obj, &current);
            if ready {
                return Ok(());
            }
            if what == "error" {
                return Err(ApplyError::new(
                    &obj.name,
                    "Provisioning failed",
                    format!(
                        "DigitalOcean reports the {} in state error: {}",
                        kind_name(obj.kind),
                        current["status"]["message"]
                    ),
                ));
            }
            if started.elapsed() >= limit {
                return Err(ApplyError::new(
                    &obj.name,
                    "Timed out waiting for DigitalOcean",
                    format!(
                        "The {} is still {what} after {:?}. Its id is saved: run apply again to \
                         keep waiting, or raise timeouts.",
                        kind_name(obj.kind),
                        started.elapsed()
                    ),
                ));
            }
            tracing::info!(object = %obj.name, state = %what, elapsed_s = started.elapsed().as_secs(), "waiting");
            polls += 1;
            tokio::time::sleep(self.poll_wait(polls)).await;
            current = match self.get_live(obj, &rec.id, state).await? {
                Some(v) => v,
                None => {
                    return Err(ApplyError::new(
                        &obj.name,
                        "The object disappeared while provisioning",
                        format!(
                            "The {} was deleted while it was being set up.",
                            kind_name(obj.kind)
                        ),
                    ));
                }
            };
        }
    }

    async fn assign_to_project(&self, desired: &[DoObject], state: &DoState) -> Result<()> {
        let Some(project) = desired.iter().find(|o| o.kind == DoKind::Project) else {
            return Ok(());
        };
        let Some(pid) = self.parent_id(state, &project.name) else {
            return Ok(());
        };
        let mut urns = Vec::new();
        for o in desired {
            // An adopted VPC stays in its owner's project (and would keep ours from being
            // deleted).
            if let Some(rec) = state.objects.get(&o.name).filter(|r| r.created()) {
                match o.kind {
                    DoKind::Vpc => urns.push(format!("do:vpc:{}", rec.id)),
                    DoKind::KubernetesCluster => urns.push(format!("do:kubernetes:{}", rec.id)),
                    _ => {}
                }
            }
        }
        // Only a domain this workbench created; someone else's stays in its project.
        if let Some(d) = &state.created_domain {
            urns.push(format!("do:domain:{d}"));
        }
        let path = format!("/v2/projects/{pid}/resources");
        let present: BTreeSet<String> = self
            .client
            .list(&path, "resources")
            .await
            .map_err(|e| ApplyError::api(&project.name, e))?
            .iter()
            .filter_map(|r| r["urn"].as_str().map(str::to_owned))
            .collect();
        urns.retain(|u| !present.contains(u));
        if urns.is_empty() {
            return Ok(());
        }
        self.client
            .post_idempotent(
                &format!("/v2/projects/{pid}/resources"),
                &json!({ "resources": urns }),
            )
            .await
            .map_err(|e| ApplyError::api(&project.name, e))?;
        Ok(())
    }

    // ---- read ---------------------------------------------------------------------

    /// The live form of every desired object, in the shape of [`summaries`]; [`ABSENT`]
    /// for an object that does not exist. Objects found by name are recorded in `state`.
    pub async fn observe(
        &self,
        desired: &[DoObject],
        state: &mut DoState,
    ) -> Result<BTreeMap<String, String>> {
        let mut out = BTreeMap::new();
        for obj in desired {
            let summary = match self.locate(obj, state).await? {
                Some(live) => {
                    if let Some(id) = id_of(&live) {
                        let origin = origin_of(obj, &live, state.objects.get(&obj.name));
                        let rec = self.record(obj, &id, origin, state).await?;
                        state.objects.insert(obj.name.clone(), rec);
                    }
                    view(obj, Some(&live)).to_string()
                }
                None => {
                    state.objects.remove(&obj.name);
                    ABSENT.to_owned()
                }
            };
            out.insert(obj.name.clone(), summary);
        }
        self.learn_created_domain(desired, state).await?;
        Ok(out)
    }

    // ---- destroy ------------------------------------------------------------------

    /// Deletes every desired or recorded object in reverse dependency order and waits
    /// until each is gone. The cluster goes with the load balancers and volumes it
    /// created. Deleted objects leave `state` one by one.
    pub async fn destroy(&self, desired: &[DoObject], state: &mut DoState) -> Result<()> {
        for obj in desired.iter().rev() {
            if obj.kind == DoKind::Project {
                self.delete_created_domain(state).await?;
            }
            // Records have no tags: only those recorded as the workbench's are deleted,
            // never a same-named record someone else keeps in the zone.
            if obj.kind == DoKind::DomainRecord && !state.objects.contains_key(&obj.name) {
                continue;
            }
            if let Some(live) = self.locate(obj, state).await? {
                let id = id_of(&live).unwrap_or_default();
                if origin_of(obj, &live, state.objects.get(&obj.name)) == Origin::Created {
                    self.delete_object(obj, &id, state).await?;
                } else {
                    // Adopted: the workbench's own objects in it are deleted above (an
                    // adopted project loses them); the object itself stays.
                    tracing::info!(object = %obj.name, "leaving an adopted object in place");
                }
            }
            state.objects.remove(&obj.name);
        }
        let leftovers: Vec<(String, Recorded)> = state
            .objects
            .iter()
            .map(|(n, r)| (n.clone(), r.clone()))
            .collect();
        for (name, rec) in leftovers.into_iter().rev() {
            self.delete_recorded(&name, &rec, desired, state).await?;
        }
        self.delete_created_domain(state).await?;
        Ok(())
    }

    /// Deletes the DNS domain only when the provider created it: a zone that existed
    /// before (even one left with nothing but SOA and NS records) belongs to its owner.
    async fn delete_created_domain(&self, state: &mut DoState) -> Result<()> {
        if let Some(d) = state.created_domain.clone() {
            match self.client.delete(&format!("/v2/domains/{d}")).await {
                Ok(()) => {}
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(ApplyError::api(&d, e)),
            }
            state.created_domain = None;
        }
        Ok(())
    }

    /// A domain the provider created sits in the workbench's project (a pre-existing one
    /// is never moved there), so ownership is found again when state was lost (import,
    /// a state from before it was recorded).
    async fn learn_created_domain(&self, desired: &[DoObject], state: &mut DoState) -> Result<()> {
        let Some(domain) = desired
            .iter()
            .find(|o| o.kind == DoKind::DomainRecord)
            .and_then(|o| o.spec["domain"].as_str())
        else {
            return Ok(());
        };
        if state.created_domain.as_deref() == Some(domain) {
            return Ok(());
        }
        let Some(project) = desired.iter().find(|o| o.kind == DoKind::Project) else {
            return Ok(());
        };
        // A domain in an adopted project may be its owner's.
        let Some(pid) = state
            .objects
            .get(&project.name)
            .filter(|r| r.created())
            .map(|r| r.id.clone())
        else {
            return Ok(());
        };
        let urn = format!("do:domain:{domain}");
        let owned = self
            .client
            .list(&format!("/v2/projects/{pid}/resources"), "resources")
            .await
            .map_err(|e| ApplyError::api(&project.name, e))?
            .iter()
            .any(|r| r["urn"] == urn.as_str());
        if owned {
            state.created_domain = Some(domain.to_owned());
        }
        Ok(())
    }

    /// Deletes a recorded object that is no longer in the desired list: its kind and id
    /// are all that is known, which is enough for everything but children of a parent
    /// that is itself gone (then the child went with it).
    async fn delete_recorded(
        &self,
        name: &str,
        rec: &Recorded,
        desired: &[DoObject],
        state: &mut DoState,
    ) -> Result<()> {
        if !rec.created() {
            // Adopted (or unproven, from an older state): forgotten, never deleted.
            state.objects.remove(name);
            return Ok(());
        }
        let url = match (rec.kind, &rec.parent) {
            (DoKind::NodePool, Some(c)) => {
                Some(format!("/v2/kubernetes/clusters/{c}/node_pools/{}", rec.id))
            }
            (DoKind::UptimeAlert, Some(c)) => {
                Some(format!("/v2/uptime/checks/{c}/alerts/{}", rec.id))
            }
            (DoKind::DomainRecord, Some(d)) => Some(format!("/v2/domains/{d}/records/{}", rec.id)),
            // A child whose parent is unknown went with its parent.
            (DoKind::NodePool | DoKind::UptimeAlert | DoKind::DomainRecord, None) => None,
            _ => {
                let stub = desired
                    .iter()
                    .find(|o| o.name == name)
                    .cloned()
                    .unwrap_or_else(|| DoObject {
                        kind: rec.kind,
                        name: name.to_owned(),
                        depends_on: Vec::new(),
                        spec: json!({ "name": name }),
                    });
                self.url(&stub, &rec.id, state).await?
            }
        };
        if let Some(url) = url {
            self.delete_at(name, rec.kind, &url).await?;
        }
        state.objects.remove(name);
        Ok(())
    }

    async fn delete_object(&self, obj: &DoObject, id: &str, state: &DoState) -> Result<()> {
        let Some(url) = self.url(obj, id, state).await? else {
            return Ok(());
        };
        self.delete_at(&obj.name, obj.kind, &url).await
    }

    async fn delete_at(&self, name: &str, kind: DoKind, url: &str) -> Result<()> {
        let url = url.to_owned();
        let delete_url = match kind {
            // Also removes the load balancers and volumes the cluster's workloads created.
            DoKind::KubernetesCluster => {
                format!("{url}/destroy_with_associated_resources/dangerous")
            }
            _ => url.clone(),
        };
        let started = Instant::now();
        let mut polls = 0u32;
        tracing::info!(object = %name, "deleting");
        loop {
            match self.client.delete(&delete_url).await {
                Ok(()) => break,
                // Already gone (deleted by hand, or with its cluster).
                Err(e) if e.is_not_found() => return Ok(()),
                // The VPC still has members and the project still has resources while the
                // cluster goes away: try again until the time limit.
                Err(e)
                    if matches!(e.status, Some(403 | 409 | 412 | 422))
                        && started.elapsed() < self.timeouts.delete =>
                {
                    tracing::info!(object = %name, error = %e, "not deletable yet; waiting");
                    polls += 1;
                    tokio::time::sleep(self.poll_wait(polls)).await;
                }
                Err(e) => return Err(ApplyError::api(name, e)),
            }
        }
        // Deletion is asynchronous for clusters: wait until the object reads 404.
        if kind != DoKind::Registry {
            loop {
                match self.client.get_opt(&url).await {
                    Ok(None) => break,
                    Ok(Some(_)) if started.elapsed() < self.timeouts.delete => {
                        polls += 1;
                        tokio::time::sleep(self.poll_wait(polls)).await;
                    }
                    Ok(Some(_)) => {
                        return Err(ApplyError::new(
                            name,
                            "Timed out waiting for deletion",
                            format!(
                                "The {} still exists after {:?}; run destroy again or raise timeouts.",
                                kind_name(kind),
                                started.elapsed()
                            ),
                        ));
                    }
                    Err(e) => return Err(ApplyError::api(name, e)),
                }
            }
        }
        Ok(())
    }

    // ---- plan-time checks and kubeconfig ------------------------------------------

    /// Checks slugs and the VPC range against the account (read-only calls) and returns
    /// diagnostics plus the live size prices.
    pub async fn plan_check(&self, check: &PlanCheck) -> Result<(Diagnostics, PriceTable)> {
        let api = |e| ApplyError::api("plan check", e);
        let mut d = Diagnostics::new();
        let mut prices = PriceTable::builtin();
        let mut region_known = false;
        if let Some((region, path)) = &check.region {
            let regions = self
                .client
                .list("/v2/regions", "regions")
                .await
                .map_err(api)?;
            let known = regions
                .iter()
                .any(|r| r["slug"] == region.as_str() && r["available"] != false);
            region_known = known;
            if !known {
                let mut slugs: Vec<&str> = regions
                    .iter()
                    .filter(|r| r["available"] != false)
                    .filter_map(|r| r["slug"].as_str())
                    .collect();
                slugs.sort_unstable();
                d.error(
                    path.clone(),
                    "Unknown region",
                    format!(
                        "DigitalOcean has no available region {region:?}; available: {}.",
                        slugs.join(", ")
                    ),
                );
            }
        }
        if !check.sizes.is_empty() {
            let sizes = self.client.list("/v2/sizes", "sizes").await.map_err(api)?;
            for s in &sizes {
                if let (Some(slug), Some(p)) = (s["slug"].as_str(), s["price_monthly"].as_f64()) {
                    prices.set(slug, (p * 100.0).round() as u64);
                }
            }
            for (size, path) in &check.sizes {
                let Some(s) = sizes.iter().find(|s| s["slug"] == size.as_str()) else {
                    d.error(
                        path.clone(),
                        "Unknown size",
                        format!("DigitalOcean has no droplet size {size:?} (see `doctl compute size list`)."),
                    );
                    continue;
                };
                if let Some((region, _)) = &check.region
                    && region_known
                    && let Some(regions) = s["regions"].as_array()
                    && !regions.iter().any(|r| r == region.as_str())
                {
                    d.error(
                        path.clone(),
                        "Size not offered in the region",
                        format!("Size {size:?} is not available in {region}."),
                    );
                }
            }
        }
        if let Some((version, path)) = &check.version
            && version != "latest"
        {
            let opts = self
                .client
                .get("/v2/kubernetes/options")
                .await
                .map_err(api)?;
            let slugs: Vec<&str> = opts["options"]["versions"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v["slug"].as_str())
                .collect();
            if !slugs.iter().any(|s| version_matches(version, s)) {
                d.error(
                    path.clone(),
                    "Unknown Kubernetes version",
                    format!(
                        "DOKS offers {}; {version:?} matches none.",
                        slugs.join(", ")
                    ),
                );
            }
        }
        if let Some((name, cidr, path)) = &check.vpc
            && let Ok(ours) = cidr.parse::<ipnet::Ipv4Net>()
        {
            for v in self.client.list("/v2/vpcs", "vpcs").await.map_err(api)? {
                if v["name"] == name.as_str() {
                    continue;
                }
                if let Some(theirs) = v["ip_range"]
                    .as_str()
                    .and_then(|r| r.parse::<ipnet::Ipv4Net>().ok())
                    && (ours.contains(&theirs.network()) || theirs.contains(&ours.network()))
                {
                    d.error(
                        path.clone(),
                        "VPC range overlaps an existing VPC",
                        format!(
                            "{cidr} overlaps {theirs} of VPC {} in {}; pick a free range.",
                            v["name"], v["region"]
                        ),
                    );
                }
            }
        }
        Ok((d, prices))
    }

    /// The built-in price table with DigitalOcean's live `price_monthly` of every size
    /// (`/v2/sizes`) in place of the built-in prices.
    pub async fn prices(&self) -> Result<PriceTable> {
        let sizes = self
            .client
            .list("/v2/sizes", "sizes")
            .await
            .map_err(|e| ApplyError::api("prices", e))?;
        let mut prices = PriceTable::builtin();
        for s in &sizes {
            if let (Some(slug), Some(p)) = (s["slug"].as_str(), s["price_monthly"].as_f64()) {
                prices.set(slug, (p * 100.0).round() as u64);
            }
        }
        Ok(prices)
    }

    /// A fresh kubeconfig of the named cluster (never stored; its credentials expire).
    pub async fn kubeconfig(&self, cluster_name: &str) -> Result<String> {
        let api = |e| ApplyError::api(cluster_name, e);
        let clusters = self
            .client
            .list("/v2/kubernetes/clusters", "kubernetes_clusters")
            .await
            .map_err(api)?;
        let id = clusters
            .iter()
            .find(|c| c["name"] == cluster_name)
            .and_then(id_of)
            .ok_or_else(|| {
                ApplyError::new(
                    cluster_name,
                    "No such cluster",
                    format!("DigitalOcean has no Kubernetes cluster named {cluster_name:?} (yet)."),
                )
            })?;
        self.client
            .get_text(&format!("/v2/kubernetes/clusters/{id}/kubeconfig"))
            .await
            .map_err(api)
    }
}

fn immutable_pool_size(object: &str, live: &Value, want: &Value) -> ApplyError {
    ApplyError::new(
        object,
        "Cannot change a pool's node size in place",
        format!(
            "Pool {} runs {} nodes; DigitalOcean cannot change the size of an existing pool. \
             Size {} needs a new pool: for a workbench, add one under cluster.node_pools, \
             move the workloads, then remove the old one; an ipai_ocr_stack replaces its GPU \
             pool when gpu.node_size changes (the cluster is never replaced).",
            live["name"], live["size"], want["size"]
        ),
    )
}

/// The PUT body of a pool resize: DigitalOcean wants `name` and `count` always.
fn pool_update(p: &Value) -> Value {
    let mut b = json!({
        "name": p["name"],
        "count": p["count"],
        "auto_scale": p["auto_scale"],
        "tags": p["tags"],
        "labels": p["labels"],
    });
    if p["auto_scale"] == true {
        b["min_nodes"] = p["min_nodes"].clone();
        b["max_nodes"] = p["max_nodes"].clone();
    }
    if !p["taints"].is_null() {
        b["taints"] = p["taints"].clone();
    }
    b
}

/// Whether a cluster or pool is ready, and its state in words.
fn readiness(obj: &DoObject, live: &Value) -> (bool, String) {
    let pool_ready = |p: &Value| {
        let nodes = p["nodes"].as_array().cloned().unwrap_or_default();
        let want = p["count"].as_u64().unwrap_or(0) as usize;
        let running = nodes
            .iter()
            .filter(|n| n["status"]["state"] == "running")
            .count();
        (
            running >= want && running == nodes.len(),
            format!("{running}/{want} nodes running"),
        )
    };
    match obj.kind {
        DoKind::KubernetesCluster => {
            let state = live["status"]["state"].as_str().unwrap_or("unknown");
            if state != "running" {
                return (false, state.to_owned());
            }
            let name = &obj.spec["node_pools"][0]["name"];
            match live["node_pools"]
                .as_array()
                .and_then(|ps| ps.iter().find(|p| &p["name"] == name))
            {
                Some(p) => pool_ready(p),
                None => (true, state.to_owned()),
            }
        }
        _ => pool_ready(live),
    }
}
