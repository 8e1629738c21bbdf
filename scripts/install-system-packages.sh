#!/usr/bin/env bash
# Debian packages the test suite needs. Idempotent; skips apt when everything is present.
set -euo pipefail
packages=(git ca-certificates
  # headless browser for the lrt serve page test (test/web)
  chromium
  # GSI GridFTP test bed (scripts/gridftp-testbed.sh) and the src/transfer movers
  openssl python3 globus-gass-copy-progs globus-gridftp-server-progs globus-proxy-utils
  globus-gsi-cert-utils-progs globus-common-progs voms-clients
  gfal2 gfal2-util-scripts python3-gfal2-util
  gfal2-plugin-file gfal2-plugin-gridftp gfal2-plugin-http gfal2-plugin-srm gfal2-plugin-mock
  # one-node Slurm test bed (scripts/slurm-testbed.sh) for lrt submit --backend slurm and lrt jobs
  slurm-wlm munge)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "missing Debian packages: ${missing[*]} (run as root: apt-get install ${missing[*]})" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
