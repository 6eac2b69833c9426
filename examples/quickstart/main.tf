# Offline quickstart: `bash scripts/quickstart.sh` builds the provider and applies this.
# Everything is written to ./generated (ignored by git); nothing reaches DigitalOcean
# (files_only) or a database (no database_url).
terraform {
  required_providers {
    ipai = {
      source = "insightpulseai/ipai"
    }
  }
}

provider "ipai" {
  output_dir = "${path.module}/generated"
  # Remove to create the workbench in DigitalOcean (token from DIGITALOCEAN_TOKEN).
  files_only = true
}

module "workbench" {
  source = "../modules/workbench"

  name        = "quickstart"
  environment = "dev"
  tags = {
    team = "platform"
  }
}

output "workbench" {
  value = module.workbench.name
}

output "monthly_cost_estimate" {
  value = module.workbench.monthly_cost_estimate
}

output "generated_files" {
  value = sort(keys(module.workbench.files))
}
