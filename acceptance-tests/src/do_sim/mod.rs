//! A stateful, in-process DigitalOcean API simulator held to DigitalOcean's OpenAPI contract.
//!
//! ```no_run
//! use ipai_acceptance_tests::do_sim::{DoSim, Fault, SimOptions};
//! let sim = DoSim::start(SimOptions::default()).unwrap();
//! // point the provider at sim.base_url() (e.g. "http://127.0.0.1:PORT") with sim.token()
//! sim.inject(Fault::rate_limited("POST", "/v2/vpcs").times(2));
//! // ... run the provider ...
//! sim.assert_contract_clean();          // also enforced when `sim` is dropped
//! assert!(sim.leftovers().is_empty()); // after destroy
//! ```
//!
//! The server runs on its own thread with its own tokio runtime, bound to `127.0.0.1:0`, so it works
//! from sync and async tests alike; dropping [`DoSim`] stops it.
//!
//! # Contract
//! Every request is matched to an operation of the OpenAPI spec (`$IPAI_DO_OPENAPI`, default
//! `../shared/contracts/digitalocean/digitalocean-v2.workbench.json` from the repo root; a missing spec
//! is an error). Its path/query parameters and JSON body are validated against the operation's
//! schemas; a violation answers **422** `{id: "unprocessable_entity", message}` and is recorded.
//! A path/method that is not in the spec answers 404/405 and is recorded too. Every response the
//! simulator sends is validated against the schema declared for its status code (or `default`);
//! a mismatch is a simulator bug and is recorded as well. Recorded [`Violation`]s are returned by
//! [`DoSim::violations`]; [`DoSim::take_violations`] drains them (for tests that send bad requests
//! on purpose); **dropping a `DoSim` that still holds violations panics**, so no test passes with an
//! off-contract exchange.
//!
//! Auth: `Authorization: Bearer <token>` ([`DoSim::token`]); anything else gets 401. Errors are
//! DigitalOcean-shaped: `{id, message, request_id}`. Every response carries `ratelimit-limit`,
//! `ratelimit-remaining`, `ratelimit-reset`.
//!
//! # Endpoints (stateful)
//! | endpoint | behaviour |
//! |---|---|
//! | `GET /v2/account` | fixed active account |
//! | `GET /v2/regions`, `GET /v2/sizes` | catalogue: 13 regions incl. `sgp1`; sizes `s-1vcpu-1gb` … `s-4vcpu-8gb` (48.00/month) …, GPU `gpu-l40sx1-48gb`, `gpu-h100x1-80gb`, `gpu-h100x8-640gb` (GPU regions: nyc2, tor1, atl1, ams3, sgp1), each with `price_monthly`/`price_hourly`/`regions` |
//! | `GET /v2/kubernetes/options` | versions `1.33.1-do.0` (latest), `1.32.5-do.0`, `1.31.9-do.0`; regions; sizes |
//! | `/v2/projects` GET/POST, `/{id}` GET/PUT/PATCH/DELETE, `/default`, `/{id}/resources` GET/POST | a default project `first-project` exists; names unique (409); DELETE of a project that still has resources or of the default → 412; resources are URNs `do:vpc:`, `do:kubernetes:`, `do:domain:`, `do:loadbalancer:`, `do:volume:` of live objects (unassigned ones are in the default project; dead ones disappear) |
//! | `/v2/vpcs` GET/POST, `/{id}` GET/PUT/PATCH/DELETE | a default VPC `default-sgp1` (10.104.0.0/20) exists (option `default_vpcs`); `ip_range` must be RFC 1918, /16–/28, network address, and must not overlap another VPC or 10.244.0.0/16, 10.245.0.0/16, 10.246.0.0/24 (422); names unique (422); DELETE of a default VPC or a VPC with a cluster → 403 |
//! | `/v2/kubernetes/clusters` GET/POST, `/{id}` GET/PUT/DELETE | create → 201 `status.state = provisioning`; after `provisioning_polls` reads (GET of the cluster, list, pools) and `provisioning_delay` it is `running` (endpoint, ipv4 filled; nodes running). On becoming running it creates `cluster_load_balancers` LBs and `cluster_volumes` volumes (an Ingress, a PVC). Names unique (422); version `latest`/slug/minor; unknown region/size/version, pool count outside min..max → 422; no `vpc_uuid` → the region's default VPC. DigitalOcean's own tags `k8s`, `k8s:<id>` (and `k8s:worker` on pools) are added. DELETE → 204, then the cluster reads `deleting` for `deletion_polls` reads, then 404. A plain DELETE leaves its LBs and volumes behind. |
//! | `/{id}/node_pools` GET/POST, `/{pool}` GET/PUT/DELETE | PUT resizes in place (`count`, `auto_scale`, `min_nodes`, `max_nodes`, `tags`, `labels`, `taints`; `name`+`count` required) → 202; new nodes are `provisioning` for `provisioning_polls` reads; deleting the last pool → 422; pool names unique per cluster |
//! | `/{id}/kubeconfig` (application/yaml, fresh token each call), `/{id}/credentials` | |
//! | `/{id}/destroy_with_associated_resources` GET, `/dangerous` DELETE, `/selective` DELETE | list / delete the cluster with all / the listed LBs and volumes |
//! | `/v2/load_balancers` GET, `/{id}` GET/DELETE | the LBs clusters created |
//! | `/v2/firewalls` GET/POST (202), `/{id}` GET/PUT/DELETE, `/{id}/rules` POST/DELETE, `/{id}/tags` POST/DELETE | ports `N`, `A-B` or `all`; addresses must be IPs/CIDRs; `kubernetes_ids` must exist; every rule needs a source/destination (422) |
//! | `/v2/registry` GET/POST/DELETE, `/subscription` GET/POST | one registry per account (second POST → 409); tiers starter/basic/professional |
//! | `/v2/domains` GET/POST, `/{name}` GET/DELETE, `/{name}/records` GET (filters `name` = FQDN, `type`)/POST, `/{id}` GET/PUT/PATCH/DELETE | a new domain gets SOA + 3 NS records (+ an A `@` with `ip_address`); names given as FQDN are stored relative; A data must be IPv4; ttl ≥ 30 |
//! | `/v2/uptime/checks` GET/POST, `/{id}` GET/PUT/DELETE, `/{id}/state`, `/{id}/alerts` GET/POST, `/{alert}` GET/PUT/DELETE | http(s) targets must match the type; latency alerts need threshold+comparison; deleting a check deletes its alerts |
//!
//! Every list takes `page`/`per_page` (default 20, max 200) and answers `links.pages`
//! (`first`/`prev`/`next`/`last` as absolute URLs) and `meta.total`. Operations of the spec the
//! simulator does not implement answer 501 `not_implemented`.
//!
//! # Fault knobs
//! - [`DoSim::inject`] with a [`Fault`] matching a method (`"*"` for any) and a path — the concrete
//!   path, the spec template (`/v2/kubernetes/clusters/{cluster_id}`) or `"*"` — for the next
//!   [`Fault::times`] matching requests:
//!   - [`Fault::rate_limited`]: 429 with `retry-after` and `ratelimit-reset` ([`Fault::retry_after`], default 1 s);
//!   - [`Fault::server_error`]: 500 without touching state;
//!   - [`Fault::fail_after_commit`]: the operation is carried out, then 500 is returned (a create
//!     that fails half-way: the provider must find and adopt the object, not create a twin);
//!   - [`Fault::rejected`]: 422 without touching state (a refusal no retry fixes: the apply
//!     fails half-way and must keep what it created in state).
//! - [`SimOptions`]: `provisioning_polls`, `provisioning_delay`, `deletion_polls`,
//!   `cluster_load_balancers`, `cluster_volumes`, `default_vpcs`, `token`;
//!   [`DoSim::set_provisioning_polls`] changes it for objects created afterwards (slow provisioning).
//! - Out-of-band changes ("someone used the console"), for drift tests:
//!   [`DoSim::console_resize_pool`], [`DoSim::console_delete_pool`],
//!   [`DoSim::console_remove_firewall_rule`],
//!   [`DoSim::console_add_load_balancer`], [`DoSim::console_add_domain`] (a zone that existed
//!   before the workbench).
//!
//! # Observing
//! [`DoSim::requests`] (method, path, operation, status of every request), snapshot accessors
//! ([`DoSim::vpcs`], [`DoSim::clusters`], [`DoSim::firewalls`], …: API-shaped JSON, reading them does
//! not advance state machines) and [`DoSim::leftovers`] (everything but the account's defaults).
//! Without a server, [`check_request`] checks one method/path/body against the contract.

