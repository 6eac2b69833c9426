//! The LiteLLM gateway of a workbench: one Deployment serving every `ipai_litellm_route`.
//!
//! The gateway is an aggregate. Each route writes a fragment (its spec) to
//! `<wb>/kubernetes/litellm/routes/<model_name>.yaml`; the gateway's manifests and its merged
//! `config.yaml` are recomputed by [`merge`] from every route present, so the CLI (which sees
//! the whole bundle) and the provider (which sees one route at a time) write the same bytes.
//! The fragments are not listed in the kustomization: they are inputs, not manifests.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::spec::litellm::{LitellmRouteSpec, ROUTING_STRATEGIES};
use crate::{AttrPath, Diagnostics, Error, Renderer, Result, names, sha256_hex};

/// Namespace of the gateway (the seed's).
pub const NAMESPACE: &str = "litellm";
/// Gateway image; the same LiteLLM version the generated config is tested against.
pub const IMAGE: &str = "ghcr.io/berriai/litellm:v1.106.2";
/// Secret (created by the platform team, never generated) holding the master key, the Redis
/// connection and every `api_key_env` of the routes.
pub const SECRET: &str = "litellm-secrets";
/// Port the gateway listens on.
pub const PORT: u16 = 4000;

/// Environment variables the gateway always reads from [`SECRET`].
const GATEWAY_ENV: &[&str] = &[
    "LITELLM_MASTER_KEY",
    "REDIS_HOST",
    "REDIS_PASSWORD",
    "REDIS_PORT",
];

/// Prefixes of provider API keys: a value starting with one is a key, not a variable name.
const KEY_PREFIXES: &[&str] = &[
    "sk-", "sk_", "sk-ant-", "AIza", "xai-", "gsk_", "hf_", "pplx-", "r8_", "nvapi-", "key-",
];

/// The gateway's files, relative to `<workbench>/`; each is rendered by the template of the
/// same name. They are aggregates ([`crate::aggregate`]): all exist, or none.
pub const GATEWAY_FILES: &[&str] = &[
    "kubernetes/litellm/configmap.yaml",
    "kubernetes/litellm/deployment.yaml",
    "kubernetes/litellm/service.yaml",
    "kubernetes/litellm/ingress.yaml",
    "kubernetes/litellm/hpa.yaml",
    "kubernetes/litellm/pdb.yaml",
    "kubernetes/litellm/kustomization.yaml",
];

/// Directory of the gateway's manifests, relative to `output_dir`.
pub fn dir(workbench: &str) -> String {
    format!("{workbench}/kubernetes/litellm")
}

/// Path of a route's fragment, relative to `output_dir`.
pub fn fragment_path(workbench: &str, model_name: &str) -> String {
    format!("{}/routes/{model_name}.yaml", dir(workbench))
}

/// The fragment a route writes: its spec as YAML, read back by [`parse_fragment`].
pub fn fragment(route: &LitellmRouteSpec) -> Result<(String, String)> {
    let text = serde_saphyr::to_string(route).map_err(|e| Error::Template {
        name: "litellm route fragment".into(),
        message: e.to_string(),
    })?;
    let header = format!(
        "# ipai_litellm_route {}/{}: merged into configmap.yaml by ipai; not a manifest.\n",
        route.workbench, route.model_name
    );
    Ok((
        fragment_path(&route.workbench, &route.model_name),
        header + &text,
    ))
}

/// Reads a fragment written by [`fragment`]; a hand-edited one that no longer parses is a
/// diagnostic naming the file.
pub fn parse_fragment(path: &str, text: &str) -> Result<LitellmRouteSpec, Diagnostics> {
    serde_saphyr::from_str(text).map_err(|e| {
        let mut d = Diagnostics::new();
        d.error(
            AttrPath::root(),
            "Unreadable LiteLLM route fragment",
            format!("{path}: {e}. Re-apply the route or delete the file."),
        );
        d
    })
}

/// Validates `route` against the other routes of its workbench (`others` must not contain
/// `route` itself); every fallback must be served by one of them. Paths are relative to
/// the route.
pub fn validate(route: &LitellmRouteSpec, others: &[LitellmRouteSpec]) -> Diagnostics {
    validate_with(route, others, UnknownFallbacks::Error)
}

/// Whether a fallback to a model name that none of the known routes serves is an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnknownFallbacks {
    /// Every route is known: the bundle, or the provider applying a route.
    Error,
    /// Routes may still be created in the same run (the provider planning a route, or
    /// checking it alone): only cycles among the known routes are errors.
    Allowed,
}

