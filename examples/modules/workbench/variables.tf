variable "name" {
  description = "Workbench name: a DNS-1123 label (lowercase letters, digits, '-'; at most 63 characters)."
  type        = string
}

variable "region" {
  description = "DigitalOcean region slug."
  type        = string
  default     = "sgp1"
}

variable "domain" {
  description = "DNS domain the workbench's services are published under."
  type        = string
  default     = "insightpulseai.net"
}

variable "environment" {
  description = "Environment: dev, staging or prod."
  type        = string
  default     = "dev"
}

variable "tags" {
  description = "Labels and tags applied to everything the workbench creates."
  type        = map(string)
  default     = {}
}