mod catalog;
mod contract;
mod state;

use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::Query;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

pub use contract::{SPEC_ENV, spec_path};
use state::{Behaviour, Body, Reply, Req, State};

/// Errors starting the simulator.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SimError {
    /// The OpenAPI contract is missing, unreadable or does not compile.
    #[error("DigitalOcean OpenAPI contract {}: {detail}", path.display())]
    Spec {
        /// Where the spec was looked for.
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },
    /// The listener or the runtime could not be started.
    #[error("cannot start the DigitalOcean simulator: {0}")]
    Start(String),
}

/// Settings of a simulator instance.
#[derive(Debug, Clone)]
pub struct SimOptions {
    /// The API token the simulator accepts.
    pub token: String,
    /// Reads a new cluster (and new nodes) stay `provisioning` before turning `running`.
    pub provisioning_polls: u32,
    /// Minimum wall-clock time a new cluster stays `provisioning`.
    pub provisioning_delay: Duration,
    /// Reads a deleted cluster still shows as `deleting` before it is gone (404).
    pub deletion_polls: u32,
    /// Load balancers each cluster creates when it becomes running.
    pub cluster_load_balancers: u32,
    /// Volumes each cluster creates when it becomes running.
    pub cluster_volumes: u32,
    /// Whether the account starts with its default VPC in sgp1.
    pub default_vpcs: bool,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            token: "dop_v1_simulator_token".to_string(),
            provisioning_polls: 2,
            provisioning_delay: Duration::ZERO,
            deletion_polls: 1,
            cluster_load_balancers: 1,
            cluster_volumes: 1,
            default_vpcs: true,
        }
    }
}

