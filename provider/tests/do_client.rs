//! The DigitalOcean client against a tiny local server: retries and backoff, pagination,
//! timeouts, user agent, and a token that never leaks.

use std::sync::{
    Arc, Mutex,
    atomic::{AtomicUsize, Ordering},
};
use std::time::{Duration, Instant};

use axum::{
    Json, Router,
    extract::{Query, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
};
use ipai_provider::digitalocean::{Client, ClientConfig, Token};
use serde_json::{Value, json};

const TOKEN: &str = "dop_v1_supersecret";

#[derive(Default)]
struct Seen {
    calls: AtomicUsize,
    headers: Mutex<Vec<HeaderMap>>,
}

async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

fn client(endpoint: &str) -> Client {
    let mut cfg = ClientConfig::new(Token::new(TOKEN));
    cfg.endpoint = endpoint.to_owned();
    cfg.base_backoff = Duration::from_millis(5);
    cfg.max_backoff = Duration::from_millis(50);
    cfg.max_retries = 3;
    cfg.request_timeout = Duration::from_secs(5);
    Client::new(cfg).unwrap()
}

/// Answers with `statuses` in turn (then 200), counting calls and keeping headers.
fn flaky(seen: Arc<Seen>, statuses: Vec<(u16, Vec<(&'static str, String)>)>) -> Router {
    let statuses = Arc::new(statuses);
    let handler = move |State(seen): State<Arc<Seen>>, headers: HeaderMap| {
        let statuses = statuses.clone();
        async move {
            let n = seen.calls.fetch_add(1, Ordering::SeqCst);
            seen.headers.lock().unwrap().push(headers);
            match statuses.get(n) {
                Some((code, hdrs)) => {
                    let mut resp = (
                        StatusCode::from_u16(*code).unwrap(),
                        Json(json!({"id": "too_many_requests", "message": "slow down"})),
                    )
                        .into_response();
                    for (k, v) in hdrs {
                        resp.headers_mut().insert(*k, v.parse().unwrap());
                    }
                    resp
                }
                None => Json(json!({"account": {"status": "active"}})).into_response(),
            }
        }
    };
    Router::new()
        .route("/v2/account", get(handler.clone()).post(handler))
        .with_state(seen)
}

#[tokio::test]
async fn retries_429_honouring_retry_after_and_5xx_then_succeeds() {
    let seen = Arc::new(Seen::default());
    let base = serve(flaky(
        seen.clone(),
        vec![
            (429, vec![("retry-after", "0".into())]),
            (500, vec![]),
            (503, vec![]),
        ],
    ))
    .await;
    let v = client(&base).get("/v2/account").await.unwrap();
    assert_eq!(v["account"]["status"], "active");
    assert_eq!(seen.calls.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn waits_until_ratelimit_reset() {
    let seen = Arc::new(Seen::default());
    let reset = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 1;
    let base = serve(flaky(
        seen.clone(),
        vec![(429, vec![("ratelimit-reset", reset.to_string())])],
    ))
    .await;
    let mut cfg = ClientConfig::new(Token::new(TOKEN));
    cfg.endpoint = base;
    cfg.base_backoff = Duration::from_millis(1);
    cfg.max_backoff = Duration::from_secs(5);
    let start = Instant::now();
    Client::new(cfg).unwrap().get("/v2/account").await.unwrap();
    let waited = start.elapsed();
    assert_eq!(seen.calls.load(Ordering::SeqCst), 2);
    // The reset is up to one second away (whole seconds); a 1 ms backoff would be far less.
    assert!(waited >= Duration::from_millis(5), "waited only {waited:?}");
    assert!(waited < Duration::from_secs(3), "waited {waited:?}");
}

#[tokio::test]
async fn gives_up_after_max_retries_with_the_status() {
    let seen = Arc::new(Seen::default());
    let base = serve(flaky(seen.clone(), vec![(502, vec![]); 10])).await;
    let err = client(&base).get("/v2/account").await.unwrap_err();
    assert_eq!(err.status, Some(502));
    assert_eq!(seen.calls.load(Ordering::SeqCst), 4, "1 try + 3 retries");
}

#[tokio::test]
async fn create_is_not_repeated_after_a_server_error_but_is_after_429() {
    let seen = Arc::new(Seen::default());
    let base = serve(flaky(seen.clone(), vec![(500, vec![])])).await;
    let err = client(&base)
        .post("/v2/account", &json!({}))
        .await
        .unwrap_err();
    assert_eq!(err.status, Some(500));
    assert_eq!(
        seen.calls.load(Ordering::SeqCst),
        1,
        "a 500 may have created it"
    );

    let seen = Arc::new(Seen::default());
    let base = serve(flaky(
        seen.clone(),
        vec![(429, vec![("retry-after", "0".into())])],
    ))
    .await;
    client(&base).post("/v2/account", &json!({})).await.unwrap();
    assert_eq!(
        seen.calls.load(Ordering::SeqCst),
        2,
        "a 429 did nothing; send again"
    );
}

#[tokio::test]
async fn follows_pagination_links_even_when_they_name_the_public_host() {
    #[derive(serde::Deserialize)]
    struct Page {
        page: Option<usize>,
    }
    async fn vpcs(Query(q): Query<Page>) -> Json<Value> {
        let page = q.page.unwrap_or(1);
        let items: Vec<Value> = (0..2)
            .map(|i| json!({"name": format!("vpc-{page}-{i}")}))
            .collect();
        let mut body = json!({"vpcs": items, "links": {}, "meta": {"total": 6}});
        if page < 3 {
            body["links"] = json!({"pages": {
                "next": format!("https://api.digitalocean.com/v2/vpcs?page={}&per_page=2", page + 1)
            }});
        }
        Json(body)
    }
    let base = serve(Router::new().route("/v2/vpcs", get(vpcs))).await;
    let all = client(&base).list("/v2/vpcs", "vpcs").await.unwrap();
    let names: Vec<&str> = all.iter().map(|v| v["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "vpc-1-0", "vpc-1-1", "vpc-2-0", "vpc-2-1", "vpc-3-0", "vpc-3-1"
        ]
    );
}

#[tokio::test]
async fn a_slow_response_times_out() {
    async fn slow() -> Response {
        tokio::time::sleep(Duration::from_secs(3)).await;
        Json(json!({})).into_response()
    }
    let base = serve(Router::new().route("/v2/account", get(slow))).await;
    let mut cfg = ClientConfig::new(Token::new(TOKEN));
    cfg.endpoint = base;
    cfg.request_timeout = Duration::from_millis(200);
    cfg.max_retries = 1;
    cfg.base_backoff = Duration::from_millis(1);
    let start = Instant::now();
    let err = Client::new(cfg)
        .unwrap()
        .get("/v2/account")
        .await
        .unwrap_err();
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "took {:?}",
        start.elapsed()
    );
    assert_eq!(err.status, None);
    assert!(err.to_string().contains("no response within"), "{err}");
}

#[tokio::test]
async fn sends_token_and_user_agent_but_never_shows_the_token() {
    let seen = Arc::new(Seen::default());
    let base = serve(flaky(seen.clone(), vec![(401, vec![])])).await;
    let c = client(&base);
    let err = c.get("/v2/account").await.unwrap_err();
    let h = seen.headers.lock().unwrap()[0].clone();
    assert_eq!(h["authorization"], format!("Bearer {TOKEN}").as_str());
    assert!(
        h["user-agent"]
            .to_str()
            .unwrap()
            .starts_with("terraform-provider-ipai/")
    );
    for shown in [err.to_string(), format!("{err:?}"), format!("{c:?}")] {
        assert!(!shown.contains(TOKEN), "token leaked in {shown}");
    }
    assert_eq!(err.status, Some(401), "401 is not retried");
    assert_eq!(seen.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_configured_token_wins_and_blank_means_none() {
    assert_eq!(Token::resolve(Some(" abc ")), Some(Token::new("abc")));
    // Blank configured values fall through to the environment, which CI leaves unset.
    if std::env::var_os("DIGITALOCEAN_TOKEN").is_none()
        && std::env::var_os("DIGITALOCEAN_ACCESS_TOKEN").is_none()
    {
        assert_eq!(Token::resolve(Some("  ")), None);
    }
}
