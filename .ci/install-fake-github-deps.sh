#!/usr/bin/env bash
# Installs what the fake-github crate's tests and benchmark need:
#  - GitHub's published OpenAPI description (npm package @octokit/openapi), used by
#    fake-github/tests/openapi_conformance.rs. Installed into $FAKE_GITHUB_OPENAPI_DIR
#    (default: <repo>/target/openapi); the test reads
#    $FAKE_GITHUB_OPENAPI_DIR/node_modules/@octokit/openapi/generated/api.github.com.json
#    or the file named by $FAKE_GITHUB_OPENAPI_JSON.
#  - wrk (Debian package), used by fake-github/benches/wrk.sh.
# Idempotent: re-running skips what is already present.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
openapi_dir="${FAKE_GITHUB_OPENAPI_DIR:-$repo_root/target/openapi}"
openapi_version="${FAKE_GITHUB_OPENAPI_VERSION:-23.0.2}"

spec="$openapi_dir/node_modules/@octokit/openapi/generated/api.github.com.json"
if [[ -f "$spec" ]]; then
  echo "@octokit/openapi already installed: $spec"
else
  mkdir -p "$openapi_dir"
  npm install --prefix "$openapi_dir" --no-audit --no-fund --no-save "@octokit/openapi@${openapi_version}"
  test -f "$spec" || { echo "error: $spec not found after npm install" >&2; exit 1; }
  echo "installed $spec"
fi

if [[ "${SKIP_WRK:-0}" != "1" ]] && ! command -v wrk >/dev/null 2>&1; then
  if [[ "$(id -u)" == "0" ]]; then
    apt-get update -qq && apt-get install -y -qq wrk
  else
    sudo apt-get update -qq && sudo apt-get install -y -qq wrk
  fi
fi
