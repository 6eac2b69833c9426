# An OCR stack is imported as <workbench>/<name>; its manifests must already be under the
# provider's output_dir (<workbench>/kubernetes/ocr-<name>/).
terraform import ipai_ocr_stack.paddle insightpulse/paddle
