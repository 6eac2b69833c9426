resource "ipai_workbench" "main" {
  name        = "insightpulse"
  region      = "sgp1"
  domain      = "insightpulseai.net"
  environment = "prod"

  tags = {
    team = "platform"
  }
}
