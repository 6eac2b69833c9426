variable "workbench" {
  description = "Name of the ipai_workbench the layers belong to."
  type        = string
}

variable "schema" {
  description = "PostgreSQL schema of the medallion domain."
  type        = string
  default     = "scout"
}

variable "allowed_categories" {
  description = "Product categories a validated transaction may carry."
  type        = list(string)
  default     = ["beverages", "snacks", "personal_care", "household", "tobacco"]
}

variable "deletion_protection" {
  description = "Refuse to destroy the layers while true."
  type        = bool
  default     = true
}

variable "force_destroy" {
  description = "Drop tables that still hold rows on destroy (needs deletion_protection = false)."
  type        = bool
  default     = false
}
