#!/usr/bin/env bash
# The full test suite (what CI runs): formatting, lints, docs freshness, every test including
# the acceptance tests that drive the real terraform CLI. Prints a summary; exits non-zero on
# any failure.
set -uo pipefail
cd "$(dirname "$0")/.."

# CI builds from scratch once: incremental compilation only costs time there.
[ -n "${CI:-}" ] && export CARGO_INCREMENTAL=0

names=() results=() times=()
step() {
    local name="$1"; shift
    printf '\n==> %s\n' "$name"
    local start=$SECONDS
    if "$@"; then results+=(ok); else results+=(FAILED); fi
    names+=("$name") times+=($((SECONDS - start)))
}

docs_fresh() {
    # The test build already holds ipai-docs; `cargo run -p` alone would unify features
    # differently and rebuild half the dependency graph.
    "$target_dir/debug/ipai-docs" || return 1
    if ! git diff --exit-code -- docs/ || [ -n "$(git status --porcelain -- docs/)" ]; then
        echo "docs/ is stale: run bash scripts/docs.sh and commit the result" >&2
        return 1
    fi
}

if ! bash scripts/setup.sh; then
    echo "setup failed; nothing tested" >&2
    exit 1
fi
step "cargo fmt --check" cargo fmt --all -- --check
step "cargo clippy -D warnings" cargo clippy --workspace --all-targets -- -D warnings
# Build every test target once; the acceptance harness and the docs generator then use the
# binaries of this same build instead of a `cargo build -p` with other features.
step "cargo test --workspace --no-run (build)" cargo test --workspace --no-run
target_dir="$(cargo metadata --no-deps --format-version 1 |
    .venv/bin/python -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
export IPAI_PROVIDER_BIN="$target_dir/debug/terraform-provider-ipai"
step "cargo test --workspace (acceptance tests included)" cargo test --workspace --no-fail-fast
step "docs up to date (scripts/docs.sh; git diff docs/)" docs_fresh

failed=0
printf '\n==> summary\n'
for i in "${!names[@]}"; do
    printf '  %-8s %5ss  %s\n' "${results[$i]}" "${times[$i]}" "${names[$i]}"
    [ "${results[$i]}" = ok ] || failed=1
done
if [ "$failed" -eq 0 ]; then echo "ALL PASSED"; else echo "FAILED"; fi
exit "$failed"
