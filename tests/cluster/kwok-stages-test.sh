#!/usr/bin/env bash
# The kwok Stages of tests/cluster/kwok-stages.yaml on the running local control plane: a pod with
# an ordinary image becomes Ready; one with a -broken image shows ImagePullBackOff and one with a
# -crash image CrashLoopBackOff, and neither is ever Ready while the rest runs; a Job completes, and
# a Job with a -fail image fails once its backoffLimit is used up; the simulated node stays Ready
# with its Lease; deleting the namespace removes every pod. Run by integration.sh; alone, after
# `local-cluster.sh up`.
set -euo pipefail
source "$(dirname "$0")/common.sh"
NS=kwok-stages-test
TIMEOUT="${KWOK_STAGES_TIMEOUT:-90}"
log() { echo "[kwok-stages] $*" >&2; }
fail() {
  log "FAILED: $*"
  kubectl -n "$NS" get pods,jobs -o wide >&2 || true
  exit 1
}
# Milliseconds since $T0 (EPOCHREALTIME in microseconds, without the dot).
elapsed() { echo "$(( (${EPOCHREALTIME/./} - T0) / 1000 )) ms"; }

"$CLUSTER" status || { log "the local control plane is not running with the current stages: local-cluster.sh up"; exit 1; }
export KUBECONFIG="$("$CLUSTER" kubeconfig)"
kubectl delete namespace "$NS" --wait=true --timeout=60s --ignore-not-found >/dev/null
kubectl create namespace "$NS" >/dev/null
wait_default_service_account "$NS"
trap 'kubectl delete namespace "$NS" --wait=false --ignore-not-found >/dev/null 2>&1 || true' EXIT

T0="${EPOCHREALTIME/./}"
kubectl -n "$NS" apply -f - >/dev/null <<'YAML'
apiVersion: v1
kind: Pod
metadata: {name: ok}
spec:
  containers: [{name: bookie, image: "ecs/bookkeeper:0.5.0"}]
---
# The broken image is the second container: the stage looks at all of them.
apiVersion: v1
kind: Pod
metadata: {name: broken}
spec:
  containers:
  - {name: sidecar, image: "ecs/bookkeeper:0.5.0"}
  - {name: bookie, image: "ecs/bookkeeper:0.5.0-broken"}
---
apiVersion: v1
kind: Pod
metadata: {name: crash}
spec:
  containers: [{name: bookie, image: "ecs/bookkeeper:0.5.0-crash"}]
---
apiVersion: batch/v1
kind: Job
metadata: {name: good}
spec:
  backoffLimit: 1
  template:
    spec:
      restartPolicy: Never
      containers: [{name: main, image: "ecs/tools:0.5.0"}]
---
# backoffLimit 1: the Job controller replaces the first failed pod (after its 10 s back-off) and
# fails the Job when the second fails too.
apiVersion: batch/v1
kind: Job
metadata: {name: bad}
spec:
  backoffLimit: 1
  template:
    spec:
      restartPolicy: Never
      containers: [{name: main, image: "ecs/tools:0.5.0-fail"}]
YAML

# One poll loop for everything, so that "never Ready" is checked on every round for as long as the
# slowest goal (the failing Job) takes.
pods='{range .items[*]}{.metadata.name}|{.status.phase}|{.status.conditions[?(@.type=="Ready")].status}|{.status.containerStatuses[?(@.name=="bookie")].state.waiting.reason}|{.status.containerStatuses[?(@.name=="bookie")].restartCount}|{.status.containerStatuses[?(@.name=="bookie")].lastState.terminated.exitCode}{"\n"}{end}'
jobs='{range .items[*]}{.metadata.name}|{.status.conditions[?(@.status=="True")].type}{"\n"}{end}'
declare -A done=()
goals=(ok broken crash good bad node)
while :; do
  while IFS='|' read -r name phase ready waiting restarts exit_code; do
    case "$name" in
      ok) [ "$phase|$ready" = "Running|True" ] && : "${done[ok]:=$(elapsed)}" ;;
      broken)
        [ "$ready" = True ] && fail "pod broken became Ready"
        [ "$phase|$waiting" = "Pending|ImagePullBackOff" ] && : "${done[broken]:=$(elapsed)}" ;;
      crash)
        [ "$ready" = True ] && fail "pod crash became Ready"
        [ "$phase|$waiting|$exit_code" = "Running|CrashLoopBackOff|1" ] && [ "${restarts:-0}" -gt 0 ] \
          && : "${done[crash]:=$(elapsed)}" ;;
    esac
  done < <(kubectl -n "$NS" get pods ok broken crash -o jsonpath="$pods" 2>/dev/null || true)
  while IFS='|' read -r name conditions; do
    case "$name|$conditions" in
      good*Failed* | bad*Complete*) fail "Job $name: $conditions" ;;
      good*Complete*) : "${done[good]:=$(elapsed)}" ;;
      bad*Failed*) : "${done[bad]:=$(elapsed)}" ;;
    esac
  done < <(kubectl -n "$NS" get jobs good bad -o jsonpath="$jobs" 2>/dev/null || true)
  if [ "$(kubectl get node kwok-node-0 -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ] \
    && kubectl -n kube-node-lease get lease kwok-node-0 >/dev/null 2>&1; then
    : "${done[node]:=$(elapsed)}"
  fi
  [ "${#done[@]}" -eq "${#goals[@]}" ] && break
  if [ $(( (${EPOCHREALTIME/./} - T0) / 1000000 )) -ge "$TIMEOUT" ]; then
    missing=(); for g in "${goals[@]}"; do [ -n "${done[$g]:-}" ] || missing+=("$g"); done
    fail "not reached after ${TIMEOUT}s: ${missing[*]}"
  fi
  sleep 0.2
done
log "pod ok Ready after ${done[ok]}; broken ImagePullBackOff after ${done[broken]}; crash CrashLoopBackOff after ${done[crash]}"
log "Job good Complete after ${done[good]}; Job bad Failed after ${done[bad]}; node Ready with its Lease"

# The failing Job failed the way the Job controller counts it: backoffLimit + 1 failed pods.
failed="$(kubectl -n "$NS" get job bad -o jsonpath='{.status.failed}')"
[ "$failed" = 2 ] || fail "Job bad has $failed failed pods, expected 2"
codes="$(kubectl -n "$NS" get pods -l job-name=bad -o jsonpath='{.items[*].status.containerStatuses[0].state.terminated.exitCode}')"
[ "$codes" = "1 1" ] || fail "Job bad's pods exited with [$codes], expected [1 1]"

# pod-delete still removes every pod, the failing ones included, so the namespace goes away.
T0="${EPOCHREALTIME/./}"
kubectl delete namespace "$NS" --wait=true --timeout=60s >/dev/null || fail "namespace $NS not deleted after 60 s"
log "namespace deleted after $(elapsed); all stages behave"
