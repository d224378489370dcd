#!/usr/bin/env bash
# deps.sh — install the Debian packages kefu needs, only those missing.
# Usage: scripts/deps.sh [build|test|bench|all]   (default: build)
# Checks each package with `dpkg -s`; runs `apt-get install` only for what is
# missing, so a second run on a ready machine costs a fraction of a second.
set -euo pipefail

build_pkgs=(
  build-essential pkg-config
  libh2o-evloop-dev libh2o-dev-common libssl-dev libuv1-dev libwslay-dev
  libcjson-dev libutf8proc-dev liblinear-dev libpcre2-dev libsqlite3-dev
  libyaml-dev libcurl4-openssl-dev libsodium-dev
)
test_pkgs=(
  libcriterion-dev curl prometheus chromium
  /usr/bin/python3:python3 python3-pytest python3-requests python3-websocket
)
bench_pkgs=(
  nginx-light wrk util-linux
  python3-fastapi python3-uvicorn python3-uvloop python3-httptools python3-sklearn python3-numpy
)

want=("${build_pkgs[@]}")
case "${1:-build}" in
  build) ;;
  test)  want+=("${test_pkgs[@]}") ;;
  bench) want+=("${test_pkgs[@]}" "${bench_pkgs[@]}") ;;
  all)   want+=("${test_pkgs[@]}" "${bench_pkgs[@]}") ;;
  *) echo "deps.sh: unknown set '$1' (build|test|bench|all)" >&2; exit 2 ;;
esac

missing=()
# node/npm may come from elsewhere (nodesource); only ask Debian when absent.
if [ "${1:-build}" != build ] && ! command -v npm >/dev/null 2>&1; then want+=(nodejs npm); fi
for p in "${want[@]}"; do
  p=${p#*:}
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps.sh: installing missing Debian packages: ${missing[*]}" >&2
SUDO=
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
    echo "deps.sh: need root to install: ${missing[*]} (run: apt-get install ${missing[*]})" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
stamp=/var/lib/apt/periodic/kefu-update-stamp
if [ ! -e "$stamp" ] || [ -n "$(find "$stamp" -mmin +720 2>/dev/null)" ]; then
  $SUDO apt-get update -qq || { echo "deps.sh: apt-get update failed (no network to the Debian mirror?)" >&2; exit 1; }
  $SUDO mkdir -p "$(dirname "$stamp")" && $SUDO touch "$stamp"
fi
if ! $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
  echo "deps.sh: apt-get install failed for: ${missing[*]}" >&2
  exit 1
fi
