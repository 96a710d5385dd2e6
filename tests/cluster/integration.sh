#!/usr/bin/env bash
# `make integration`: host/tests/cluster.rs against the local control plane. Starts the control
# plane if it is not running, and then stops it again afterwards; a running one (e.g. `make demo`)
# is used as it is and left running.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
CLUSTER="$ROOT/tests/cluster/local-cluster.sh"
K8S_VERSION="${K8S_VERSION:-v1.37.2}"
BIN_DIR="${ECS_K8S_CACHE:-${TOOLS_CACHE:-$HOME/.cache/ecs-operator}/k8s-$K8S_VERSION}/bin"

if ! "$CLUSTER" status; then
  "$CLUSTER" up
  trap '"$CLUSTER" down' EXIT
fi
export ECS_TEST_KUBECONFIG="$("$CLUSTER" kubeconfig)" ECS_TEST_KUBECTL="$BIN_DIR/kubectl"
cd "$ROOT"
"${CARGO:-cargo}" test -p ecs-operator --test cluster -- --ignored --test-threads=1