/// [`validate`], deciding how fallbacks to routes not (yet) known are treated.
pub fn validate_with(
    route: &LitellmRouteSpec,
    others: &[LitellmRouteSpec],
    unknown: UnknownFallbacks,
) -> Diagnostics {
    let mut d = Diagnostics::new();
    names::dns1123_label(&AttrPath::attr("workbench"), &route.workbench, &mut d);
    names::dns1123_subdomain(&AttrPath::attr("model_name"), &route.model_name, &mut d);
    let others: Vec<&LitellmRouteSpec> = others
        .iter()
        .filter(|o| o.workbench == route.workbench)
        .collect();
    if others.iter().any(|o| o.model_name == route.model_name) {
        d.error(
            AttrPath::attr("model_name"),
            "Duplicate model name",
            format!(
                "Another route of workbench {:?} already serves {:?}; a model name is routed once. \
                 Add a target to that route instead.",
                route.workbench, route.model_name
            ),
        );
    }
    validate_targets(route, &mut d);
    validate_fallbacks(route, &others, unknown, &mut d);
    if route.timeout <= 0 {
        d.error(
            AttrPath::attr("timeout"),
            "Invalid timeout",
            format!(
                "timeout is {}; it must be a positive number of seconds.",
                route.timeout
            ),
        );
    }
    if let Some(strategy) = &route.routing_strategy {
        if !ROUTING_STRATEGIES.contains(&strategy.as_str()) {
            d.error(
                AttrPath::attr("routing_strategy"),
                "Unknown routing strategy",
                format!(
                    "{strategy:?} is not a LiteLLM routing strategy; use one of {}.",
                    ROUTING_STRATEGIES.join(", ")
                ),
            );
        } else if let Some(other) = others
            .iter()
            .find(|o| o.routing_strategy.as_ref().is_some_and(|s| s != strategy))
        {
            d.error(
                AttrPath::attr("routing_strategy"),
                "Conflicting routing strategy",
                format!(
                    "The gateway has one routing strategy, and route {:?} sets {:?}. Set the same \
                     strategy on both routes, or leave it unset on one of them.",
                    other.model_name,
                    other.routing_strategy.as_deref().unwrap_or_default()
                ),
            );
        }
    }
    d
}

fn validate_targets(route: &LitellmRouteSpec, d: &mut Diagnostics) {
    if route.targets.is_empty() {
        d.error(
            AttrPath::attr("targets"),
            "No targets",
            "A route needs at least one target to send requests to.",
        );
    }
    let mut seen = BTreeMap::new();
    for (i, t) in route.targets.iter().enumerate() {
        let at = AttrPath::attr("targets").index(i);
        match t.model.split_once('/') {
            Some((provider, model)) if !provider.is_empty() && !model.is_empty() => {}
            _ => d.error(
                at.at("model"),
                "Invalid target model",
                format!(
                    "{:?} is not of the form provider/model (e.g. openai/gpt-4o); LiteLLM \
                     picks the provider from the prefix.",
                    t.model
                ),
            ),
        }
        if let Some(first) = seen.insert((t.model.as_str(), t.api_base.as_deref()), i) {
            d.error(
                at.clone(),
                "Duplicate target",
                format!(
                    "targets[{first}] already sends {:?} to the same api_base; LiteLLM would count \
                     it twice. Raise its weight instead.",
                    t.model
                ),
            );
        }
        if let Some(base) = &t.api_base {
            validate_api_base(&at.at("api_base"), base, d);
        }
        if let Some(env) = &t.api_key_env {
            validate_env_name(&at.at("api_key_env"), env, d);
        }
        if t.weight <= 0 {
            d.error(
                at.at("weight"),
                "Invalid weight",
                format!("weight is {}; it must be positive.", t.weight),
            );
        }
        for (name, v) in [("rpm", t.rpm), ("tpm", t.tpm)] {
            if let Some(v) = v.filter(|v| *v <= 0) {
                d.error(
                    at.at(name),
                    format!("Invalid {name}"),
                    format!("{name} is {v}; it must be positive, or unset for no limit."),
                );
            }
        }
    }
}

