#!/usr/bin/env bash
# Runs every test of the workspace (unit, SQL logic, end-to-end with real
# files and real clients). Installs the system tools the tests need first.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$OMICSDB_ROOT"
bash scripts/setup.sh
cargo build --workspace --bins --locked
cargo test --workspace --locked "$@"
