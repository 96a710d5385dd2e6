#!/usr/bin/env bash
# Helm, built once from its Go module (helm.sh/helm/v4 through the Go module proxy, like the control
# plane in local-cluster.sh: no prebuilt binary is downloaded) into
# $TOOLS_CACHE/helm-$HELM_VERSION/bin/helm, and reused from there.
#
#   helm.sh build   build it unless it is there already; print its path (last line)
#   helm.sh path    print its path; exit 1 if it is not built
set -euo pipefail

HELM_VERSION="${HELM_VERSION:-v4.3.1}"
CACHE="${TOOLS_CACHE:-$HOME/.cache/ecs-operator}/helm-$HELM_VERSION"
HELM="$CACHE/bin/helm"

log() { echo "[helm] $*" >&2; }

build() {
  if [ -x "$HELM" ]; then echo "$HELM"; return; fi
  command -v go >/dev/null || { log "Go is required to build helm"; exit 1; }
  local major="${HELM_VERSION%%.*}" tmp
  # What helm's own Makefile stamps for a release build; without it `helm version` says
  # "v4.3+unreleased". (Helm 4 takes the Kubernetes version it assumes from its client-go.)
  local ld="-s -w -X helm.sh/helm/$major/internal/version.version=$HELM_VERSION"
  ld="$ld -X helm.sh/helm/$major/internal/version.metadata= -X helm.sh/helm/$major/internal/version.gitTreeState=clean"
  mkdir -p "$CACHE"
  tmp="$(mktemp -d "$CACHE/bin.XXXXXX")"
  log "building helm $HELM_VERSION from helm.sh/helm/$major (a few minutes, once)"
  # Outside any module (go install pkg@version), so no go.mod of the project is touched.
  (cd "$CACHE" && CGO_ENABLED=0 GOBIN="$tmp" go install -trimpath -ldflags "$ld" "helm.sh/helm/$major/cmd/helm@$HELM_VERSION") \
    || { rm -rf "$tmp"; log "building helm $HELM_VERSION failed"; exit 1; }
  mkdir -p "$CACHE/bin"
  mv "$tmp/helm" "$HELM"
  rm -rf "$tmp"
  log "$("$HELM" version --short)"
  echo "$HELM"
}

case "${1:-}" in
  build) build ;;
  path) [ -x "$HELM" ] || { log "helm $HELM_VERSION is not built: $0 build"; exit 1; }; echo "$HELM" ;;
  *) echo "usage: $0 build|path" >&2; exit 2 ;;
esac
