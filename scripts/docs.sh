#!/usr/bin/env bash
# Regenerates docs/index.md and docs/resources/*.md from the provider's schema and examples/.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --quiet -p ipai-acceptance-tests --bin ipai-docs