fn validate_api_base(path: &AttrPath, base: &str, d: &mut Diagnostics) {
    let Some(rest) = base
        .strip_prefix("https://")
        .or_else(|| base.strip_prefix("http://"))
    else {
        d.error(
            path.clone(),
            "Invalid api_base",
            format!("{base:?} must be an http:// or https:// URL."),
        );
        return;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let lower = base.to_ascii_lowercase();
    if authority.contains('@')
        || ["key=", "token=", "secret="]
            .iter()
            .any(|k| lower.contains(k))
    {
        d.error(
            path.clone(),
            "Credential in api_base",
            "api_base embeds a credential, which would be written into the generated config. \
             Put the key in the litellm-secrets Secret and name it in api_key_env.",
        );
    } else if authority.is_empty() || authority.contains(char::is_whitespace) {
        d.error(
            path.clone(),
            "Invalid api_base",
            format!("{base:?} has no host name."),
        );
    }
}

/// True for a C identifier in upper case: what a Secret key turned environment variable is.
fn is_env_name(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

fn validate_env_name(path: &AttrPath, env: &str, d: &mut Diagnostics) {
    if let Some(name) = env.strip_prefix("os.environ/") {
        d.error(
            path.clone(),
            "Invalid api_key_env",
            format!(
                "Give the variable name only ({name:?}); the os.environ/ reference is generated."
            ),
        );
    } else if KEY_PREFIXES.iter().any(|p| env.starts_with(p)) || looks_random(env) {
        // Never echo the value: it is probably a secret.
        d.error(
            path.clone(),
            "Literal API key in api_key_env",
            "api_key_env looks like an API key, not the name of an environment variable. Keys \
             never go into the spec: put it in the litellm-secrets Secret under a name such as \
             OPENAI_API_KEY and give that name here.",
        );
    } else if !is_env_name(env) {
        d.error(
            path.clone(),
            "Invalid api_key_env",
            format!(
                "{env:?} is not an environment variable name: use upper-case letters, digits \
                 and '_', not starting with a digit (e.g. OPENAI_API_KEY)."
            ),
        );
    }
}

/// Long mixed-case or digit-heavy strings are keys; variable names are short words.
fn looks_random(s: &str) -> bool {
    let lower = s.chars().filter(char::is_ascii_lowercase).count();
    let upper = s.chars().filter(char::is_ascii_uppercase).count();
    let digits = s.chars().filter(char::is_ascii_digit).count();
    s.len() >= 24 && !s.contains('_') && (lower > 0 && upper > 0 || digits >= 6)
}

fn validate_fallbacks(
    route: &LitellmRouteSpec,
    others: &[&LitellmRouteSpec],
    unknown: UnknownFallbacks,
    d: &mut Diagnostics,
) {
    let graph: BTreeMap<&str, &[String]> = others
        .iter()
        .map(|o| (o.model_name.as_str(), o.fallbacks.as_slice()))
        .chain([(route.model_name.as_str(), route.fallbacks.as_slice())])
        .collect();
    let mut seen = BTreeSet::new();
    for (i, fb) in route.fallbacks.iter().enumerate() {
        let at = AttrPath::attr("fallbacks").index(i);
        if !seen.insert(fb.as_str()) {
            d.error(
                at,
                "Duplicate fallback",
                format!("{fb:?} is listed twice; it would be tried twice."),
            );
        } else if fb == &route.model_name {
            d.error(
                at,
                "Cyclic fallback",
                format!("{fb:?} falls back to itself."),
            );
        } else if !graph.contains_key(fb.as_str()) {
            if unknown == UnknownFallbacks::Allowed {
                continue;
            }
            let known: Vec<&str> = graph.keys().copied().collect();
            d.error(
                at,
                "Unknown fallback",
                format!(
                    "No route of workbench {:?} serves {fb:?}; known model names: {}.",
                    route.workbench,
                    known.join(", ")
                ),
            );
        } else if let Some(cycle) = path_back(&graph, fb, &route.model_name) {
            d.error(
                at,
                "Cyclic fallback",
                format!(
                    "Falling back to {fb:?} leads back here: {} -> {}.",
                    route.model_name,
                    cycle.join(" -> ")
                ),
            );
        }
    }
}

/// The fallback chain from `from` to `to`, if there is one (depth first, deterministic).
fn path_back<'a>(
    graph: &BTreeMap<&'a str, &'a [String]>,
    from: &'a str,
    to: &str,
) -> Option<Vec<&'a str>> {
    fn walk<'a>(
        graph: &BTreeMap<&'a str, &'a [String]>,
        node: &'a str,
        to: &str,
        visited: &mut BTreeSet<&'a str>,
        path: &mut Vec<&'a str>,
    ) -> bool {
        path.push(node);
        if node == to {
            return true;
        }
        if visited.insert(node) {
            for next in graph.get(node).copied().unwrap_or_default() {
                if walk(graph, next, to, visited, path) {
                    return true;
                }
            }
        }
        path.pop();
        false
    }
    let mut path = Vec::new();
    walk(graph, from, to, &mut BTreeSet::new(), &mut path).then_some(path)
}

