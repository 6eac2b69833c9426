//! Tests of the DigitalOcean API simulator itself: contract enforcement, state machines, faults.

use std::time::Instant;

use ipai_acceptance_tests::do_sim::{DoSim, Fault, Side, SimOptions};
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

struct Api {
    sim: DoSim,
    http: Client,
}

impl Api {
    fn new(options: SimOptions) -> Api {
        Api {
            sim: DoSim::start(options).expect("simulator starts"),
            http: Client::new(),
        }
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let url = format!("{}{path}", self.sim.base_url());
        let mut req = self.http.request(method, url).bearer_auth(self.sim.token());
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request reaches the simulator");
        let status = resp.status();
        let text = resp.text().await.expect("body");
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, value)
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(body)).await
    }
}

fn pool_body(name: &str, size: &str, count: u64) -> Value {
    json!({"name": name, "size": size, "count": count})
}

fn cluster_body(name: &str, vpc: Option<&str>) -> Value {
    let mut b = json!({
        "name": name,
        "region": "sgp1",
        "version": "latest",
        "tags": ["ipai", "workbench:demo"],
        "node_pools": [{"name": "default", "size": "s-4vcpu-8gb", "count": 3, "auto_scale": true, "min_nodes": 3, "max_nodes": 5}],
    });
    if let Some(v) = vpc {
        b["vpc_uuid"] = json!(v);
    }
    b
}

