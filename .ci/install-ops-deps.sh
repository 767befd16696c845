#!/usr/bin/env bash
# Installs what the deployment checks need, idempotently (nothing is fetched when present):
# Debian: podman, buildah, runc, mmdebstrap (container test), chromium (status page), promtool
# (rules, dashboard, compose), curl; PyPI: kubernetes-validate, PyYAML (Kubernetes),
# websocket-client (DevTools protocol), podman-compose (compose config).
set -euo pipefail

need_apt=()
command -v podman >/dev/null || need_apt+=(podman)
command -v buildah >/dev/null || need_apt+=(buildah)
command -v runc >/dev/null || need_apt+=(runc)
command -v mmdebstrap >/dev/null || need_apt+=(mmdebstrap)
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
command -v promtool >/dev/null || need_apt+=(prometheus)
command -v curl >/dev/null || need_apt+=(curl)
if [ ${#need_apt[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || true
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
fi

pip_pkgs=(kubernetes-validate==1.37.0 PyYAML==6.0.3 websocket-client==1.9.2
  podman-compose==1.6.0)
if ! python3 - "${pip_pkgs[@]}" <<'PY'
import sys
from importlib.metadata import version, PackageNotFoundError
for spec in sys.argv[1:]:
    name, want = spec.split("==")
    try:
        if version(name) != want:
            sys.exit(1)
    except PackageNotFoundError:
        sys.exit(1)
PY
then
  python3 -m pip install --quiet --disable-pip-version-check "${pip_pkgs[@]}"
fi