/// Validates every route of a set against the others (as the bundle sees them); the
/// diagnostics of route `i` are under `prefix[i]`.
pub fn validate_all(routes: &[LitellmRouteSpec], prefix: &AttrPath) -> Diagnostics {
    let mut d = Diagnostics::new();
    for (i, route) in routes.iter().enumerate() {
        let others: Vec<LitellmRouteSpec> = routes
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, r)| r.clone())
            .collect();
        d.extend(validate(route, &others).prefixed(&prefix.index(i)));
    }
    d
}

#[derive(Serialize)]
struct Deployment<'a> {
    model_name: &'a str,
    model: &'a str,
    api_base: Option<&'a str>,
    api_key_env: Option<&'a str>,
    weight: i64,
    rpm: Option<i64>,
    tpm: Option<i64>,
    timeout: i64,
}

#[derive(Serialize)]
struct Fallback<'a> {
    model_name: &'a str,
    to: &'a [String],
}

#[derive(Serialize)]
struct ConfigCtx<'a> {
    deployments: Vec<Deployment<'a>>,
    fallbacks: Vec<Fallback<'a>>,
    routing_strategy: &'a str,
}

#[derive(Serialize)]
struct GatewayCtx {
    namespace: &'static str,
    image: &'static str,
    secret: &'static str,
    port: u16,
    host: String,
    labels: BTreeMap<String, String>,
    selector: BTreeMap<String, String>,
    env: Vec<String>,
    config_block: String,
    config_checksum: String,
}

/// The gateway's files for a workbench, recomputed from all its routes: the merged
/// `config.yaml` ConfigMap, Deployment, Service, Ingress (`litellm.<domain>`), HPA, PDB and
/// kustomization. No routes means no gateway (an empty map). Fragments are not included.
pub fn merge(
    workbench: &str,
    domain: &str,
    routes: &[LitellmRouteSpec],
    r: &Renderer,
) -> Result<BTreeMap<String, String>> {
    let diags = validate_all(routes, &AttrPath::attr("litellm_routes"));
    if diags.has_errors() {
        return Err(Error::Invalid(diags));
    }
    let mut routes: Vec<&LitellmRouteSpec> =
        routes.iter().filter(|x| x.workbench == workbench).collect();
    if routes.is_empty() {
        return Ok(BTreeMap::new());
    }
    routes.sort_by(|a, b| a.model_name.cmp(&b.model_name));

    let config = r.render("kubernetes/litellm/config.yaml", &config_ctx(&routes))?;
    let env: BTreeSet<String> = GATEWAY_ENV
        .iter()
        .map(|s| (*s).to_owned())
        .chain(
            routes
                .iter()
                .flat_map(|x| &x.targets)
                .filter_map(|t| t.api_key_env.clone()),
        )
        .collect();
    let mut labels = super::labels(workbench, &BTreeMap::new(), "litellm", "gateway");
    labels.insert(
        "app.kubernetes.io/version".into(),
        IMAGE.rsplit(':').next().unwrap_or_default().to_owned(),
    );
    let selector = selector(&labels);
    let ctx = GatewayCtx {
        namespace: NAMESPACE,
        image: IMAGE,
        secret: SECRET,
        port: PORT,
        host: format!("litellm.{domain}"),
        labels,
        selector,
        env: env.into_iter().collect(),
        config_checksum: sha256_hex(config.as_bytes()),
        config_block: indent(&config, 4),
    };
    let mut files = BTreeMap::new();
    for rel in GATEWAY_FILES {
        files.insert(format!("{workbench}/{rel}"), r.render(rel, &ctx)?);
    }
    Ok(files)
}

