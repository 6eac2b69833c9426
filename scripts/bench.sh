#!/usr/bin/env bash
# Prints start-up and plan/apply figures of the release provider against terraform_data.
# Arguments go to the bench (see --help), e.g. scripts/bench.sh --sizes 1,100 --repeat 1
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --quiet -p ipai-acceptance-tests --bin ipai-bench -- "$@"
