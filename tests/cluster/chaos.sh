#!/usr/bin/env bash
# `make chaos`: host/tests/chaos.rs alone, longer (ECS_CHAOS_KILLS kills per phase; ECS_CHAOS_SEED
# picks the kill points), with the control plane and a ZooKeeper as integration.sh sets them up.
set -euo pipefail
source "$(dirname "$0")/common.sh"

if ! "$CLUSTER" status; then
  "$CLUSTER" up
  trap '"$CLUSTER" down' EXIT
fi
export ECS_TEST_KUBECONFIG="$("$CLUSTER" kubeconfig)" ECS_TEST_KUBECTL="$BIN_DIR/kubectl"
cd "$ROOT"
"${CARGO:-cargo}" test -p ecs-operator --test chaos -- --ignored --nocapture
