# Shared settings for the project's scripts (sourced, not run).
# The cargo target dir lives outside the clone so repeated runs on one machine
# (and CI in a fresh clone) reuse the build.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/omicsdb-target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
OMICSDB_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export OMICSDB_ROOT
