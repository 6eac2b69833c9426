//! `ipai_litellm_route`: one public model alias of the workbench's LiteLLM gateway.
//!
//! Every route of a workbench is merged into the gateway's single `config.yaml`; see
//! [`crate::kubernetes::litellm`].

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Routing strategies this project accepts for `routing_strategy`. Each is a name the
/// LiteLLM router validates (`litellm.router_utils.routing_groups.VALID_ROUTING_STRATEGIES`
/// in litellm 1.106.2); the test that loads the generated config checks it.
pub const ROUTING_STRATEGIES: &[&str] = &[
    "simple-shuffle",
    "least-busy",
    "usage-based-routing",
    "usage-based-routing-v2",
    "latency-based-routing",
    "cost-based-routing",
];

/// One public model name of the LiteLLM gateway and the deployments that serve it.
///
/// The gateway reads its keys from the Secret `litellm-secrets` and serves TLS with the
/// Secret `litellm-tls`, both in namespace `litellm`. You create both (`kubectl create
/// secret`, or a sealed/external secret in your GitOps repository): ipai never writes
/// secret values, only references to them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LitellmRouteSpec {
    /// Name of the `ipai_workbench` whose gateway serves this route.
    pub workbench: String,
    /// Public model name clients ask for (the LiteLLM model group), e.g. `gpt-4o`. Lowercase
    /// letters, digits, `-` and `.`; unique within the workbench.
    pub model_name: String,
    /// Deployments serving this model name; LiteLLM balances requests between them.
    pub targets: Vec<LitellmTarget>,
    /// Model names (of routes of the same workbench) tried in order when every target of
    /// this route fails. No cycles.
    #[serde(default)]
    pub fallbacks: Vec<String>,
    /// Seconds a request to one of this route's targets may take before it is abandoned.
    #[serde(default = "default_timeout")]
    pub timeout: i64,
    /// LiteLLM routing strategy of the gateway: `simple-shuffle`, `least-busy`,
    /// `usage-based-routing`, `usage-based-routing-v2`, `latency-based-routing` or
    /// `cost-based-routing`. The gateway has one strategy, so routes that set it must agree;
    /// unset means `simple-shuffle`.
    #[serde(default)]
    pub routing_strategy: Option<String>,
}

/// One deployment behind a route: a provider's model and how to reach it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LitellmTarget {
    /// The provider's model as `provider/model`, e.g. `openai/gpt-4o` or
    /// `anthropic/claude-sonnet-4-5`.
    pub model: String,
    /// Base URL of the provider's API, for self-hosted or regional endpoints
    /// (e.g. an Azure OpenAI resource). Must not embed credentials.
    #[serde(default)]
    pub api_base: Option<String>,
    /// Name of the environment variable holding the API key, e.g. `OPENAI_API_KEY`: a key of
    /// the `litellm-secrets` Kubernetes Secret. Never the key itself; the generated config
    /// only refers to it as `os.environ/NAME`.
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// Relative share of traffic for `simple-shuffle` routing (positive).
    #[serde(default = "default_weight")]
    pub weight: i64,
    /// Requests per minute this deployment may take; unset means no limit.
    #[serde(default)]
    pub rpm: Option<i64>,
    /// Tokens per minute this deployment may take; unset means no limit.
    #[serde(default)]
    pub tpm: Option<i64>,
}

/// Default request timeout in seconds.
pub fn default_timeout() -> i64 {
    120
}

/// Default target weight.
pub fn default_weight() -> i64 {
    1
}
