terraform {
  required_providers {
    ipai = {
      source = "insightpulseai/ipai"
    }
  }
}
