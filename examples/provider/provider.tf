terraform {
  required_providers {
    ipai = {
      source = "insightpulseai/ipai"
    }
  }
}

# Generated Kubernetes manifests, Supabase migrations and the workbench summary are
# written under output_dir, one sub-directory per workbench (commit it for GitOps).
provider "ipai" {
  output_dir = "${path.root}/generated"
  # Files only. Remove this to create the workbenches in DigitalOcean as well, with the
  # token from DIGITALOCEAN_TOKEN (or digitalocean_token = var.digitalocean_token).
  files_only = true
}
