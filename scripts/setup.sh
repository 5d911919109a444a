#!/usr/bin/env bash
# Installs the system tools the tests compare against or drive:
# samtools (faidx reference), bedtools (interval-join reference), tabix,
# bcftools (reads the VCFs `omicsdb score-variants` writes),
# and the PostgreSQL client (psql) for the wire-protocol tests; and a C++
# compiler, which the build needs for usearch (the embedding indexes' HNSW library).
set -euo pipefail
need=()
command -v c++ >/dev/null || need+=(g++)
command -v samtools >/dev/null || need+=(samtools)
command -v bedtools >/dev/null || need+=(bedtools)
command -v tabix >/dev/null || need+=(tabix)
command -v bcftools >/dev/null || need+=(bcftools)
command -v psql >/dev/null || need+=(postgresql-client)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

# Python drivers for the wire-protocol tests (psycopg 3, pandas, SQLAlchemy)
# and pyBigWig (an independent reader for the bigWig exports), in a
# virtualenv reused across runs. tests/it/pgwire.rs and tests/it/materialize.rs
# look for it at $OMICSDB_VENV (default ~/.cache/omicsdb-venv) and fail,
# saying so, if its python or a package is missing.
VENV="${OMICSDB_VENV:-$HOME/.cache/omicsdb-venv}"
PY_PACKAGES=("psycopg[binary]" pandas sqlalchemy pyBigWig)
if [ ! -x "$VENV/bin/python" ]; then
  PYTHON="$(command -v python3 || true)"
  if [ -z "$PYTHON" ] || ! "$PYTHON" -m venv --help >/dev/null 2>&1; then
    echo "installing: python3 python3-venv"
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3 python3-venv >/dev/null
    PYTHON="$(command -v python3)"
  fi
  echo "creating virtualenv $VENV"
  "$PYTHON" -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c "import psycopg, pandas, sqlalchemy, pyBigWig" 2>/dev/null; then
  echo "installing into $VENV: ${PY_PACKAGES[*]}"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q "${PY_PACKAGES[@]}"
fi
