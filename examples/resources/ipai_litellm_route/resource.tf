# gpt-4o served by OpenAI and an Azure deployment, falling back to Claude. The API keys
# live in the litellm-secrets Kubernetes Secret; the route only names them.
#
# ipai never writes secret values: create the gateway's Secrets yourself, once per cluster
# (or keep them as sealed/external secrets in your GitOps repository):
#
#   kubectl -n litellm create secret generic litellm-secrets \
#     --from-literal=LITELLM_MASTER_KEY="sk-..." \
#     --from-literal=REDIS_HOST=redis.internal --from-literal=REDIS_PORT=25061 \
#     --from-literal=REDIS_PASSWORD="..." \
#     --from-literal=OPENAI_API_KEY="..." --from-literal=AZURE_API_KEY="..." \
#     --from-literal=ANTHROPIC_API_KEY="..."
#   kubectl -n litellm create secret tls litellm-tls --cert=litellm.crt --key=litellm.key
resource "ipai_litellm_route" "gpt_4o" {
  workbench  = ipai_workbench.main.name
  model_name = "gpt-4o"

  targets = [
    {
      model       = "openai/gpt-4o"
      api_key_env = "OPENAI_API_KEY"
      weight      = 3
      rpm         = 500
    },
    {
      model       = "azure/gpt-4o"
      api_base    = "https://insightpulse-sg.openai.azure.com"
      api_key_env = "AZURE_API_KEY"
    },
  ]

  # A reference (not a literal name) makes Terraform create the fallback route first.
  fallbacks        = [ipai_litellm_route.claude.model_name]
  timeout          = 60
  routing_strategy = "usage-based-routing-v2"
}

resource "ipai_litellm_route" "claude" {
  workbench  = ipai_workbench.main.name
  model_name = "claude-sonnet"

  targets = [
    {
      model       = "anthropic/claude-sonnet-4-5"
      api_key_env = "ANTHROPIC_API_KEY"
    },
  ]
}