/// What a [`Fault`] does to a matching request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultKind {
    /// 429 with `retry-after` / `ratelimit-reset` this many seconds ahead.
    RateLimited {
        /// Seconds until the client may retry.
        retry_after_secs: u64,
    },
    /// 500 without carrying the operation out.
    ServerError,
    /// The operation is carried out, then 500 is returned.
    FailAfterCommit,
    /// 422 without carrying the operation out: a create DigitalOcean refuses (quota,
    /// capacity), which no retry fixes.
    Rejected,
}

/// A fault for the next matching requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    method: String,
    path: String,
    kind: FaultKind,
    times: u32,
}

impl Fault {
    fn new(method: &str, path: &str, kind: FaultKind) -> Fault {
        Fault {
            method: method.to_ascii_uppercase(),
            path: path.to_string(),
            kind,
            times: 1,
        }
    }

    /// 429 Too Many Requests for `method` (`"*"` = any) on `path` (concrete, template or `"*"`).
    pub fn rate_limited(method: &str, path: &str) -> Fault {
        Fault::new(
            method,
            path,
            FaultKind::RateLimited {
                retry_after_secs: 1,
            },
        )
    }

    /// 500 Internal Server Error, state untouched.
    pub fn server_error(method: &str, path: &str) -> Fault {
        Fault::new(method, path, FaultKind::ServerError)
    }

