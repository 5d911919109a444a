#!/usr/bin/env bash
# One release build of the `omicsdb` binary and every benchmark binary, for the
# acceptance benchmark and the benches (never used by tests or CI). It has a target
# dir of its own and always the same package/feature selection, so the binaries
# share one DataFusion build (about 25 minutes on 2 cores the first time).
#   source scripts/release-build.sh   # sets RELEASE_DIR
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
export CARGO_TARGET_DIR="${OMICSDB_RELEASE_TARGET_DIR:-$HOME/.cache/omicsdb-bench-target}"
(cd "$OMICSDB_ROOT" && cargo build --release --locked -p omicsdb-server -p omicsdb-benches \
  --features omicsdb-benches/engine,omicsdb-benches/model --bins)
RELEASE_DIR="$CARGO_TARGET_DIR/release"
export RELEASE_DIR
