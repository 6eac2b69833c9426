# Fresh credentials of the workbench's DOKS cluster on every run (Terraform >= 1.10),
# never written to plan or state. Referencing ipai_workbench.main.name orders the
# credentials after the workbench; in the run that creates the cluster they are unknown
# at plan time and fetched during apply.
ephemeral "ipai_kubeconfig" "wb" {
  workbench      = ipai_workbench.main.name
  expiry_seconds = 3600
}

provider "kubernetes" {
  host                   = ephemeral.ipai_kubeconfig.wb.host
  cluster_ca_certificate = ephemeral.ipai_kubeconfig.wb.cluster_ca_certificate
  token                  = ephemeral.ipai_kubeconfig.wb.token
}

# helm provider >= 3 (`kubernetes` is an attribute there).
provider "helm" {
  kubernetes = {
    host                   = ephemeral.ipai_kubeconfig.wb.host
    cluster_ca_certificate = ephemeral.ipai_kubeconfig.wb.cluster_ca_certificate
    token                  = ephemeral.ipai_kubeconfig.wb.token
  }
}

# Or hand the whole kubeconfig to a child module as an ephemeral value:
# module "addons" {
#   source     = "./addons"
#   kubeconfig = ephemeral.ipai_kubeconfig.wb.raw_config # variable "kubeconfig" { ephemeral = true }
# }
