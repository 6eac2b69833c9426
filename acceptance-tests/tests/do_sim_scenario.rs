//! A workbench's DigitalOcean side applied and destroyed against the simulator the way the
//! provider does it: retries on 429/5xx, adoption by name after a half-failed create, polling
//! until running, reverse-order destroy; nothing left, every exchange on contract.

use std::time::Duration;

use ipai_acceptance_tests::do_sim::{DoSim, Fault, SimOptions};
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

const SUBDOMAINS: [&str; 6] = ["litellm", "n8n", "ocr", "superset", "erp", "mcp"];

struct Do<'a> {
    sim: &'a DoSim,
    http: Client,
}

impl Do<'_> {
    /// One call with retries on 429 (honouring retry-after) and, except for a create, on 5xx:
    /// a create that answered 5xx may have happened, so [`Do::ensure`] looks before retrying.
    async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> (StatusCode, Value) {
        for attempt in 0..5 {
            let mut req = self
                .http
                .request(method.clone(), format!("{}{path}", self.sim.base_url()))
                .bearer_auth(self.sim.token());
            if let Some(b) = body {
                req = req.json(b);
            }
            let resp = req.send().await.expect("simulator reachable");
            let status = resp.status();
            let retry = status == StatusCode::TOO_MANY_REQUESTS
                || (status.is_server_error() && method != Method::POST);
            if retry {
                let wait = resp
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<u64>().ok())
                    .map(Duration::from_secs)
                    .unwrap_or(Duration::from_millis(20 << attempt));
                tokio::time::sleep(wait.min(Duration::from_secs(2))).await;
                continue;
            }
            let text = resp.text().await.unwrap_or_default();
            return (status, serde_json::from_str(&text).unwrap_or(Value::Null));
        }
        panic!("{method} {path}: still failing after retries");
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, None).await
    }

    async fn delete(&self, path: &str) -> StatusCode {
        self.call(Method::DELETE, path, None).await.0
    }

    /// Every item of a paginated list, following `links.pages.next`.
    async fn list_all(&self, path: &str, key: &str) -> Vec<Value> {
        let mut out = Vec::new();
        let mut next = Some(format!("{path}?per_page=2"));
        while let Some(p) = next {
            let (status, page) = self.get(&p).await;
            assert_eq!(status, StatusCode::OK, "{p}: {page}");
            out.extend(page[key].as_array().cloned().unwrap_or_default());
            next = page["links"]["pages"]["next"]
                .as_str()
                .map(|u| u.trim_start_matches(self.sim.base_url()).to_string());
        }
        out
    }

    /// Find by name, else create; after a 5xx on the create, adopt what it left behind.
    async fn ensure(&self, list: &str, key: &str, name: &str, create: Value, one: &str) -> Value {
        for _ in 0..3 {
            if let Some(found) = self.find(list, key, name).await {
                return found;
            }
            let (status, body) = self.call(Method::POST, list, Some(&create)).await;
            match status {
                StatusCode::CREATED | StatusCode::ACCEPTED => return body[one].clone(),
                s if s.is_server_error() => continue,
                other => panic!("{list}: {other} {body}"),
            }
        }
        panic!("{list}: could not create {name}");
    }

    async fn find(&self, list: &str, key: &str, name: &str) -> Option<Value> {
        let all = self.list_all(list, key).await;
        let matches: Vec<Value> = all.into_iter().filter(|o| o["name"] == name).collect();
        assert!(matches.len() <= 1, "twins of {name} in {list}");
        matches.into_iter().next()
    }

    async fn wait_running(&self, cluster_id: &str) -> Value {
        for _ in 0..50 {
            let (_, c) = self
                .get(&format!("/v2/kubernetes/clusters/{cluster_id}"))
                .await;
            if c["kubernetes_cluster"]["status"]["state"] == "running" {
                return c["kubernetes_cluster"].clone();
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("cluster {cluster_id} never ran");
    }

    async fn wait_gone(&self, path: &str) {
        for _ in 0..50 {
            if self.get(path).await.0 == StatusCode::NOT_FOUND {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("{path} never went away");
    }
}

struct Applied {
    project: String,
    vpc: String,
    cluster: String,
    firewall: String,
    checks: Vec<String>,
    records: Vec<i64>,
}

async fn apply(d: &Do<'_>, name: &str, domain: &str) -> Applied {
    // Plan-time checks: region and sizes exist, cost from list prices.
    let regions = d.list_all("/v2/regions", "regions").await;
    assert!(regions.iter().any(|r| r["slug"] == "sgp1"));
    let sizes = d.list_all("/v2/sizes", "sizes").await;
    let price = |slug: &str| {
        sizes
            .iter()
            .find(|s| s["slug"] == slug)
            .and_then(|s| s["price_monthly"].as_f64())
            .unwrap_or_else(|| panic!("size {slug}"))
    };
    let monthly = 3.0 * price("s-4vcpu-8gb") + price("gpu-l40sx1-48gb");
    assert!((monthly - (3.0 * 48.0 + 1171.74)).abs() < 0.01, "{monthly}");

    let project = d
        .ensure(
            "/v2/projects",
            "projects",
            name,
            json!({"name": name, "purpose": "AI workbench", "environment": "Production"}),
            "project",
        )
        .await;
    let vpc = d
        .ensure(
            "/v2/vpcs",
            "vpcs",
            name,
            json!({"name": name, "region": "sgp1", "ip_range": "10.20.0.0/16"}),
            "vpc",
        )
        .await;
    let cluster = d
        .ensure(
            "/v2/kubernetes/clusters",
            "kubernetes_clusters",
            name,
            json!({
                "name": name, "region": "sgp1", "version": "latest", "vpc_uuid": vpc["id"],
                "tags": ["ipai", format!("ipai:{name}")],
                "node_pools": [{"name": "default", "size": "s-4vcpu-8gb", "count": 3,
                                "auto_scale": true, "min_nodes": 3, "max_nodes": 5}]
            }),
            "kubernetes_cluster",
        )
        .await;
    let cluster_id = cluster["id"].as_str().unwrap().to_string();
    let running = d.wait_running(&cluster_id).await;
    let (status, gpu) = d
        .call(
            Method::POST,
            &format!("/v2/kubernetes/clusters/{cluster_id}/node_pools"),
            Some(&json!({"name": "ocr-gpu", "size": "gpu-l40sx1-48gb", "count": 1,
                         "taints": [{"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{gpu}");
    assert_eq!(running["node_pools"].as_array().unwrap().len(), 1);

    let any = json!({"addresses": ["0.0.0.0/0", "::/0"]});
    let inbound: Vec<Value> = ["443", "80"]
        .iter()
        .map(|p| json!({"protocol": "tcp", "ports": p, "sources": any}))
        .collect();
    let outbound: Vec<Value> = ["443", "5432", "6543", "6333", "6379", "25061"]
        .iter()
        .map(|p| json!({"protocol": "tcp", "ports": p, "destinations": any}))
        .collect();
    let firewall = d
        .ensure(
            "/v2/firewalls",
            "firewalls",
            name,
            json!({"name": name, "tags": [format!("k8s:{cluster_id}")],
                   "inbound_rules": inbound, "outbound_rules": outbound}),
            "firewall",
        )
        .await;

    let (status, _) = d.get("/v2/registry").await;
    if status == StatusCode::NOT_FOUND {
        let (status, r) = d
            .call(
                Method::POST,
                "/v2/registry",
                Some(&json!({"name": name, "subscription_tier_slug": "basic", "region": "sgp1"})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{r}");
    }

    let (status, _) = d.get(&format!("/v2/domains/{domain}")).await;
    if status == StatusCode::NOT_FOUND {
        let (status, body) = d
            .call(Method::POST, "/v2/domains", Some(&json!({"name": domain})))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let mut records = Vec::new();
    for sub in SUBDOMAINS {
        let (status, r) = d
            .call(
                Method::POST,
                &format!("/v2/domains/{domain}/records"),
                Some(&json!({"type": "A", "name": sub, "data": "164.92.64.10", "ttl": 300})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{r}");
        records.push(r["domain_record"]["id"].as_i64().unwrap());
    }

    let mut checks = Vec::new();
    for sub in ["litellm", "ocr"] {
        let check = d
            .ensure(
                "/v2/uptime/checks",
                "checks",
                &format!("{name}-{sub}"),
                json!({"name": format!("{name}-{sub}"), "method": "GET", "type": "https",
                       "target": format!("https://{sub}.{domain}/health"),
                       "regions": ["se_asia", "us_east"], "enabled": true}),
                "check",
            )
            .await;
        let id = check["id"].as_str().unwrap().to_string();
        let (status, a) = d
            .call(
                Method::POST,
                &format!("/v2/uptime/checks/{id}/alerts"),
                Some(&json!({"name": format!("{sub} down"), "type": "down_global", "period": "2m",
                             "notifications": {"email": ["oncall@insightpulseai.net"], "slack": []}})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{a}");
        checks.push(id);
    }

    let project_id = project["id"].as_str().unwrap().to_string();
    let (status, assigned) = d
        .call(
            Method::POST,
            &format!("/v2/projects/{project_id}/resources"),
            Some(&json!({"resources": [
                format!("do:vpc:{}", vpc["id"].as_str().unwrap()),
                format!("do:kubernetes:{cluster_id}"),
                format!("do:domain:{domain}"),
            ]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{assigned}");

    Applied {
        project: project_id,
        vpc: vpc["id"].as_str().unwrap().to_string(),
        cluster: cluster_id,
        firewall: firewall["id"].as_str().unwrap().to_string(),
        checks,
        records,
    }
}

async fn destroy(d: &Do<'_>, a: &Applied, domain: &str) {
    for id in &a.checks {
        for alert in d
            .list_all(&format!("/v2/uptime/checks/{id}/alerts"), "alerts")
            .await
        {
            let path = format!(
                "/v2/uptime/checks/{id}/alerts/{}",
                alert["id"].as_str().unwrap()
            );
            assert_eq!(d.delete(&path).await, StatusCode::NO_CONTENT);
        }
        assert_eq!(
            d.delete(&format!("/v2/uptime/checks/{id}")).await,
            StatusCode::NO_CONTENT
        );
    }
    for id in &a.records {
        let status = d
            .delete(&format!("/v2/domains/{domain}/records/{id}"))
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
    }
    assert_eq!(
        d.delete(&format!("/v2/domains/{domain}")).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(d.delete("/v2/registry").await, StatusCode::NO_CONTENT);
    assert_eq!(
        d.delete(&format!("/v2/firewalls/{}", a.firewall)).await,
        StatusCode::NO_CONTENT
    );
    let cluster = format!("/v2/kubernetes/clusters/{}", a.cluster);
    let (_, assoc) = d
        .get(&format!("{cluster}/destroy_with_associated_resources"))
        .await;
    assert!(!assoc["load_balancers"].as_array().unwrap().is_empty());
    let status = d
        .delete(&format!(
            "{cluster}/destroy_with_associated_resources/dangerous"
        ))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    d.wait_gone(&cluster).await;
    assert_eq!(
        d.delete(&format!("/v2/vpcs/{}", a.vpc)).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        d.delete(&format!("/v2/projects/{}", a.project)).await,
        StatusCode::NO_CONTENT
    );
}

#[tokio::test]
async fn a_workbench_applies_and_destroys_without_leftovers() {
    let sim = DoSim::start(SimOptions::default()).unwrap();
    let d = Do {
        sim: &sim,
        http: Client::new(),
    };
    let applied = apply(&d, "wb-demo", "insightpulseai.net").await;

    assert_eq!(sim.clusters().len(), 1);
    assert_eq!(sim.clusters()[0]["node_pools"].as_array().unwrap().len(), 2);
    assert_eq!(
        sim.firewalls()[0]["outbound_rules"]
            .as_array()
            .unwrap()
            .len(),
        6
    );
    assert_eq!(
        sim.domain_records("insightpulseai.net").len(),
        4 + SUBDOMAINS.len()
    );
    assert_eq!(sim.uptime_checks().len(), 2);
    assert_eq!(sim.project_resources(Some(&applied.project)).len(), 3);
    assert!(sim.leftovers().len() > 8, "{:?}", sim.leftovers());

    // A second apply finds the named objects again instead of creating them.
    for (list, key, id) in [
        ("/v2/projects", "projects", &applied.project),
        ("/v2/vpcs", "vpcs", &applied.vpc),
        (
            "/v2/kubernetes/clusters",
            "kubernetes_clusters",
            &applied.cluster,
        ),
        ("/v2/firewalls", "firewalls", &applied.firewall),
    ] {
        let found = d.find(list, key, "wb-demo").await.unwrap();
        assert_eq!(found["id"], id.as_str());
    }

    destroy(&d, &applied, "insightpulseai.net").await;
    assert_eq!(sim.leftovers(), Vec::<String>::new());
    sim.assert_contract_clean();
}

#[tokio::test]
async fn faults_during_apply_are_retried_and_half_created_objects_adopted() {
    let sim = DoSim::start(SimOptions {
        provisioning_polls: 4,
        ..SimOptions::default()
    })
    .unwrap();
    sim.inject(
        Fault::rate_limited("POST", "/v2/vpcs")
            .times(2)
            .retry_after(1),
    );
    sim.inject(Fault::server_error("GET", "/v2/kubernetes/clusters/{cluster_id}").times(2));
    sim.inject(Fault::fail_after_commit("POST", "/v2/kubernetes/clusters"));
    sim.inject(Fault::fail_after_commit("POST", "/v2/firewalls"));
    let d = Do {
        sim: &sim,
        http: Client::new(),
    };
    let applied = apply(&d, "wb-faulty", "faulty.example.com").await;
    assert!(
        sim.pending_faults().is_empty(),
        "{:?}",
        sim.pending_faults()
    );
    assert_eq!(sim.clusters().len(), 1, "no twin cluster");
    assert_eq!(sim.firewalls().len(), 1, "no twin firewall");
    assert_eq!(sim.clusters()[0]["id"], applied.cluster.as_str());
    let statuses: Vec<u16> = sim.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 2);
    assert_eq!(statuses.iter().filter(|s| **s == 500).count(), 4);

    destroy(&d, &applied, "faulty.example.com").await;
    assert_eq!(sim.leftovers(), Vec::<String>::new());
    sim.assert_contract_clean();
}