/// The gateway aggregate: [`merge`] of every route fragment in `files` (a workbench's
/// files, keyed like [`crate::Expansion::files`]), for the domain in its `workbench.json`.
/// No fragment, no gateway.
pub fn gateway(
    workbench: &str,
    files: &BTreeMap<String, String>,
    r: &Renderer,
) -> Result<BTreeMap<String, String>> {
    let prefix = format!("{}/routes/", dir(workbench));
    let mut routes = Vec::new();
    let mut diags = Diagnostics::new();
    for (path, text) in files.range(prefix.clone()..) {
        let Some(name) = path.strip_prefix(&prefix) else {
            break;
        };
        let Some(stem) = name.strip_suffix(".yaml").filter(|s| !s.contains('/')) else {
            continue;
        };
        match parse_fragment(path, text) {
            Ok(route) if route.model_name == stem && route.workbench == workbench => {
                routes.push(route)
            }
            Ok(_) => diags.error(
                AttrPath::root(),
                "Misplaced LiteLLM route fragment",
                format!(
                    "{path} holds another route than its name says; it was moved or edited by \
                     hand. Delete it and re-apply the route."
                ),
            ),
            Err(d) => diags.extend(d),
        }
    }
    if diags.has_errors() {
        return Err(Error::Invalid(diags));
    }
    if routes.is_empty() {
        return Ok(BTreeMap::new());
    }
    let summary = crate::expand::workbench_summary_path(workbench);
    let domain = files
        .get(&summary)
        .and_then(|text| serde_json::from_str::<serde_json::Value>(text).ok())
        .and_then(|v| v["domain"].as_str().map(str::to_owned));
    let Some(domain) = domain else {
        let mut d = Diagnostics::new();
        d.error(
            AttrPath::attr("workbench"),
            "Unknown workbench",
            format!(
                "{summary} is missing or has no domain: the ipai_workbench {workbench:?} must be \
                 applied before its LiteLLM routes."
            ),
        );
        return Err(Error::Invalid(d));
    };
    merge(workbench, &domain, &routes, r)
}

fn config_ctx<'a>(routes: &[&'a LitellmRouteSpec]) -> ConfigCtx<'a> {
    let deployments = routes
        .iter()
        .flat_map(|route| {
            route.targets.iter().map(|t| Deployment {
                model_name: &route.model_name,
                model: &t.model,
                api_base: t.api_base.as_deref(),
                api_key_env: t.api_key_env.as_deref(),
                weight: t.weight,
                rpm: t.rpm,
                tpm: t.tpm,
                timeout: route.timeout,
            })
        })
        .collect();
    let fallbacks = routes
        .iter()
        .filter(|x| !x.fallbacks.is_empty())
        .map(|x| Fallback {
            model_name: &x.model_name,
            to: &x.fallbacks,
        })
        .collect();
    let routing_strategy = routes
        .iter()
        .find_map(|x| x.routing_strategy.as_deref())
        .unwrap_or("simple-shuffle");
    ConfigCtx {
        deployments,
        fallbacks,
        routing_strategy,
    }
}

/// The stable subset of `labels` a selector matches on: name, instance and component.
pub(crate) fn selector(labels: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    labels
        .iter()
        .filter(|(k, _)| {
            matches!(
                k.as_str(),
                "app.kubernetes.io/name"
                    | "app.kubernetes.io/instance"
                    | "app.kubernetes.io/component"
            )
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// `text` with every non-empty line indented by `n` spaces, for a YAML block scalar.
fn indent(text: &str, n: usize) -> String {
    let pad = " ".repeat(n);
    text.lines()
        .map(|l| {
            if l.is_empty() {
                String::new()
            } else {
                format!("{pad}{l}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(name: &str, fallbacks: &[&str]) -> LitellmRouteSpec {
        serde_json::from_value(serde_json::json!({
            "workbench": "wb",
            "model_name": name,
            "targets": [{"model": "openai/gpt-4o", "api_key_env": "OPENAI_API_KEY"}],
            "fallbacks": fallbacks,
        }))
        .unwrap()
    }

    #[test]
    fn planning_allows_fallbacks_to_routes_not_yet_created() {
        let a = route("a", &["b"]);
        assert!(validate(&a, &[]).has_errors());
        assert!(!validate_with(&a, &[], UnknownFallbacks::Allowed).has_errors());
        // A cycle among known routes is an error either way.
        let b = route("b", &["a"]);
        let d = validate_with(&a, &[b], UnknownFallbacks::Allowed);
        assert_eq!(d.0[0].summary, "Cyclic fallback");
    }

    #[test]
    fn routes_of_other_workbenches_are_ignored() {
        let mut other = route("b", &[]);
        other.workbench = "elsewhere".into();
        assert!(validate(&route("a", &["b"]), &[other]).has_errors());
    }
}
