//! `ipai_kubeconfig` through the provider's gRPC service against a tiny DigitalOcean
//! stand-in: advertised as an ephemeral resource, opened with fresh credentials and a
//! renewal time, renewed, closed, and every failure a diagnostic on its attribute. (Open
//! for a workbench planned in the same run is covered through terraform in
//! acceptance-tests/tests/do_kubeconfig.rs.)

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::extract::{Path, Query, State};
use axum::{Router, routing::get};
use ipai_codegen::AttrPath;
use ipai_provider::config::ProviderConfig;
use ipai_provider::diagnostics::path_from_proto;
use ipai_provider::framework::register_ephemeral;
use ipai_provider::proto::tfplugin6 as pb;
use ipai_provider::resources::{kubeconfig::Kubeconfig, registry};
use ipai_provider::schema::Derived;
use ipai_provider::server::ProviderService;
use ipai_provider::value::{Type, Value, msgpack};
use pb::provider_server::Provider;
use serde_json::{Value as Json, json};
use tonic::Request;

const CA_PEM: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

/// The clusters the stand-in lists, and the `expiry_seconds` of every credentials request.
#[derive(Default)]
struct FakeDo {
    clusters: Mutex<Vec<Json>>,
    credential_requests: Mutex<Vec<(String, Option<String>)>>,
}

async fn list(State(s): State<Arc<FakeDo>>) -> axum::Json<Json> {
    let clusters = s.clusters.lock().unwrap().clone();
    axum::Json(
        json!({"kubernetes_clusters": clusters, "links": {}, "meta": {"total": clusters.len()}}),
    )
}

