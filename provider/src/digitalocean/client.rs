//! A small DigitalOcean API v2 client: bearer token, retries with jittered exponential
//! backoff on 429 and 5xx, pagination, request timeouts and the provider's user agent.
//!
//! The token lives in a [`Token`] whose `Debug` is redacted; it is only ever put in the
//! `Authorization` header, never in a URL, a log line or an error.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rand::Rng;
use reqwest::{Method, StatusCode, header::HeaderMap};
use serde_json::Value;

/// The public DigitalOcean API.
pub const DEFAULT_ENDPOINT: &str = "https://api.digitalocean.com";

/// Environment variables the token is read from when the provider config has none, in order.
pub const TOKEN_ENV_VARS: &[&str] = &["DIGITALOCEAN_TOKEN", "DIGITALOCEAN_ACCESS_TOKEN"];

/// `terraform-provider-ipai/<version>`, sent with every request.
pub const USER_AGENT: &str = concat!("terraform-provider-ipai/", env!("CARGO_PKG_VERSION"));

/// A DigitalOcean API token. Its `Debug` and `Display` never show the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// Wraps a token value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The configured token if set and not blank, otherwise the first of
    /// [`TOKEN_ENV_VARS`] that is set.
    pub fn resolve(configured: Option<&str>) -> Option<Token> {
        configured
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(Token::new)
            .or_else(|| {
                TOKEN_ENV_VARS.iter().find_map(|var| {
                    std::env::var(var)
                        .ok()
                        .map(|t| t.trim().to_owned())
                        .filter(|t| !t.is_empty())
                        .map(Token)
                })
            })
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// How the client talks to the API.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The token.
    pub token: Token,
    /// Base URL, without a trailing `/v2` (default [`DEFAULT_ENDPOINT`]).
    pub endpoint: String,
    /// Time limit of one request, including reading the response.
    pub request_timeout: Duration,
    /// Retries after the first attempt on 429, 5xx and transport errors.
    pub max_retries: u32,
    /// First backoff; it doubles with every retry, with full jitter.
    pub base_backoff: Duration,
    /// Longest single wait, also for a rate-limit reset far away.
    pub max_backoff: Duration,
}

impl ClientConfig {
    /// Defaults for `token`: the public endpoint, 60 s per request, 6 retries starting at
    /// 1 s and capped at 60 s.
    pub fn new(token: Token) -> Self {
        Self {
            token,
            endpoint: DEFAULT_ENDPOINT.to_owned(),
            request_timeout: Duration::from_secs(60),
            max_retries: 6,
            base_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
        }
    }
}

/// A failed API call. Carries no token: only the method, the path and what the API said.
#[derive(Debug, thiserror::Error)]
#[error("DigitalOcean API {method} {path}: {message}")]
pub struct ApiError {
    /// HTTP method.
    pub method: String,
    /// Path below the endpoint, e.g. `/v2/vpcs`.
    pub path: String,
    /// HTTP status, when a response came back.
    pub status: Option<u16>,
    /// DigitalOcean's error id (`not_found`, `unprocessable_entity`, ...), when given.
    pub id: Option<String>,
    /// What went wrong.
    pub message: String,
}

impl ApiError {
    /// The object does not exist.
    pub fn is_not_found(&self) -> bool {
        self.status == Some(404)
    }

    /// Worth trying again later: rate limited, a server error or no response at all.
    pub fn is_retryable(&self) -> bool {
        match self.status {
            None => true,
            Some(s) => s == 429 || s >= 500,
        }
    }
}

/// Whether a request may be repeated after a failure whose effect is unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Repeat {
    /// GET, PUT, PATCH, DELETE: repeating does no harm.
    Safe,
    /// POST creates: repeated only when the API certainly did not act (429). A 5xx or a
    /// lost response may have created the object, so the applier looks it up by name
    /// before trying again, instead of making a twin.
    OnlyIfRejected,
}

/// The DigitalOcean API client. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    cfg: ClientConfig,
}

