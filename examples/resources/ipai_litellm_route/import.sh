# A route is imported as <workbench>/<model_name>; its fragment must already be under the
# provider's output_dir (<workbench>/kubernetes/litellm/routes/<model_name>.yaml).
terraform import ipai_litellm_route.gpt_4o insightpulse/gpt-4o
