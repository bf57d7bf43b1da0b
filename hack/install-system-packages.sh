#!/usr/bin/env bash
# Installs the Debian packages the project needs that a fresh machine may lack. Idempotent and
# quiet when everything is there; needs root (apt-get) only when something is missing.
set -euo pipefail
packages=(openssl ca-certificates procps git tmux)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "missing Debian packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})" >&2
    exit 1
  fi
  echo "[install-system-packages] installing ${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
for tool in go node npm; do
  command -v "$tool" >/dev/null || { echo "$tool is required (this machine kind ships it)" >&2; exit 1; }
done
node -e 'process.exit(process.versions.node.split(".")[0] === "20" ? 0 : 1)' ||
  { echo "Node.js 20 is required (found $(node -v)); @kubernetes/client-node 1.4 is the 1.x line for Node 20" >&2; exit 1; }
