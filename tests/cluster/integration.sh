#!/usr/bin/env bash
# `make integration`: the kwok stages (kwok-stages-test.sh) and host/tests/cluster.rs against the
# local control plane. Starts the control plane if it is not running (or was created with other kwok
# stages: `up` recreates it), and then stops it again afterwards; a running one (e.g. `make demo`)
# is used as it is and left running.
set -euo pipefail
source "$(dirname "$0")/common.sh"

use_local_cluster
# First the control plane itself: kwok's default behaviour and our failing-pod stages.
"$ROOT/tests/cluster/kwok-stages-test.sh"
# The ZooKeeper harness the cluster-deletion tests build on (installed from Maven Central, cached).
"$ROOT/tests/cluster/zookeeper-test.sh"
# The host's ZooKeeper client: tree marks, adoption, removal by the owner only.
(cd "$ROOT" && "${CARGO:-cargo}" test -p ecs-operator --test zookeeper -- --ignored)
# One ZooKeeper for the whole run: every test cluster names it, so deleting one removes a real tree.
ZK_DIR="$(mktemp -d)"
on_exit '"$ROOT/tests/cluster/zookeeper.sh" stop "$ZK_DIR"; rm -rf "$ZK_DIR"'
ECS_TEST_ZOOKEEPER="$("$ROOT/tests/cluster/zookeeper.sh" start 0 "$ZK_DIR" | tail -1)"
export ECS_TEST_ZOOKEEPER
cd "$ROOT"
# The Helm chart first (on a fresh control plane it installs the CRD): install, upgrade and uninstall,
# namespaced and cluster-wide, the seed example reconciled as the chart's ServiceAccount.
[ -x "${ECS_TEST_HELM:-}" ] || ECS_TEST_HELM="$("$ROOT/tests/cluster/helm.sh" build | tail -1)"
export ECS_TEST_HELM
"${CARGO:-cargo}" test -p ecs-operator --test helm -- --ignored --test-threads=1
"${CARGO:-cargo}" test -p ecs-operator --test cluster -- --ignored --test-threads=1
# Plugins swapped into a running operator, pinning, and `plugins list --operator`.
"${CARGO:-cargo}" test -p ecs-operator --test hot_reload -- --ignored --test-threads=1
# Scale-down by decommission, and deletion that removes the cluster's ZooKeeper tree.
"${CARGO:-cargo}" test -p ecs-operator --test day2 -- --ignored --test-threads=1
# The example S3 Tier-2 provider dropped in from target/example-plugins: wiring, edits, field errors.
"${CARGO:-cargo}" test -p ecs-operator --test s3_example -- --ignored
# Tier-2 providers in Python and JavaScript (make polyglot builds them) used by live clusters.
"${CARGO:-cargo}" test -p ecs-operator --test polyglot -- --ignored --exact python_and_javascript_providers_wire_live_clusters_as_the_rust_one_renders
# The operator killed at random points (seeded) and the kube-apiserver restarted once.
"${CARGO:-cargo}" test -p ecs-operator --test chaos -- --ignored --nocapture
# Rolling upgrades: order, one pod at a time, failures, rollbacks, a killed operator, replays.
"${CARGO:-cargo}" test -p ecs-operator --test upgrade -- --ignored --test-threads=1
# The version rules: offline admission against the API server's CEL, case by case.
"${CARGO:-cargo}" test -p ecs-operator --test version_rules -- --nocapture
# The ledger-placement rules (bookies vs ensemble and quorums), offline against the API server.
"${CARGO:-cargo}" test -p ecs-operator --test quorum_rules -- --nocapture
# The host's Pod Security verdicts against the API server's PodSecurity admission.
"${CARGO:-cargo}" test -p ecs-operator --test pod_security -- --ignored --nocapture
