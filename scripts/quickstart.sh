#!/usr/bin/env bash
# Offline quickstart: builds the provider, applies examples/quickstart with a dev_overrides
# CLI config and shows what was generated under examples/quickstart/generated.
# `bash scripts/quickstart.sh destroy` removes it all again.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"

bash scripts/setup.sh
echo "==> building the provider"
provider="$(build_provider)"
terraform="$(find_terraform)"
use_dev_override "$(dirname "$provider")"
trap 'rm -f "$TF_CLI_CONFIG_FILE"' EXIT

cd examples/quickstart
# `get` installs the local module; `init` is not needed with dev_overrides (and older
# Terraform versions would look the overridden provider up in the registry, failing offline).
echo "==> $terraform get"
"$terraform" get >/dev/null
if [ "${1:-}" = destroy ]; then
    "$terraform" destroy -auto-approve -input=false
    exit 0
fi
echo "==> $terraform apply"
"$terraform" apply -auto-approve -input=false

echo
echo "==> generated files (examples/quickstart/generated)"
(cd generated && find . -type f | sed 's|^\./||' | sort)
show() {
    local file="$1" lines="${2:-25}"
    [ -f "$file" ] || return 0
    echo
    echo "==> $file (first $lines lines)"
    head -n "$lines" "$file"
}
show generated/quickstart/workbench.json 20
first_manifest="$(find generated/quickstart/kubernetes -name '*.yaml' -path '*base*' 2>/dev/null | sort | head -n 1)"
[ -n "$first_manifest" ] && show "$first_manifest" 25
first_migration="$(find generated/quickstart/supabase -name '*.sql' 2>/dev/null | sort | head -n 1)"
[ -n "$first_migration" ] && show "$first_migration" 30
echo
echo "Run it again: the second apply changes nothing. Remove it all: bash scripts/quickstart.sh destroy"