#[tokio::test]
async fn a_vpc_without_name_is_rejected_and_recorded() {
    let api = Api::new(SimOptions::default());
    let (status, body) = api
        .post(
            "/v2/vpcs",
            json!({"region": "sgp1", "ip_range": "10.10.0.0/16"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["id"], "unprocessable_entity");
    assert!(body["message"].as_str().unwrap().contains("name"), "{body}");
    assert!(body["request_id"].is_string());
    let v = api.sim.take_violations();
    assert_eq!(v.len(), 1, "{v:?}");
    assert_eq!(v[0].side, Side::Request);
    assert_eq!(v[0].operation.as_deref(), Some("vpcs_create"));
    assert!(
        api.sim.vpcs().iter().all(|v| v["default"] == true),
        "nothing created"
    );

    let (status, body) = api
        .post(
            "/v2/vpcs",
            json!({"name": "wb-demo", "region": "sgp1", "ip_range": "10.10.0.0/16"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["vpc"]["ip_range"], "10.10.0.0/16");
    assert_eq!(
        body["vpc"]["urn"],
        format!("do:vpc:{}", body["vpc"]["id"].as_str().unwrap())
    );
    api.sim.assert_contract_clean();
}

#[tokio::test]
async fn off_contract_paths_types_and_content_types_are_violations() {
    let api = Api::new(SimOptions::default());
    let (status, _) = api.get("/v2/databases").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = api.call(Method::DELETE, "/v2/sizes", None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    let (status, _) = api.get("/v2/vpcs?per_page=500").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = api
        .post(
            "/v2/projects",
            json!({"name": "p", "purpose": "x", "environment": "Testing"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let url = format!("{}/v2/vpcs", api.sim.base_url());
    let resp = api
        .http
        .post(url)
        .bearer_auth(api.sim.token())
        .body(r#"{"name":"x","region":"sgp1"}"#)
        .header("content-type", "text/plain")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let v = api.sim.take_violations();
    assert_eq!(v.len(), 5, "{v:#?}");
    assert!(v.iter().all(|v| v.side == Side::Request));
}

#[test]
#[should_panic(expected = "DigitalOcean contract violation")]
fn dropping_a_simulator_with_violations_fails_the_test() {
    let sim = DoSim::start(SimOptions::default()).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let _ = Client::new()
            .post(format!("{}/v2/vpcs", sim.base_url()))
            .bearer_auth(sim.token())
            .json(&json!({"region": "sgp1"}))
            .send()
            .await
            .unwrap();
    });
    drop(sim);
}

#[tokio::test]
async fn a_bad_token_gets_401() {
    let api = Api::new(SimOptions::default());
    let resp = api
        .http
        .get(format!("{}/v2/account", api.sim.base_url()))
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["id"], "Unauthorized");
    let (status, body) = api.get("/v2/account").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["account"]["status"], "active");
    api.sim.assert_contract_clean();
}

#[tokio::test]
async fn lists_paginate_with_links_and_totals() {
    let api = Api::new(SimOptions::default());
    for i in 0..5 {
        let (s, b) = api
            .post("/v2/domains", json!({"name": format!("d{i}.example.com")}))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
    }
    let (_, first) = api.get("/v2/domains?per_page=2").await;
    assert_eq!(first["meta"]["total"], 5);
    assert_eq!(first["domains"].as_array().unwrap().len(), 2);
    let next = first["links"]["pages"]["next"].as_str().unwrap();
    assert!(next.starts_with(api.sim.base_url()), "{next}");
    assert!(first["links"]["pages"].get("prev").is_none());

    let mut seen = Vec::new();
    let mut url = Some(format!("{}/v2/domains?per_page=2", api.sim.base_url()));
    while let Some(u) = url {
        let page: Value = api
            .http
            .get(&u)
            .bearer_auth(api.sim.token())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for d in page["domains"].as_array().unwrap() {
            seen.push(d["name"].as_str().unwrap().to_string());
        }
        url = page["links"]["pages"]["next"].as_str().map(str::to_string);
    }
    assert_eq!(seen.len(), 5);
    assert_eq!(seen[4], "d4.example.com");

    let (_, last) = api.get("/v2/domains?per_page=2&page=3").await;
    assert_eq!(last["domains"].as_array().unwrap().len(), 1);
    assert!(last["links"]["pages"]["prev"].is_string());
    assert!(last["links"]["pages"].get("next").is_none());

    // Filters survive into the page links.
    let (_, recs) = api
        .get("/v2/domains/d0.example.com/records?type=NS&per_page=1")
        .await;
    assert_eq!(recs["meta"]["total"], 3);
    assert!(
        recs["links"]["pages"]["next"]
            .as_str()
            .unwrap()
            .contains("type=NS")
    );
    api.sim.assert_contract_clean();
}

#[tokio::test]
async fn overlapping_vpc_ranges_are_rejected() {
    let api = Api::new(SimOptions::default());
    let (s, _) = api
        .post(
            "/v2/vpcs",
            json!({"name": "a", "region": "sgp1", "ip_range": "10.20.0.0/16"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    for (range, what) in [
        ("10.20.128.0/20", "VPC a"),
        ("10.0.0.0/8", "VPC"),
        ("10.104.0.0/24", "default-sgp1"),
        ("10.244.0.0/16", "reserved"),
    ] {
        let (s, b) = api
            .post(
                "/v2/vpcs",
                json!({"name": "b", "region": "sgp1", "ip_range": range}),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{range}");
        let msg = b["message"].as_str().unwrap();
        assert!(
            msg.contains("overlap") || msg.contains("/16"),
            "{range}: {msg}"
        );
        if range != "10.0.0.0/8" {
            assert!(msg.contains(what), "{range}: {msg}");
        }
    }
    let (s, b) = api
        .post(
            "/v2/vpcs",
            json!({"name": "c", "region": "sgp1", "ip_range": "10.20.0.1/16"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    let (s, _) = api
        .post(
            "/v2/vpcs",
            json!({"name": "a", "region": "sgp1", "ip_range": "10.30.0.0/16"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "duplicate name");
    // Business-rule rejections are not contract violations.
    api.sim.assert_contract_clean();
}

#[tokio::test]
async fn a_cluster_provisions_then_runs_and_pools_resize_in_place() {
    let api = Api::new(SimOptions {
        provisioning_polls: 3,
        ..SimOptions::default()
    });
    let (_, vpc) = api
        .post(
            "/v2/vpcs",
            json!({"name": "wb", "region": "sgp1", "ip_range": "10.20.0.0/16"}),
        )
        .await;
    let vpc_id = vpc["vpc"]["id"].as_str().unwrap();
    let (s, c) = api
        .post(
            "/v2/kubernetes/clusters",
            cluster_body("wb-demo", Some(vpc_id)),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    let c = &c["kubernetes_cluster"];
    assert_eq!(c["status"]["state"], "provisioning");
    assert_eq!(c["version"], "1.33.1-do.0");
    assert_eq!(c["vpc_uuid"], vpc_id);
    let id = c["id"].as_str().unwrap().to_string();
    let path = format!("/v2/kubernetes/clusters/{id}");

    let mut states = Vec::new();
    for _ in 0..5 {
        let (_, c) = api.get(&path).await;
        states.push(
            c["kubernetes_cluster"]["status"]["state"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    assert_eq!(
        states,
        [
            "provisioning",
            "provisioning",
            "provisioning",
            "running",
            "running"
        ]
    );
    let (_, c) = api.get(&path).await;
    let c = &c["kubernetes_cluster"];
    assert!(c["endpoint"].as_str().unwrap().starts_with("https://"));
    let pool = &c["node_pools"][0];
    assert_eq!(pool["nodes"].as_array().unwrap().len(), 3);
    assert_eq!(pool["nodes"][0]["status"]["state"], "running");
    assert!(c["tags"].as_array().unwrap().contains(&json!("k8s")));

    // Resize in place: same cluster id, same pool id.
    let pool_id = pool["id"].as_str().unwrap();
    let pool_path = format!("{path}/node_pools/{pool_id}");
    let (s, p) = api
        .call(
            Method::PUT,
            &pool_path,
            Some(json!({"name": "default", "count": 4, "auto_scale": true, "min_nodes": 3, "max_nodes": 6})),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{p}");
    assert_eq!(p["node_pool"]["id"], pool_id);
    assert_eq!(p["node_pool"]["nodes"].as_array().unwrap().len(), 4);
    assert_eq!(p["node_pool"]["max_nodes"], 6);
    let (s, b) = api
        .call(
            Method::PUT,
            &pool_path,
            Some(json!({"name": "default", "count": 9, "auto_scale": true, "min_nodes": 3, "max_nodes": 6})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(b["message"].as_str().unwrap().contains("outside"), "{b}");

    // A GPU pool is a separate object.
    let (s, g) = api
        .post(
            &format!("{path}/node_pools"),
            pool_body("ocr-gpu", "gpu-l40sx1-48gb", 1),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{g}");
    let (_, pools) = api.get(&format!("{path}/node_pools")).await;
    assert_eq!(pools["node_pools"].as_array().unwrap().len(), 2);
    let (s, _) = api
        .call(
            Method::DELETE,
            &format!(
                "{path}/node_pools/{}",
                g["node_pool"]["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = api.call(Method::DELETE, &pool_path, None).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "last pool stays");

    // kubeconfig is YAML with a fresh token each time.
    let (s, k1) = api.get(&format!("{path}/kubeconfig")).await;
    assert_eq!(s, StatusCode::OK);
    let (_, k2) = api.get(&format!("{path}/kubeconfig")).await;
    assert!(k1.as_str().unwrap().contains("kind: Config"));
    assert_ne!(k1, k2);

    // The VPC cannot go while the cluster uses it.
    let (s, _) = api
        .call(Method::DELETE, &format!("/v2/vpcs/{vpc_id}"), None)
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // Delete: "deleting" for one read, then gone.
    let (s, _) = api.call(Method::DELETE, &path, None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, c) = api.get(&path).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(c["kubernetes_cluster"]["status"]["state"], "deleting");
    let (s, _) = api.get(&path).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    api.sim.assert_contract_clean();
}

#[tokio::test]
async fn cluster_rejects_unknown_region_size_version_and_twins() {
    let api = Api::new(SimOptions::default());
    let mut bad_region = cluster_body("x", None);
    bad_region["region"] = json!("mars1");
    let mut bad_size = cluster_body("x", None);
    bad_size["node_pools"][0]["size"] = json!("s-99vcpu");
    let mut bad_version = cluster_body("x", None);
    bad_version["version"] = json!("1.2");
    for body in [bad_region, bad_size, bad_version] {
        let (s, b) = api.post("/v2/kubernetes/clusters", body).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    }
    assert!(api.sim.clusters().is_empty());
    let (s, c) = api
        .post("/v2/kubernetes/clusters", cluster_body("x", None))
        .await;
    assert_eq!(s, StatusCode::CREATED);
    // Without vpc_uuid the cluster lands in the region's default VPC.
    let default_vpc = api
        .sim
        .vpcs()
        .into_iter()
        .find(|v| v["default"] == true)
        .unwrap();
    assert_eq!(c["kubernetes_cluster"]["vpc_uuid"], default_vpc["id"]);
    let (s, _) = api
        .post("/v2/kubernetes/clusters", cluster_body("x", None))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "names are unique");
    api.sim.assert_contract_clean();
}

#[tokio::test]
async fn destroy_with_associated_resources_removes_load_balancers_and_volumes() {
    let api = Api::new(SimOptions {
        provisioning_polls: 0,
        deletion_polls: 0,
        ..SimOptions::default()
    });
    let mut ids = Vec::new();
    for name in ["plain", "dangerous"] {
        let (_, c) = api
            .post("/v2/kubernetes/clusters", cluster_body(name, None))
            .await;
        let id = c["kubernetes_cluster"]["id"].as_str().unwrap().to_string();
        let (_, c) = api.get(&format!("/v2/kubernetes/clusters/{id}")).await;
        assert_eq!(c["kubernetes_cluster"]["status"]["state"], "running");
        ids.push(id);
    }
    assert_eq!(api.sim.load_balancers().len(), 2);
    assert_eq!(api.sim.volumes().len(), 2);
    let (_, lbs) = api.get("/v2/load_balancers").await;
    assert_eq!(lbs["meta"]["total"], 2);

    let (s, assoc) = api
        .get(&format!(
            "/v2/kubernetes/clusters/{}/destroy_with_associated_resources",
            ids[1]
        ))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(assoc["load_balancers"].as_array().unwrap().len(), 1);
    assert_eq!(assoc["volumes"].as_array().unwrap().len(), 1);

    // A plain delete orphans the cluster's load balancer and volume.
    let (s, _) = api
        .call(
            Method::DELETE,
            &format!("/v2/kubernetes/clusters/{}", ids[0]),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = api
        .call(
            Method::DELETE,
            &format!(
                "/v2/kubernetes/clusters/{}/destroy_with_associated_resources/dangerous",
                ids[1]
            ),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert!(api.sim.clusters().is_empty());
    let left = api.sim.leftovers();
    assert_eq!(left.len(), 2, "{left:?}");
    assert!(left.iter().all(|l| l.contains(&ids[0])), "{left:?}");

    // The orphaned load balancer can still be cleaned up through /v2/load_balancers.
    let lb = api.sim.load_balancers()[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (s, _) = api
        .call(Method::DELETE, &format!("/v2/load_balancers/{lb}"), None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert!(api.sim.load_balancers().is_empty());
    api.sim.assert_contract_clean();
}

#[tokio::test]
async fn rate_limits_and_server_errors_hit_the_next_matching_requests() {
    let api = Api::new(SimOptions::default());
    api.sim.inject(
        Fault::rate_limited("POST", "/v2/vpcs")
            .times(2)
            .retry_after(3),
    );
    api.sim
        .inject(Fault::server_error("GET", "/v2/vpcs/{vpc_id}"));
    let body = json!({"name": "wb", "region": "sgp1", "ip_range": "10.20.0.0/16"});

    let url = format!("{}/v2/vpcs", api.sim.base_url());
    let before = state_unix_now();
    let resp = api
        .http
        .post(&url)
        .bearer_auth(api.sim.token())
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(resp.headers()["retry-after"], "3");
    let reset: u64 = resp.headers()["ratelimit-reset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        reset >= before + 3 && reset <= before + 5,
        "{reset} vs {before}"
    );
    assert_eq!(resp.headers()["ratelimit-remaining"], "0");
    let (s, _) = api.post("/v2/vpcs", body.clone()).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        api.sim.vpcs().iter().all(|v| v["name"] != "wb"),
        "state untouched"
    );
    let (s, v) = api.post("/v2/vpcs", body).await;
    assert_eq!(s, StatusCode::CREATED);
    assert!(api.sim.pending_faults().len() == 1);

    let path = format!("/v2/vpcs/{}", v["vpc"]["id"].as_str().unwrap());
    let (s, e) = api.get(&path).await;
    assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(e["id"], "server_error");
    let (s, _) = api.get(&path).await;
    assert_eq!(s, StatusCode::OK);
    assert!(api.sim.pending_faults().is_empty());
    api.sim.assert_contract_clean();
}

fn state_unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test]
async fn a_create_that_fails_half_way_leaves_the_object_to_adopt() {
    let api = Api::new(SimOptions::default());
    api.sim
        .inject(Fault::fail_after_commit("POST", "/v2/kubernetes/clusters"));
    let (s, _) = api
        .post("/v2/kubernetes/clusters", cluster_body("wb-demo", None))
        .await;
    assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(api.sim.clusters().len(), 1, "the cluster exists anyway");
    // A blind retry cannot create a twin: the name is taken.
    let (s, _) = api
        .post("/v2/kubernetes/clusters", cluster_body("wb-demo", None))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    // Finding it by name is how a provider adopts it.
    let (_, list) = api.get("/v2/kubernetes/clusters").await;
    let found: Vec<&Value> = list["kubernetes_clusters"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["name"] == "wb-demo")
        .collect();
    assert_eq!(found.len(), 1);
    api.sim.assert_contract_clean();
}

#[tokio::test]
async fn slow_provisioning_holds_new_clusters_longer() {
    let api = Api::new(SimOptions {
        provisioning_polls: 0,
        ..SimOptions::default()
    });
    api.sim.set_provisioning_polls(6);
    let (_, c) = api
        .post("/v2/kubernetes/clusters", cluster_body("slow", None))
        .await;
    let path = format!(
        "/v2/kubernetes/clusters/{}",
        c["kubernetes_cluster"]["id"].as_str().unwrap()
    );
    let mut reads = 0;
    loop {
        reads += 1;
        let (_, c) = api.get(&path).await;
        if c["kubernetes_cluster"]["status"]["state"] == "running" {
            break;
        }
        assert!(reads < 20);
    }
    assert_eq!(reads, 7);
    api.sim.assert_contract_clean();
}

#[tokio::test]
async fn every_implemented_endpoint_answers_on_contract() {
    let api = Api::new(SimOptions {
        provisioning_polls: 0,
        ..SimOptions::default()
    });
    let started = Instant::now();
    for path in [
        "/v2/account",
        "/v2/regions",
        "/v2/sizes?per_page=200",
        "/v2/kubernetes/options",
        "/v2/projects",
        "/v2/projects/default",
        "/v2/projects/default/resources",
        "/v2/vpcs",
        "/v2/kubernetes/clusters",
        "/v2/firewalls",
        "/v2/domains",
        "/v2/uptime/checks",
        "/v2/load_balancers",
    ] {
        let (s, b) = api.get(path).await;
        assert_eq!(s, StatusCode::OK, "{path}: {b}");
    }
    let (_, sizes) = api.get("/v2/sizes?per_page=200").await;
    let slugs: Vec<&str> = sizes["sizes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["slug"].as_str().unwrap())
        .collect();
    for want in ["s-4vcpu-8gb", "gpu-h100x1-80gb", "gpu-l40sx1-48gb"] {
        assert!(slugs.contains(&want), "{want}");
    }
    let s48 = sizes["sizes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["slug"] == "s-4vcpu-8gb")
        .unwrap();
    assert_eq!(s48["price_monthly"], 48.0);
    let (_, regions) = api.get("/v2/regions?per_page=200").await;
    assert!(
        regions["regions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["slug"] == "sgp1")
    );

    // Project + resources.
    let (s, p) = api
        .post(
            "/v2/projects",
            json!({"name": "wb-demo", "purpose": "AI workbench", "environment": "Production"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{p}");
    let pid = p["project"]["id"].as_str().unwrap().to_string();
    let (_, vpc) = api
        .post(
            "/v2/vpcs",
            json!({"name": "wb", "region": "sgp1", "ip_range": "10.20.0.0/16"}),
        )
        .await;
    let vpc_id = vpc["vpc"]["id"].as_str().unwrap().to_string();
    let (_, c) = api
        .post("/v2/kubernetes/clusters", cluster_body("wb", Some(&vpc_id)))
        .await;
    let cid = c["kubernetes_cluster"]["id"].as_str().unwrap().to_string();
    let (s, a) = api
        .post(
            &format!("/v2/projects/{pid}/resources"),
            json!({"resources": [format!("do:vpc:{vpc_id}"), format!("do:kubernetes:{cid}"), "do:droplet:1"]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{a}");
    assert_eq!(a["resources"][2]["status"], "not_found");
    let (_, r) = api.get(&format!("/v2/projects/{pid}/resources")).await;
    assert_eq!(r["meta"]["total"], 2);
    let (s, _) = api
        .call(Method::DELETE, &format!("/v2/projects/{pid}"), None)
        .await;
    assert_eq!(
        s,
        StatusCode::PRECONDITION_FAILED,
        "project still has resources"
    );
    let (s, _) = api
        .call(
            Method::PATCH,
            &format!("/v2/projects/{pid}"),
            Some(json!({"description": "changed"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);

    // Cluster extras.
    for sub in [
        "",
        "/node_pools",
        "/credentials",
        "/destroy_with_associated_resources",
    ] {
        let (s, b) = api
            .get(&format!("/v2/kubernetes/clusters/{cid}{sub}"))
            .await;
        assert_eq!(s, StatusCode::OK, "{sub}: {b}");
    }
    let (s, b) = api
        .call(
            Method::PUT,
            &format!("/v2/kubernetes/clusters/{cid}"),
            Some(json!({"name": "wb", "tags": ["ipai"], "auto_upgrade": true})),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{b}");
    assert_eq!(b["kubernetes_cluster"]["auto_upgrade"], true);

    // Firewall.
    let fw = json!({
        "name": "wb-demo-fw",
        "tags": ["ipai"],
        "inbound_rules": [
            {"protocol": "tcp", "ports": "443", "sources": {"addresses": ["0.0.0.0/0", "::/0"]}},
            {"protocol": "tcp", "ports": "80", "sources": {"addresses": ["0.0.0.0/0", "::/0"]}}
        ],
        "outbound_rules": [
            {"protocol": "tcp", "ports": "5432", "destinations": {"addresses": ["0.0.0.0/0"]}}
        ]
    });
    let (s, f) = api.post("/v2/firewalls", fw).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{f}");
    let fid = f["firewall"]["id"].as_str().unwrap().to_string();
    let rule = json!({"outbound_rules": [{"protocol": "tcp", "ports": "6333", "destinations": {"addresses": ["0.0.0.0/0"]}}]});
    let (s, _) = api
        .post(&format!("/v2/firewalls/{fid}/rules"), rule.clone())
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, f) = api.get(&format!("/v2/firewalls/{fid}")).await;
    assert_eq!(f["firewall"]["outbound_rules"].as_array().unwrap().len(), 2);
    let (s, _) = api
        .call(
            Method::DELETE,
            &format!("/v2/firewalls/{fid}/rules"),
            Some(rule),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert!(api.sim.console_remove_firewall_rule(&fid, "443"));
    let (_, f) = api.get(&format!("/v2/firewalls/{fid}")).await;
    assert_eq!(f["firewall"]["inbound_rules"].as_array().unwrap().len(), 1);
    assert_eq!(f["firewall"]["outbound_rules"].as_array().unwrap().len(), 1);
    let (s, b) = api
        .post(
            "/v2/firewalls",
            json!({"name": "bad", "inbound_rules": [{"protocol": "tcp", "ports": "99999", "sources": {"addresses": ["0.0.0.0/0"]}}]}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");

    // Registry.
    let (s, _) = api.get("/v2/registry").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, r) = api
        .post(
            "/v2/registry",
            json!({"name": "wb-demo", "subscription_tier_slug": "basic", "region": "sgp1"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    let (s, _) = api
        .post(
            "/v2/registry",
            json!({"name": "other", "subscription_tier_slug": "basic"}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (s, sub) = api
        .post(
            "/v2/registry/subscription",
            json!({"tier_slug": "professional"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(sub["subscription"]["tier"]["monthly_price_in_cents"], 2000);
    let (s, _) = api.get("/v2/registry/subscription").await;
    assert_eq!(s, StatusCode::OK);

    // Domain records.
    let (s, _) = api
        .post("/v2/domains", json!({"name": "insightpulseai.net"}))
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, rec) = api
        .post(
            "/v2/domains/insightpulseai.net/records",
            json!({"type": "A", "name": "litellm.insightpulseai.net", "data": "164.92.64.10", "ttl": 300}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{rec}");
    assert_eq!(rec["domain_record"]["name"], "litellm");
    let rid = rec["domain_record"]["id"].as_i64().unwrap();
    let (_, found) = api
        .get("/v2/domains/insightpulseai.net/records?name=litellm.insightpulseai.net&type=A")
        .await;
    assert_eq!(found["meta"]["total"], 1);
    let (s, upd) = api
        .call(
            Method::PATCH,
            &format!("/v2/domains/insightpulseai.net/records/{rid}"),
            Some(json!({"type": "A", "data": "164.92.64.11"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{upd}");
    let (s, _) = api
        .post(
            "/v2/domains/insightpulseai.net/records",
            json!({"type": "A", "name": "n8n", "data": "not-an-ip"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);

    // Uptime check + alert.
    let (s, chk) = api
        .post(
            "/v2/uptime/checks",
            json!({"name": "wb-litellm", "method": "GET", "type": "https", "target": "https://litellm.insightpulseai.net/health", "regions": ["se_asia"], "enabled": true}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{chk}");
    let chk_id = chk["check"]["id"].as_str().unwrap().to_string();
    let (s, al) = api
        .post(
            &format!("/v2/uptime/checks/{chk_id}/alerts"),
            json!({"name": "down", "type": "down_global", "period": "2m", "notifications": {"email": ["oncall@insightpulseai.net"], "slack": []}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{al}");
    let (s, _) = api.get(&format!("/v2/uptime/checks/{chk_id}/alerts")).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = api.get(&format!("/v2/uptime/checks/{chk_id}/state")).await;
    assert_eq!(s, StatusCode::OK);

    // Unimplemented operations say so (and are on contract).
    let (s, _) = api.get("/v2/registry/options").await;
    assert_eq!(s, StatusCode::NOT_IMPLEMENTED);
    // Each request took well under a second, contract checks included.
    assert!(started.elapsed().as_secs() < 20);
    api.sim.assert_contract_clean();
}

#[test]
fn usable_from_sync_code_and_stops_on_drop() {
    let sim = DoSim::start(SimOptions::default()).unwrap();
    let url = sim.base_url().to_string();
    assert!(sim.contract_operations() > 150);
    drop(sim);
    let addr = url.trim_start_matches("http://");
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "listener closed"
    );
}

#[test]
fn starting_a_simulator_is_cheap_once_the_contract_is_loaded() {
    let t = Instant::now();
    let first = DoSim::start(SimOptions::default()).unwrap();
    let load = t.elapsed();
    let t = Instant::now();
    let second = DoSim::start(SimOptions::default()).unwrap();
    let again = t.elapsed();
    eprintln!("contract load + start: {load:?}; next start: {again:?}");
    assert!(again.as_millis() < 200, "{again:?}");
    drop((first, second));
}

#[test]
fn every_schema_of_the_contract_compiles() {
    let n = ipai_acceptance_tests::do_sim::compile_whole_contract().unwrap();
    assert!(n > 400, "{n} schemas");
}
