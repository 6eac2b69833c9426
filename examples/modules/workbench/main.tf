# The whole AI workbench: cluster, network, registry, namespaces and metadata schema.
# Further resources of the stack (medallion layers, OCR, LiteLLM routes) reference
# ipai_workbench.this.name as their workbench.
resource "ipai_workbench" "this" {
  name        = var.name
  region      = var.region
  domain      = var.domain
  environment = var.environment
  tags        = var.tags
}