    /// The request succeeds inside the simulator but the client gets a 500.
    pub fn fail_after_commit(method: &str, path: &str) -> Fault {
        Fault::new(method, path, FaultKind::FailAfterCommit)
    }

    /// 422 Unprocessable Entity, state untouched: a refusal no retry fixes (quota reached,
    /// no capacity left), so the provider's apply fails half-way.
    pub fn rejected(method: &str, path: &str) -> Fault {
        Fault::new(method, path, FaultKind::Rejected)
    }

    /// Applies to the next `n` matching requests (default 1).
    pub fn times(mut self, n: u32) -> Fault {
        self.times = n;
        self
    }

    /// For [`Fault::rate_limited`]: seconds announced in `retry-after` and `ratelimit-reset`.
    pub fn retry_after(mut self, secs: u64) -> Fault {
        if let FaultKind::RateLimited { retry_after_secs } = &mut self.kind {
            *retry_after_secs = secs;
        }
        self
    }

    fn matches(&self, method: &str, path: &str, template: Option<&str>) -> bool {
        (self.method == "*" || self.method == method)
            && (self.path == "*" || self.path == path || Some(self.path.as_str()) == template)
    }
}

/// Which side of an exchange broke the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The client (the provider) sent something off-contract.
    Request,
    /// The simulator answered something off-contract (a simulator bug).
    Response,
}

/// One recorded contract violation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Who broke the contract.
    pub side: Side,
    /// HTTP method.
    pub method: String,
    /// Concrete request path.
    pub path: String,
    /// operationId, when the request matched one.
    pub operation: Option<String>,
    /// What was wrong.
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let who = match self.side {
            Side::Request => "request",
            Side::Response => "simulator response",
        };
        write!(
            f,
            "{who} {} {} ({}): {}",
            self.method,
            self.path,
            self.operation.as_deref().unwrap_or("no operation"),
            self.message
        )
    }
}

/// One request the simulator answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    /// HTTP method.
    pub method: String,
    /// Path without the query.
    pub path: String,
    /// The raw query string.
    pub query: String,
    /// operationId, when the request matched one.
    pub operation: Option<String>,
    /// Status answered.
    pub status: u16,
}

struct Shared {
    token: String,
    base_url: String,
    contract: &'static contract::Contract,
    state: Mutex<State>,
    faults: Mutex<Vec<Fault>>,
    violations: Mutex<Vec<Violation>>,
    log: Mutex<Vec<RequestRecord>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking test thread must not hide the simulator's state from the next assertion.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A running simulator; stops when dropped.
pub struct DoSim {
    shared: Arc<Shared>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl fmt::Debug for DoSim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DoSim")
            .field("base_url", &self.shared.base_url)
            .finish()
    }
}

