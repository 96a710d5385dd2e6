#!/usr/bin/env bash
# `make demo`: the seed README's walkthrough on a local control plane. Installs deploy/'s CRD and
# RBAC, runs the operator locally as its own service account (so deploy/role.yaml is what it is
# allowed to do), applies the seed's example and PVC, waits for every pod, and prints what the
# seed's README shows.
#
#   demo.sh up     start everything (idempotent)
#   demo.sh down   stop the operator and the control plane
set -euo pipefail
source "$(dirname "$0")/common.sh"

OPERATOR="${OPERATOR:-$ROOT/target/debug/ecs-operator}"
STATE="${DEMO_STATE:-$TOOLS_CACHE/demo}"
TIMEOUT="${DEMO_TIMEOUT:-180}"

log() { echo "[demo] $*" >&2; }
fail() { log "FAILED: $*"; [ -f "$STATE/operator.log" ] && { log "last operator log lines:"; tail -20 "$STATE/operator.log" >&2; }; exit 1; }


# A kubeconfig that impersonates the operator's service account (`as:` of the kubeconfig's user).
service_account_kubeconfig() {
  local src="$1" dst="$2" ns="$3"
  sed "s|^  user:\$|  user:\n    as: system:serviceaccount:$ns:ecs-operator\n    as-groups: [system:serviceaccounts, \"system:serviceaccounts:$ns\", system:authenticated]|" "$src" > "$dst"
  grep -q "^    as: " "$dst" || fail "could not add impersonation to $src"
}

stop_operator() {
  if [ -f "$STATE/operator.pid" ]; then
    local pid; pid="$(cat "$STATE/operator.pid")"
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid"
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$STATE/operator.pid"
  fi
}

up() {
  [ -x "$OPERATOR" ] || fail "$OPERATOR is not built (make build)"
  mkdir -p "$STATE"
  "$CLUSTER" up
  eval "$("$CLUSTER" env)"
  log "installing deploy/: CRD, service account, role, role binding"
  kubectl apply -f "$ROOT/deploy/crd.yaml" -f "$ROOT/deploy/service_account.yaml" \
    -f "$ROOT/deploy/role.yaml" -f "$ROOT/deploy/role_binding.yaml" >/dev/null
  wait_established ecsclusters.ecs.ecs.io 60 || fail "the CRD did not become Established"
  stop_operator
  service_account_kubeconfig "$KUBECONFIG" "$STATE/operator-kubeconfig.yaml" default
  log "starting the operator locally (log: $STATE/operator.log)"
  RUST_LOG="${RUST_LOG:-info}" "$OPERATOR" run --kubeconfig "$STATE/operator-kubeconfig.yaml" \
    --watch-namespace default --listen 127.0.0.1:"${DEMO_PORT:-8080}" \
    --admin-listen 127.0.0.1:"${DEMO_ADMIN_PORT:-8081}" >"$STATE/operator.log" 2>&1 &
  echo $! > "$STATE/operator.pid"
  for _ in $(seq 100); do
    curl -fsS "127.0.0.1:${DEMO_PORT:-8080}/readyz" >/dev/null 2>&1 && break
    kill -0 "$(cat "$STATE/operator.pid")" 2>/dev/null || fail "the operator exited"
    sleep 0.2
  done
  curl -fsS "127.0.0.1:${DEMO_PORT:-8080}/readyz" >/dev/null || fail "the operator did not become ready"
  log "applying deploy/examples/pvc.yaml and deploy/examples/ecs.yaml"
  kubectl apply -f "$ROOT/deploy/examples/pvc.yaml" -f "$ROOT/deploy/examples/ecs.yaml" >/dev/null
  local start=$SECONDS ready desired
  while :; do
    ready="$(kubectl get ecscluster ecs -o jsonpath='{.status.readyReplicas}' 2>/dev/null || true)"
    desired="$(kubectl get ecscluster ecs -o jsonpath='{.status.replicas}' 2>/dev/null || true)"
    if [ "$(kubectl get ecscluster ecs -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ]; then
      log "all ${ready} members ready after $((SECONDS - start)) s"
      break
    fi
    [ $((SECONDS - start)) -ge "$TIMEOUT" ] && fail "members not ready after ${TIMEOUT}s (ready ${ready:-0}/${desired:-?})"
    kill -0 "$(cat "$STATE/operator.pid")" 2>/dev/null || fail "the operator exited"
    log "waiting: ${ready:-0}/${desired:-?} members ready"
    sleep 2
  done
  echo "\$ kubectl get ecsclusters"
  kubectl get ecsclusters
  echo
  echo "\$ kubectl get all -l ecs_cluster=ecs"
  kubectl get all -l ecs_cluster=ecs
  echo
  log "running; try: $("$CLUSTER" env); ${BIN_DIR}/kubectl describe ecscluster ecs"
  log "metrics: curl 127.0.0.1:${DEMO_PORT:-8080}/metrics; plugins in service:" \
    "$OPERATOR plugins list --operator http://127.0.0.1:${DEMO_ADMIN_PORT:-8081}; stop with: make demo-down"
}

down() {
  stop_operator
  "$CLUSTER" down
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