impl Client {
    /// A client for `cfg`.
    pub fn new(cfg: ClientConfig) -> Result<Self, ApiError> {
        let http = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .timeout(cfg.request_timeout)
            .connect_timeout(cfg.request_timeout.min(Duration::from_secs(15)))
            .build()
            .map_err(|e| ApiError {
                method: String::new(),
                path: String::new(),
                status: None,
                id: None,
                message: format!("building the HTTP client: {}", e.without_url()),
            })?;
        let mut cfg = cfg;
        cfg.endpoint = cfg.endpoint.trim_end_matches('/').to_owned();
        Ok(Self { http, cfg })
    }

    /// The base URL requests go to.
    pub fn endpoint(&self) -> &str {
        &self.cfg.endpoint
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> Result<Value, ApiError> {
        self.call(Method::GET, path, None, Repeat::Safe).await
    }

    /// `GET path` of a non-JSON document (a kubeconfig), as text.
    pub async fn get_text(&self, path: &str) -> Result<String, ApiError> {
        match self.call(Method::GET, path, None, Repeat::Safe).await? {
            Value::String(s) => Ok(s),
            other => Ok(other.to_string()),
        }
    }

    /// `GET path`, `None` on 404.
    pub async fn get_opt(&self, path: &str) -> Result<Option<Value>, ApiError> {
        match self.get(path).await {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `POST path` with a JSON body (a create: see the retry rules of the module).
    pub async fn post(&self, path: &str, body: &Value) -> Result<Value, ApiError> {
        self.call(Method::POST, path, Some(body), Repeat::OnlyIfRejected)
            .await
    }

    /// `POST path` for an action that may safely be repeated (e.g. assigning resources).
    pub async fn post_idempotent(&self, path: &str, body: &Value) -> Result<Value, ApiError> {
        self.call(Method::POST, path, Some(body), Repeat::Safe)
            .await
    }

    /// `PUT path` with a JSON body.
    pub async fn put(&self, path: &str, body: &Value) -> Result<Value, ApiError> {
        self.call(Method::PUT, path, Some(body), Repeat::Safe).await
    }

    /// `PATCH path` with a JSON body.
    pub async fn patch(&self, path: &str, body: &Value) -> Result<Value, ApiError> {
        self.call(Method::PATCH, path, Some(body), Repeat::Safe)
            .await
    }

    /// `DELETE path`; a 404 counts as done (the object is gone either way).
    pub async fn delete(&self, path: &str) -> Result<(), ApiError> {
        match self.call(Method::DELETE, path, None, Repeat::Safe).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Every item of a paginated list: `key` of each page (`vpcs`, `kubernetes_clusters`,
    /// ...), following `links.pages.next` until there is none.
    pub async fn list(&self, path: &str, key: &str) -> Result<Vec<Value>, ApiError> {
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut next = Some(format!("{path}{sep}per_page=200"));
        let mut items = Vec::new();
        let mut pages = 0;
        while let Some(p) = next.take() {
            pages += 1;
            if pages > 1000 {
                return Err(self.error(
                    &Method::GET,
                    path,
                    None,
                    "more than 1000 pages; giving up",
                ));
            }
            let page = self.get(&p).await?;
            if let Some(arr) = page.get(key).and_then(Value::as_array) {
                items.extend(arr.iter().cloned());
            }
            next = match page.pointer("/links/pages/next").and_then(Value::as_str) {
                Some(url) => Some(self.relative(path, url)?),
                None => None,
            };
        }
        Ok(items)
    }

    /// The path of a `next` link. It must point at our endpoint: the token is never sent
    /// anywhere else.
    fn relative(&self, path: &str, url: &str) -> Result<String, ApiError> {
        if let Some(rest) = url.strip_prefix(&self.cfg.endpoint)
            && rest.starts_with('/')
        {
            return Ok(rest.to_owned());
        }
        if url.starts_with("/v2/") {
            return Ok(url.to_owned());
        }
        // The API answers with its public host even when we talk to a proxy or simulator
        // at another address; keep only its path and query.
        if let Some(after_scheme) = url.split_once("://").map(|(_, r)| r)
            && let Some(i) = after_scheme.find('/')
            && after_scheme[i..].starts_with("/v2/")
        {
            return Ok(after_scheme[i..].to_owned());
        }
        Err(self.error(
            &Method::GET,
            path,
            None,
            &format!("the next-page link {url:?} is not an API v2 URL"),
        ))
    }

    fn error(&self, method: &Method, path: &str, status: Option<u16>, message: &str) -> ApiError {
        ApiError {
            method: method.to_string(),
            path: path.to_owned(),
            status,
            id: None,
            message: message.to_owned(),
        }
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        repeat: Repeat,
    ) -> Result<Value, ApiError> {
        let url = format!("{}{}", self.cfg.endpoint, path);
        let mut attempt = 0u32;
        loop {
            let mut req = self
                .http
                .request(method.clone(), &url)
                .bearer_auth(&self.cfg.token.0);
            if let Some(b) = body {
                req = req.json(b);
            }
            let (err, wait_hint) = match req.send().await {
                Ok(resp) => {
                    let status = resp.status();
                    let headers = resp.headers().clone();
                    let text = resp.text().await.unwrap_or_default();
                    if status.is_success() {
                        if text.trim().is_empty() {
                            return Ok(Value::Null);
                        }
                        let is_json = headers
                            .get(reqwest::header::CONTENT_TYPE)
                            .and_then(|v| v.to_str().ok())
                            .is_none_or(|ct| ct.contains("json"));
                        if !is_json {
                            return Ok(Value::String(text));
                        }
                        return serde_json::from_str(&text).map_err(|e| {
                            self.error(
                                &method,
                                path,
                                Some(status.as_u16()),
                                &format!("the response is not JSON: {e}"),
                            )
                        });
                    }
                    let mut err = self.error(&method, path, Some(status.as_u16()), "");
                    let parsed: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                    err.id = parsed["id"].as_str().map(str::to_owned);
                    err.message = match parsed["message"].as_str() {
                        Some(m) => format!("{status}: {m}"),
                        None => status.to_string(),
                    };
                    let hint = if status == StatusCode::TOO_MANY_REQUESTS {
                        rate_limit_wait(&headers)
                    } else {
                        None
                    };
                    (err, hint)
                }
                Err(e) => {
                    let what = if e.is_timeout() {
                        format!("no response within {:?}", self.cfg.request_timeout)
                    } else if e.is_connect() {
                        format!("cannot connect to {}", self.cfg.endpoint)
                    } else {
                        e.without_url().to_string()
                    };
                    (self.error(&method, path, None, &what), None)
                }
            };
            let repeatable = match repeat {
                Repeat::Safe => err.is_retryable(),
                Repeat::OnlyIfRejected => err.status == Some(429),
            };
            if !repeatable || attempt >= self.cfg.max_retries {
                return Err(err);
            }
            let wait = wait_hint
                .unwrap_or_else(|| self.backoff(attempt))
                .min(self.cfg.max_backoff);
            tracing::info!(
                method = %method,
                path,
                status = ?err.status,
                attempt = attempt + 1,
                wait_ms = wait.as_millis() as u64,
                "DigitalOcean API call failed; retrying"
            );
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    /// Full jitter: a random wait between 0 and `base × 2^attempt` (capped).
    fn backoff(&self, attempt: u32) -> Duration {
        let cap = self
            .cfg
            .base_backoff
            .saturating_mul(1u32 << attempt.min(16))
            .min(self.cfg.max_backoff);
        let ms = cap.as_millis().max(1) as u64;
        Duration::from_millis(rand::rng().random_range(ms / 2..=ms))
    }
}

/// How long the API asks us to wait: `retry-after` (seconds), else until `ratelimit-reset`
/// (a Unix time), plus a little jitter so parallel runs do not return at the same instant.
fn rate_limit_wait(headers: &HeaderMap) -> Option<Duration> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
    };
    let secs = header("retry-after").or_else(|| {
        let reset = header("ratelimit-reset")?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .ok()?
            .as_secs_f64();
        Some((reset - now).max(0.0))
    })?;
    if !secs.is_finite() || secs < 0.0 {
        return None;
    }
    let jitter = rand::rng().random_range(0.0..0.25);
    Some(Duration::from_secs_f64(secs + jitter))
}
