# The seed's OCR service: PaddleOCR-VL-900M on one H100, behind the adapter at
# https://ocr.insightpulseai.net/v1/parse, accepting documents up to 64 MiB. Unless the
# provider is files_only, the H100 node pool (insightpulse-paddle-gpu) is added to the
# workbench's cluster; more replicas grow it in place, another node_size replaces it.
#
# ipai never writes secret values: create the Ingress's TLS Secret yourself (or let
# cert-manager issue it):
#
#   kubectl -n ocr create secret tls ocr-paddle-tls --cert=ocr.crt --key=ocr.key
resource "ipai_ocr_stack" "paddle" {
  workbench     = ipai_workbench.main.name
  name          = "paddle"
  image         = "registry.digitalocean.com/insightpulse/paddleocr-vl:1.0.0"
  adapter_image = "registry.digitalocean.com/insightpulse/ocr-adapter:1.0.0"

  gpu = {
    enabled   = true
    node_size = "gpu-h100x1-80gb"
    count     = 1
  }

  resources = {
    requests = { cpu = "2", memory = "8Gi" }
    limits   = { cpu = "4", memory = "16Gi" }
  }

  hostname      = "ocr.insightpulseai.net"
  max_body_size = "64Mi"
}
