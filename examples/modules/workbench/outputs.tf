output "name" {
  description = "The workbench's name, for resources that reference it."
  value       = ipai_workbench.this.id
}

output "files" {
  description = "SHA-256 of every generated file, keyed by its path under the provider's output_dir."
  value       = ipai_workbench.this.files
}

output "monthly_cost_estimate" {
  description = "Estimated monthly DigitalOcean cost in US dollars."
  value       = ipai_workbench.this.monthly_cost_estimate
}
