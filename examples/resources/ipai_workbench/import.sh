# A workbench is imported by its name; its files must already be under the provider's output_dir.
terraform import ipai_workbench.main insightpulse
