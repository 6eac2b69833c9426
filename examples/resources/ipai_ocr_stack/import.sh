# An OCR stack is imported as <workbench>/<name>; its manifests must already be under the
# provider's output_dir (<workbench>/kubernetes/ocr-<name>/). Unless the provider is
# files_only, its GPU node pool is found again by name on the workbench's cluster.
terraform import ipai_ocr_stack.paddle insightpulse/paddle