impl DoSim {
    /// Loads the contract (once per process) and starts a simulator on `127.0.0.1:0`.
    pub fn start(options: SimOptions) -> Result<DoSim, SimError> {
        let contract = contract::contract()?;
        let listener = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.set_nonblocking(true).map(|()| l))
            .map_err(|e| SimError::Start(e.to_string()))?;
        let addr = listener
            .local_addr()
            .map_err(|e| SimError::Start(e.to_string()))?;
        let behaviour = Behaviour {
            provisioning_polls: options.provisioning_polls,
            provisioning_delay: options.provisioning_delay,
            deletion_polls: options.deletion_polls,
            cluster_load_balancers: options.cluster_load_balancers,
            cluster_volumes: options.cluster_volumes,
        };
        let shared = Arc::new(Shared {
            token: options.token,
            base_url: format!("http://{addr}"),
            contract,
            state: Mutex::new(State::new(behaviour, options.default_vpcs)),
            faults: Mutex::new(Vec::new()),
            violations: Mutex::new(Vec::new()),
            log: Mutex::new(Vec::new()),
        });
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| SimError::Start(e.to_string()))?;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let app = axum::Router::new()
            .fallback(serve_one)
            .with_state(shared.clone());
        let thread = std::thread::Builder::new()
            .name("do-sim".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                        return;
                    };
                    // Dropping the runtime afterwards aborts open keep-alive connections.
                    tokio::select! {
                        _ = axum::serve(listener, app) => {}
                        _ = rx => {}
                    }
                });
            })
            .map_err(|e| SimError::Start(e.to_string()))?;
        Ok(DoSim {
            shared,
            shutdown: Some(tx),
            thread: Some(thread),
        })
    }

    /// `http://127.0.0.1:PORT` (no trailing slash); the provider's `api_endpoint`.
    pub fn base_url(&self) -> &str {
        &self.shared.base_url
    }

    /// The token the simulator accepts.
    pub fn token(&self) -> &str {
        &self.shared.token
    }

    /// Queues a fault; faults are consumed in the order they were injected.
    pub fn inject(&self, fault: Fault) {
        lock(&self.shared.faults).push(fault);
    }

    /// Faults injected but not yet consumed.
    pub fn pending_faults(&self) -> Vec<Fault> {
        lock(&self.shared.faults).clone()
    }

    /// Reads clusters, pools and resized pools created from now on stay provisioning.
    pub fn set_provisioning_polls(&self, polls: u32) {
        lock(&self.shared.state).behaviour.provisioning_polls = polls;
    }

    /// Contract violations recorded so far.
    pub fn violations(&self) -> Vec<Violation> {
        lock(&self.shared.violations).clone()
    }

    /// Returns and forgets the recorded violations (for tests that break the contract on purpose).
    pub fn take_violations(&self) -> Vec<Violation> {
        std::mem::take(&mut *lock(&self.shared.violations))
    }

    /// Panics listing every recorded contract violation, if any.
    pub fn assert_contract_clean(&self) {
        let v = self.violations();
        if !v.is_empty() {
            let list: Vec<String> = v.iter().map(|v| format!("  - {v}")).collect();
            panic!(
                "{} DigitalOcean contract violation(s):\n{}",
                v.len(),
                list.join("\n")
            );
        }
    }

    /// Every request answered so far, in order.
    pub fn requests(&self) -> Vec<RequestRecord> {
        lock(&self.shared.log).clone()
    }

    /// All VPCs, API-shaped.
    pub fn vpcs(&self) -> Vec<Value> {
        let s = lock(&self.shared.state);
        s.vpcs.iter().map(|v| s.vpc_json(v)).collect()
    }

    /// All clusters (including ones being deleted), API-shaped; does not count as a poll.
    pub fn clusters(&self) -> Vec<Value> {
        lock(&self.shared.state).clusters_json()
    }

    /// All load balancers, API-shaped.
    pub fn load_balancers(&self) -> Vec<Value> {
        lock(&self.shared.state).load_balancers_json()
    }

    /// All volumes as `{id, name, cluster_id}`.
    pub fn volumes(&self) -> Vec<Value> {
        lock(&self.shared.state).volumes_json()
    }

    /// All projects, API-shaped.
    pub fn projects(&self) -> Vec<Value> {
        lock(&self.shared.state).projects_json()
    }

    /// URNs of the resources in a project (`None` = the default project).
    pub fn project_resources(&self, project_id: Option<&str>) -> Vec<String> {
        lock(&self.shared.state).project_urns(project_id)
    }

    /// All firewalls, API-shaped.
    pub fn firewalls(&self) -> Vec<Value> {
        lock(&self.shared.state).firewalls.clone()
    }

    /// The registry, API-shaped.
    pub fn registry(&self) -> Option<Value> {
        lock(&self.shared.state).registry_json()
    }

    /// Domain names.
    pub fn domains(&self) -> Vec<String> {
        lock(&self.shared.state)
            .domains
            .iter()
            .map(|d| d.name.clone())
            .collect()
    }

    /// Records of a domain (including its SOA and NS records), API-shaped.
    pub fn domain_records(&self, domain: &str) -> Vec<Value> {
        lock(&self.shared.state)
            .domains
            .iter()
            .find(|d| d.name == domain)
            .map(|d| d.records.clone())
            .unwrap_or_default()
    }

    /// Uptime checks, API-shaped.
    pub fn uptime_checks(&self) -> Vec<Value> {
        lock(&self.shared.state).checks.clone()
    }

    /// Alerts of an uptime check, API-shaped.
    pub fn uptime_alerts(&self, check_id: &str) -> Vec<Value> {
        lock(&self.shared.state)
            .alerts
            .get(check_id)
            .cloned()
            .unwrap_or_default()
    }

    /// Everything that exists besides the account's defaults (default project, default VPCs),
    /// one `"kind name (id)"` line each; empty after a complete destroy.
    pub fn leftovers(&self) -> Vec<String> {
        lock(&self.shared.state).leftovers()
    }

    /// Resizes a node pool as the web console would (drift). Returns false if not found.
    pub fn console_resize_pool(&self, cluster_id: &str, pool_id: &str, count: u64) -> bool {
        lock(&self.shared.state).console_resize_pool(cluster_id, pool_id, count)
    }

    /// Deletes a node pool as the web console would (drift). Returns false if not found.
    pub fn console_delete_pool(&self, cluster_id: &str, pool_id: &str) -> bool {
        lock(&self.shared.state).console_delete_pool(cluster_id, pool_id)
    }

    /// Removes every inbound rule on `ports` (e.g. `"443"`) from a firewall (drift).
    pub fn console_remove_firewall_rule(&self, firewall_id: &str, ports: &str) -> bool {
        lock(&self.shared.state).console_remove_inbound(firewall_id, ports)
    }

    /// Adds a DNS zone with only DigitalOcean's SOA and NS records, as someone would have
    /// before the workbench existed. False if it exists.
    pub fn console_add_domain(&self, name: &str) -> bool {
        lock(&self.shared.state).console_add_domain(name)
    }

    /// Creates an object as its owner would have before the workbench existed: `op` is the
    /// contract's operation id (`vpcs_create`, `registry_create`, …), `body` its request.
    /// Returns the status and the answer.
    pub fn console_create(&self, op: &str, body: Value) -> (u16, Value) {
        let reply = lock(&self.shared.state).handle(&Req {
            op,
            path: "",
            params: &Default::default(),
            query: &[],
            body,
            base_url: &self.shared.base_url,
        });
        let answer = match reply.body {
            Body::Json(v) => v,
            _ => Value::Null,
        };
        (reply.status, answer)
    }

    /// Pushes an image repository to the registry (`docker push`). False without a registry.
    pub fn console_push_repository(&self, repository: &str) -> bool {
        lock(&self.shared.state).console_push_repository(repository)
    }

    /// The registry's repositories.
    pub fn registry_repositories(&self) -> Vec<String> {
        lock(&self.shared.state)
            .registry
            .as_ref()
            .map(|r| r.repositories.clone())
            .unwrap_or_default()
    }

    /// Creates a load balancer owned by a cluster, as a new `Service` would; returns its id.
    pub fn console_add_load_balancer(&self, cluster_id: &str) -> Option<String> {
        let mut s = lock(&self.shared.state);
        let region = s
            .clusters
            .iter()
            .find(|c| c.id == cluster_id)?
            .region
            .clone();
        Some(s.add_load_balancer(cluster_id, &region))
    }

    /// Number of operations in the loaded contract.
    pub fn contract_operations(&self) -> usize {
        self.shared.contract.operation_count()
    }
}

