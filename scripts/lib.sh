# Shared by the scripts: repository root, terraform and provider lookup, dev_overrides config.
# shellcheck shell=bash

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PROVIDER_SOURCE="insightpulseai/ipai"

# The terraform the acceptance harness would pick: $IPAI_TERRAFORM, PATH, then the launcher.
find_terraform() {
    if [ -n "${IPAI_TERRAFORM:-}" ]; then
        echo "$IPAI_TERRAFORM"
    elif command -v terraform >/dev/null; then
        command -v terraform
    elif [ -x "$REPO_ROOT/.venv/bin/terraform" ]; then
        echo "$REPO_ROOT/.venv/bin/terraform"
    else
        echo "no terraform found: run scripts/setup.sh" >&2
        return 1
    fi
}

# Builds the provider (debug, or release with "release") and prints the binary's path.
build_provider() {
    local profile=() dir=debug
    if [ "${1:-}" = release ]; then profile=(--release); dir=release; fi
    cargo build --quiet -p terraform-provider-ipai --bin terraform-provider-ipai "${profile[@]}" >&2
    local target
    target="$(cargo metadata --no-deps --format-version 1 |
        "$REPO_ROOT/.venv/bin/python" -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
    echo "$target/$dir/terraform-provider-ipai"
}

# Writes a CLI config whose dev_overrides point at the directory holding the provider binary
# and exports TF_CLI_CONFIG_FILE (plus the quiet-automation settings).
use_dev_override() {
    local provider_dir="$1" config
    config="$(mktemp -t ipai-terraformrc.XXXXXX)"
    cat >"$config" <<HCL
provider_installation {
  dev_overrides {
    "$PROVIDER_SOURCE" = "$provider_dir"
  }
  direct {}
}
HCL
    export TF_CLI_CONFIG_FILE="$config" TF_IN_AUTOMATION=1 CHECKPOINT_DISABLE=1
}
