#!/usr/bin/env bash
# `make chaos`: host/tests/chaos.rs alone, longer (ECS_CHAOS_KILLS kills per phase; ECS_CHAOS_SEED
# picks the kill points), on the control plane as integration.sh sets it up (no ZooKeeper: the run
# deletes no cluster).
set -euo pipefail
source "$(dirname "$0")/common.sh"

use_local_cluster
cd "$ROOT"
"${CARGO:-cargo}" test -p ecs-operator --test chaos -- --ignored --nocapture