/// Checks one request against the contract without a server: `method`, a concrete `path`
/// (`/v2/kubernetes/clusters/<id>/node_pools`) and the JSON body. Returns the problems found
/// (empty when the request is on contract).
pub fn check_request(method: &str, path: &str, body: &Value) -> Result<Vec<String>, SimError> {
    let c = contract::contract()?;
    let method = method.to_ascii_uppercase();
    let Some(m) = c.match_op(&method, path) else {
        return Ok(vec![format!(
            "{method} {path} is not an operation of the contract"
        )]);
    };
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    Ok(c.check_request(&m, Some("application/json"), &bytes))
}

/// Loads the contract and compiles every schema in it (request bodies, responses, parameters,
/// components); returns how many there are. Slow in debug builds: for one self-test, not per test.
pub fn compile_whole_contract() -> Result<usize, SimError> {
    let c = contract::contract()?;
    c.compile_all().map_err(|failed| SimError::Spec {
        path: spec_path(),
        detail: format!(
            "{} schemas do not compile: {}",
            failed.len(),
            failed.join("; ")
        ),
    })
}

impl Drop for DoSim {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        if !std::thread::panicking() {
            self.assert_contract_clean();
        }
    }
}

async fn serve_one(
    axum::extract::State(shared): axum::extract::State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (status, headers, body) = shared.process(method.as_str(), &uri, &headers, &body);
    let mut response = (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        body,
    )
        .into_response();
    for (k, v) in headers {
        if let (Ok(name), Ok(value)) = (
            axum::http::HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(&v),
        ) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

impl Shared {
    fn violation(&self, side: Side, method: &str, path: &str, op: Option<&str>, message: String) {
        lock(&self.violations).push(Violation {
            side,
            method: method.to_string(),
            path: path.to_string(),
            operation: op.map(str::to_string),
            message,
        });
    }

    fn process(
        &self,
        method: &str,
        uri: &Uri,
        headers: &HeaderMap,
        body: &[u8],
    ) -> (u16, Vec<(String, String)>, Vec<u8>) {
        let path = uri.path().to_string();
        let query: Vec<(String, String)> = Query::<Vec<(String, String)>>::try_from_uri(uri)
            .map(|q| q.0)
            .unwrap_or_default();
        let request_id = lock(&self.state).uuid();
        let matched = self.contract.match_op(method, &path);
        let op_id = matched.as_ref().map(|m| m.op.operation_id.clone());
        let mut extra_headers: Vec<(String, String)> = Vec::new();

        let reply = match &matched {
            None => {
                let (status, what) = if self.contract.path_known(&path) {
                    (405, "method not allowed")
                } else {
                    (404, "not found")
                };
                let message = format!(
                    "{method} {path} is not an operation of the DigitalOcean API contract ({what})"
                );
                self.violation(Side::Request, method, &path, None, message.clone());
                state::error(
                    status,
                    if status == 404 {
                        "not_found"
                    } else {
                        "method_not_allowed"
                    },
                    message,
                )
            }
            Some(m) => {
                let auth = headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                if auth != format!("Bearer {}", self.token) {
                    state::error(401, "Unauthorized", "Unable to authenticate you")
                } else {
                    let content_type = headers.get("content-type").and_then(|v| v.to_str().ok());
                    let mut problems = self.contract.check_params(m, &query);
                    problems.extend(self.contract.check_request(m, content_type, body));
                    if !problems.is_empty() {
                        let message = format!(
                            "request does not match the DigitalOcean API contract for {}: {}",
                            m.op.operation_id,
                            problems.join("; ")
                        );
                        self.violation(
                            Side::Request,
                            method,
                            &path,
                            op_id.as_deref(),
                            problems.join("; "),
                        );
                        state::error(422, "unprocessable_entity", message)
                    } else {
                        self.run(method, &path, m, &query, body, &mut extra_headers)
                    }
                }
            }
        };

        let status = reply.status;
        let (content_type, bytes, json) = match reply.body {
            Body::None => (None, Vec::new(), None),
            Body::Json(mut v) => {
                if status >= 400
                    && let Some(o) = v.as_object_mut()
                {
                    o.insert("request_id".into(), Value::String(request_id.clone()));
                }
                (
                    Some("application/json"),
                    serde_json::to_vec(&v).unwrap_or_default(),
                    Some(v),
                )
            }
            Body::Yaml(y) => (Some("application/yaml"), y.into_bytes(), None),
        };
        if let Some(m) = &matched {
            let problems = match (&json, content_type) {
                (None, Some(mt)) if !self.contract.declares_media(m, status, mt) => {
                    vec![format!("{mt} is not declared for status {status}")]
                }
                (None, Some(_)) => Vec::new(),
                _ => self
                    .contract
                    .check_response(m, status, content_type, json.as_ref()),
            };
            if !problems.is_empty() {
                self.violation(
                    Side::Response,
                    method,
                    &path,
                    op_id.as_deref(),
                    format!("status {status}: {}", problems.join("; ")),
                );
            }
        }

        let mut headers = vec![
            ("ratelimit-limit".to_string(), "5000".to_string()),
            ("x-request-id".to_string(), request_id),
        ];
        let served = {
            let mut log = lock(&self.log);
            log.push(RequestRecord {
                method: method.to_string(),
                path: path.clone(),
                query: uri.query().unwrap_or_default().to_string(),
                operation: op_id,
                status,
            });
            log.len()
        };
        if !extra_headers.iter().any(|(k, _)| k == "ratelimit-reset") {
            headers.push((
                "ratelimit-remaining".into(),
                5000usize.saturating_sub(served).to_string(),
            ));
            headers.push((
                "ratelimit-reset".into(),
                (state::unix_now() + 60).to_string(),
            ));
        }
        headers.extend(extra_headers);
        if let Some(ct) = content_type {
            headers.push(("content-type".into(), ct.to_string()));
        }
        (status, headers, bytes)
    }

    fn run(
        &self,
        method: &str,
        path: &str,
        m: &contract::Matched<'_>,
        query: &[(String, String)],
        body: &[u8],
        extra_headers: &mut Vec<(String, String)>,
    ) -> Reply {
        let fault = {
            let mut faults = lock(&self.faults);
            let hit = faults
                .iter()
                .position(|f| f.times > 0 && f.matches(method, path, Some(&m.op.template)));
            hit.map(|i| {
                let f = faults[i].clone();
                faults[i].times -= 1;
                if faults[i].times == 0 {
                    faults.remove(i);
                }
                f.kind
            })
        };
        match fault {
            Some(FaultKind::RateLimited { retry_after_secs }) => {
                extra_headers.push(("ratelimit-remaining".into(), "0".into()));
                extra_headers.push((
                    "ratelimit-reset".into(),
                    (state::unix_now() + retry_after_secs).to_string(),
                ));
                extra_headers.push(("retry-after".into(), retry_after_secs.to_string()));
                return state::error(429, "too_many_requests", "API Rate limit exceeded.");
            }
            Some(FaultKind::ServerError) => {
                return state::error(500, "server_error", "Unexpected server-side error");
            }
            Some(FaultKind::Rejected) => {
                return state::error(
                    422,
                    "unprocessable_entity",
                    "The request was refused: the account's limit for this resource is reached.",
                );
            }
            _ => {}
        }
        let parsed = serde_json::from_slice::<Value>(body).unwrap_or(Value::Null);
        let reply = lock(&self.state).handle(&Req {
            op: &m.op.operation_id,
            path,
            params: &m.path_params,
            query,
            body: parsed,
            base_url: &self.base_url,
        });
        if fault == Some(FaultKind::FailAfterCommit) && reply.status < 300 {
            return state::error(500, "server_error", "Unexpected server-side error");
        }
        reply
    }
}
