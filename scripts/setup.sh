#!/usr/bin/env bash
# Installs the system tools the tests compare against or drive:
# samtools (faidx reference), bedtools (interval-join reference), tabix,
# and the PostgreSQL client (psql) for the wire-protocol tests.
set -euo pipefail
need=()
command -v samtools >/dev/null || need+=(samtools)
command -v bedtools >/dev/null || need+=(bedtools)
command -v tabix >/dev/null || need+=(tabix)
command -v psql >/dev/null || need+=(postgresql-client)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
