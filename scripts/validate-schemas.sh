#!/usr/bin/env bash
# Validates rendered manifests against the real Kubernetes schemas (strict: unknown fields fail),
# with kubernetes-validate installed once into a virtualenv outside the repo.
set -euo pipefail
version="$1"; shift
venv="${TOOLS_CACHE:-$HOME/.cache/ecs-operator}/venv-kubernetes-validate-${version%.*}"
if [ ! -x "$venv/bin/kubernetes-validate" ]; then
  echo "installing kubernetes-validate ${version%.*}.x into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet "kubernetes-validate==${version%.*}.*"
fi
passed=0 failed=0
for file in "$@"; do
  if ! out=$("$venv/bin/kubernetes-validate" --strict -k "$version" "$file" 2>&1) || grep -qiE "error|invalid" <<<"$out"; then
    echo "FAIL $file"; echo "$out"; failed=$((failed + 1))
  else
    echo "valid $file ($(grep -c '^---' "$file") objects, Kubernetes $version)"; passed=$((passed + 1))
  fi
done
echo "schemas: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