async fn credentials(
    State(s): State<Arc<FakeDo>>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> axum::Json<Json> {
    let mut seen = s.credential_requests.lock().unwrap();
    seen.push((id.clone(), q.get("expiry_seconds").cloned()));
    axum::Json(json!({
        "server": format!("https://{id}.k8s.example"),
        "certificate_authority_data": base64_encode(CA_PEM),
        "client_certificate_data": null,
        "client_key_data": null,
        "token": format!("secret-token-{}", seen.len()),
        "expires_at": "2030-01-01T00:00:00Z",
    }))
}

fn base64_encode(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

async fn fake_do() -> (Arc<FakeDo>, String) {
    let state = Arc::new(FakeDo::default());
    let app = Router::new()
        .route("/v2/kubernetes/clusters", get(list))
        .route("/v2/kubernetes/clusters/{id}/credentials", get(credentials))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (state, format!("http://{addr}"))
}

fn cluster(name: &str, workbench: &str, state: &str) -> Json {
    json!({
        "id": format!("id-{name}"),
        "name": name,
        "tags": [format!("ipai-workbench:{workbench}"), "k8s"],
        "status": {"state": state},
    })
}

fn ty() -> Type {
    register_ephemeral(Kubeconfig).schema().ty.clone()
}

fn dynamic(v: &Value, ty: &Type) -> Option<pb::DynamicValue> {
    Some(pb::DynamicValue {
        msgpack: msgpack::encode(v, ty).unwrap(),
        json: Vec::new(),
    })
}

fn config(json: Json) -> Option<pb::DynamicValue> {
    let ty = ty();
    dynamic(&Value::from_json(&json, &ty).unwrap(), &ty)
}

async fn service(out: &std::path::Path, do_endpoint: Option<&str>) -> ProviderService {
    let svc = ProviderService::new(registry());
    let schema = Derived::provider(
        &serde_json::to_value(schemars::schema_for!(ProviderConfig)).unwrap(),
        "",
    )
    .unwrap();
    let mut cfg = json!({"output_dir": out.display().to_string()});
    if let Some(e) = do_endpoint {
        cfg["api_endpoint"] = json!(e);
        cfg["digitalocean_token"] = json!("dop_v1_test");
    }
    let r = svc
        .configure_provider(Request::new(pb::configure_provider::Request {
            config: dynamic(&Value::from_json(&cfg, &schema.ty).unwrap(), &schema.ty),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
    svc
}

async fn open(
    svc: &ProviderService,
    cfg: Option<pb::DynamicValue>,
) -> pb::open_ephemeral_resource::Response {
    svc.open_ephemeral_resource(Request::new(pb::open_ephemeral_resource::Request {
        type_name: "ipai_kubeconfig".into(),
        config: cfg,
        ..Default::default()
    }))
    .await
    .unwrap()
    .into_inner()
}

fn result(r: &pb::open_ephemeral_resource::Response) -> Value {
    msgpack::decode(&r.result.as_ref().unwrap().msgpack, &ty()).unwrap()
}

fn string(v: &Value, attr: &str) -> String {
    match v.get_attr(attr) {
        Some(Value::String(s)) => s.clone(),
        other => panic!("{attr}: {other:?}"),
    }
}

fn only_error(d: &[pb::Diagnostic]) -> (&pb::Diagnostic, AttrPath) {
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0].severity, pb::diagnostic::Severity::Error as i32);
    (&d[0], path_from_proto(d[0].attribute.as_ref().unwrap()))
}

#[tokio::test]
async fn kubeconfig_is_advertised_as_an_ephemeral_resource_with_sensitive_secrets() {
    let svc = ProviderService::new(registry());
    let meta = svc
        .get_metadata(Request::new(pb::get_metadata::Request {}))
        .await
        .unwrap()
        .into_inner();
    let names: Vec<_> = meta
        .ephemeral_resources
        .iter()
        .map(|e| e.type_name.as_str())
        .collect();
    assert_eq!(names, ["ipai_kubeconfig"]);
    assert!(
        !meta
            .resources
            .iter()
            .any(|r| r.type_name == "ipai_kubeconfig")
    );

    let schema = svc
        .get_provider_schema(Request::new(pb::get_provider_schema::Request {}))
        .await
        .unwrap()
        .into_inner();
    let block = schema.ephemeral_resource_schemas["ipai_kubeconfig"]
        .block
        .clone()
        .unwrap();
    let attr = |n: &str| {
        block
            .attributes
            .iter()
            .find(|a| a.name == n)
            .unwrap()
            .clone()
    };
    assert!(attr("workbench").required);
    assert!(attr("cluster_name").optional && !attr("cluster_name").computed);
    assert!(attr("expiry_seconds").optional && attr("expiry_seconds").computed);
    for secret in ["raw_config", "token"] {
        assert!(attr(secret).sensitive && attr(secret).computed, "{secret}");
    }
    for plain in ["host", "cluster_ca_certificate", "expires_at"] {
        assert!(!attr(plain).sensitive && attr(plain).computed, "{plain}");
    }
}

#[tokio::test]
async fn open_fetches_fresh_credentials_renew_fetches_again_and_close_succeeds() {
    let (fake, endpoint) = fake_do().await;
    fake.clusters.lock().unwrap().extend([
        cluster("other-cluster", "other", "running"),
        cluster("wb-cluster", "wb", "running"),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let svc = service(dir.path(), Some(&endpoint)).await;

    let before = SystemTime::now();
    let r = open(
        &svc,
        config(json!({"workbench": "wb", "expiry_seconds": 600})),
    )
    .await;
    assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
    let v = result(&r);
    assert_eq!(string(&v, "host"), "https://id-wb-cluster.k8s.example");
    assert_eq!(string(&v, "cluster_ca_certificate"), CA_PEM);
    assert_eq!(string(&v, "token"), "secret-token-1");
    assert_eq!(string(&v, "expires_at"), "2030-01-01T00:00:00Z");
    let raw = string(&v, "raw_config");
    assert!(raw.contains("token: \"secret-token-1\""), "{raw}");
    assert!(
        raw.contains("server: \"https://id-wb-cluster.k8s.example\""),
        "{raw}"
    );
    assert!(raw.contains("current-context: \"wb-cluster\""), "{raw}");
    assert_eq!(
        fake.credential_requests.lock().unwrap().as_slice(),
        [("id-wb-cluster".to_owned(), Some("600".to_owned()))]
    );
    // Renewed a little before the 600 s credentials expire (a tenth of their lifetime).
    let renew_at = SystemTime::try_from(r.renew_at.unwrap()).unwrap();
    let ahead = renew_at.duration_since(before).unwrap();
    assert!(
        ahead > Duration::from_secs(530) && ahead <= Duration::from_secs(541),
        "{ahead:?}"
    );
    let private = r.private.clone().unwrap();
    assert!(
        !String::from_utf8_lossy(&private).contains("secret-token"),
        "private data holds no secret"
    );

    let renewed = svc
        .renew_ephemeral_resource(Request::new(pb::renew_ephemeral_resource::Request {
            type_name: "ipai_kubeconfig".into(),
            private: Some(private.clone()),
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(renewed.diagnostics.is_empty(), "{:?}", renewed.diagnostics);
    assert!(renewed.renew_at.is_some() && renewed.private.is_some());
    assert_eq!(fake.credential_requests.lock().unwrap().len(), 2);

    let closed = svc
        .close_ephemeral_resource(Request::new(pb::close_ephemeral_resource::Request {
            type_name: "ipai_kubeconfig".into(),
            private: renewed.private,
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(closed.diagnostics.is_empty(), "{:?}", closed.diagnostics);
}

#[tokio::test]
async fn a_missing_cluster_is_a_diagnostic_on_the_attribute_that_names_it() {
    let (fake, endpoint) = fake_do().await;
    // Right name, wrong workbench: not ours.
    fake.clusters
        .lock()
        .unwrap()
        .push(cluster("wb-cluster", "someone-else", "running"));
    let dir = tempfile::tempdir().unwrap();
    let svc = service(dir.path(), Some(&endpoint)).await;

    let r = open(&svc, config(json!({"workbench": "wb"}))).await;
    let (d, path) = only_error(&r.diagnostics);
    assert_eq!(d.summary, "Cluster not found");
    assert_eq!(path, AttrPath::attr("workbench"));
    assert!(r.result.is_none());

    let r = open(
        &svc,
        config(json!({"workbench": "wb", "cluster_name": "nope"})),
    )
    .await;
    let (_, path) = only_error(&r.diagnostics);
    assert_eq!(path, AttrPath::attr("cluster_name"));

    fake.clusters
        .lock()
        .unwrap()
        .push(cluster("wb-cluster", "wb", "provisioning"));
    let r = open(&svc, config(json!({"workbench": "wb"}))).await;
    let (d, path) = only_error(&r.diagnostics);
    assert_eq!(d.summary, "Cluster not ready");
    assert_eq!(path, AttrPath::attr("workbench"));
    assert!(fake.credential_requests.lock().unwrap().is_empty());
}

#[tokio::test]
async fn an_unknown_config_opens_as_unknown_without_calling_digitalocean() {
    let (fake, endpoint) = fake_do().await;
    let dir = tempfile::tempdir().unwrap();
    let svc = service(dir.path(), Some(&endpoint)).await;

    // The configuration is not known yet: every result is unknown.
    let ty = ty();
    let mut cfg = Value::from_json(&json!({}), &ty).unwrap();
    if let Value::Object(m) = &mut cfg {
        m.insert("workbench".into(), Value::Unknown);
    }
    let r = open(&svc, dynamic(&cfg, &ty)).await;
    assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
    assert_eq!(result(&r).get_attr("token"), Some(&Value::Unknown));
    assert!(r.renew_at.is_none() && r.private.is_none());

    assert!(fake.credential_requests.lock().unwrap().is_empty());
}

#[tokio::test]
async fn without_a_token_open_is_a_diagnostic_and_validate_checks_the_lifetime() {
    let dir = tempfile::tempdir().unwrap();
    let svc = service(dir.path(), None).await;
    if std::env::var_os("DIGITALOCEAN_TOKEN").is_none() {
        let r = open(&svc, config(json!({"workbench": "wb"}))).await;
        let (d, path) = only_error(&r.diagnostics);
        assert_eq!(d.summary, "DigitalOcean token missing");
        assert!(d.detail.contains("DIGITALOCEAN_TOKEN"), "{}", d.detail);
        assert_eq!(path, AttrPath::attr("workbench"));
    }

    let v = svc
        .validate_ephemeral_resource_config(Request::new(
            pb::validate_ephemeral_resource_config::Request {
                type_name: "ipai_kubeconfig".into(),
                config: config(json!({"workbench": "wb", "expiry_seconds": 30})),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let (_, path) = only_error(&v.diagnostics);
    assert_eq!(path, AttrPath::attr("expiry_seconds"));

    let r = svc
        .open_ephemeral_resource(Request::new(pb::open_ephemeral_resource::Request {
            type_name: "ipai_nope".into(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.diagnostics.len(), 1, "{:?}", r.diagnostics);
    assert_eq!(r.diagnostics[0].summary, "Unknown ephemeral resource type");
    assert!(
        r.diagnostics[0].detail.contains("ipai_kubeconfig"),
        "{}",
        r.diagnostics[0].detail
    );
}
