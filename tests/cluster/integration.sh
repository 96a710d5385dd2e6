#!/usr/bin/env bash
# `make integration`: host/tests/cluster.rs against the local control plane. Starts the control
# plane if it is not running, and then stops it again afterwards; a running one (e.g. `make demo`)
# is used as it is and left running.
set -euo pipefail
source "$(dirname "$0")/common.sh"

if ! "$CLUSTER" status; then
  "$CLUSTER" up
  trap '"$CLUSTER" down' EXIT
fi
export ECS_TEST_KUBECONFIG="$("$CLUSTER" kubeconfig)" ECS_TEST_KUBECTL="$BIN_DIR/kubectl"
cd "$ROOT"
"${CARGO:-cargo}" test -p ecs-operator --test cluster -- --ignored --test-threads=1
# The host's Pod Security verdicts against the API server's PodSecurity admission.
"${CARGO:-cargo}" test -p ecs-operator --test pod_security -- --ignored --nocapture
