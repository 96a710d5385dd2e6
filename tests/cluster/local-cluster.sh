#!/usr/bin/env bash
# A real Kubernetes control plane on 127.0.0.1, built from the upstream Go modules (no downloads of
# prebuilt binaries): etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kubectl, with
# kwok simulating nodes so StatefulSets and Deployments get Running, Ready pods without containers
# (and failing ones on demand: kwok-stages.yaml).
#
#   local-cluster.sh build   build the binaries once into $CACHE (about 16 minutes cold on 2 cores)
#   local-cluster.sh up      build if needed, start the cluster, wait until it is ready
#   local-cluster.sh env     print `export KUBECONFIG=...` for the running cluster
#   local-cluster.sh kubeconfig   print the kubeconfig's path
#   local-cluster.sh status  exit 0 if the cluster is up and was created from the current configuration
#   local-cluster.sh down    stop everything this script started and remove its state
#   local-cluster.sh restart-apiserver   restart the kube-apiserver alone (etcd and the rest keep running)
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-v1.37.2}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.16}"
KWOK_VERSION="${KWOK_VERSION:-v0.8.0}"
CLUSTER_NAME="${CLUSTER_NAME:-ecs-operator}"
CACHE="${ECS_K8S_CACHE:-${TOOLS_CACHE:-$HOME/.cache/ecs-operator}/k8s-$K8S_VERSION}"
BIN="$CACHE/bin"
STATE="$HOME/.kwok/clusters/$CLUSTER_NAME"
# Our kwok Stages (failing pods on demand); see the file.
STAGES="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/kwok-stages.yaml"
# The hash of the configuration a cluster was created from, kept in its state directory.
CONFIG_STAMP="$STATE/ecs-operator-config.sha256"

log() { echo "[local-cluster] $*" >&2; }

build_kubernetes() {
  local mod="$CACHE/src/kubernetes" minor="${K8S_VERSION#v1.}"; minor="${minor%%.*}"
  local staging="v0.${K8S_VERSION#v1.}"
  mkdir -p "$mod" "$BIN"
  cd "$mod"
  if [ ! -f go.mod ]; then
    go mod init ecs-operator-k8s-tools >/dev/null 2>&1
    go mod download "k8s.io/kubernetes@$K8S_VERSION"
    # Pin every staging module kubernetes replaces with a local path to its published version
    # (sample-* modules are not published and not required).
    local upstream; upstream="$(go env GOMODCACHE)/k8s.io/kubernetes@$K8S_VERSION/go.mod"
    { echo 'replace ('
      sed -n '/^replace (/,/^)/p' "$upstream" | grep '=>' | awk '{print $1}' \
        | grep -vE 'sample-(cli-plugin|controller)' | while read -r m; do echo "	$m => $m $staging"; done
      echo ')'; } >> go.mod
    go get "k8s.io/kubernetes@$K8S_VERSION"
    go get -tool k8s.io/kubernetes/cmd/{kube-apiserver,kube-controller-manager,kube-scheduler,kubectl}
  fi
  # Without version stamps kubectl refuses to parse its own version.
  local ld="-s -w"
  for p in client-go/pkg/version component-base/version; do
    ld="$ld -X k8s.io/$p.gitVersion=$K8S_VERSION -X k8s.io/$p.gitMajor=1 -X k8s.io/$p.gitMinor=$minor"
    ld="$ld -X k8s.io/$p.gitTreeState=clean -X k8s.io/$p.buildDate=1970-01-01T00:00:00Z"
  done
  for c in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
    [ -x "$BIN/$c" ] && continue
    log "building $c $K8S_VERSION"
    go build -trimpath -ldflags "$ld" -o "$BIN/$c.tmp" "k8s.io/kubernetes/cmd/$c" && mv "$BIN/$c.tmp" "$BIN/$c"
  done
}

build_etcd() {
  [ -x "$BIN/etcd" ] && [ -x "$BIN/etcdctl" ] && return
  local mod="$CACHE/src/etcd"
  mkdir -p "$mod" && cd "$mod"
  # `go install` refuses etcd's replace directives; a wrapper module builds it.
  [ -f go.mod ] || { go mod init ecs-operator-etcd >/dev/null 2>&1
    go get -tool "go.etcd.io/etcd/server/v3@$ETCD_VERSION" "go.etcd.io/etcd/etcdctl/v3@$ETCD_VERSION"; }
  log "building etcd $ETCD_VERSION"
  go build -trimpath -ldflags "-s -w" -o "$BIN/etcd" go.etcd.io/etcd/server/v3
  go build -trimpath -ldflags "-s -w" -o "$BIN/etcdctl" go.etcd.io/etcd/etcdctl/v3
}

build_kwok() {
  for c in kwok kwokctl; do
    [ -x "$BIN/$c" ] && continue
    log "building $c $KWOK_VERSION"
    GOBIN="$BIN" go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/$c@$KWOK_VERSION"
  done
}

build() {
  command -v go >/dev/null || { log "Go is required to build the control plane"; exit 1; }
  build_etcd
  build_kwok
  build_kubernetes
  log "binaries ready in $BIN"
}

# kwok's default stages, from the kwok module the binaries are built from: kwokctl drops all of its
# defaults (nodes' included) as soon as its configuration holds one Stage, so ours come with them.
# These five are what kwokctl 0.8 saves for this configuration (pkg/kwokctl/runtime/cluster.go,
# Save): with a node lease the heartbeat is node-heartbeat-with-lease, and its delays stay as they
# are because the status update period (10 s x heartbeat factor 5) is below the stage's 600 s.
default_stages() {
  local json dir f
  # Outside any module, so that no go.mod or go.sum is touched.
  mkdir -p "$CACHE"
  json="$(cd "$CACHE" && go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION")" \
    || { log "go mod download sigs.k8s.io/kwok@$KWOK_VERSION failed: $json"; exit 1; }
  dir="$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p' <<<"$json")"
  [ -n "$dir" ] || { log "go mod download did not say where sigs.k8s.io/kwok@$KWOK_VERSION is: $json"; exit 1; }
  for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
      pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
    f="$dir/kustomize/stage/$f"
    [ -f "$f" ] || { log "kwok's default stage $f is missing"; exit 1; }
    printf -- '---\n%s\n' "$(<"$f")"
  done
}

audit_policy() {
  cat <<'YAML'
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: Metadata
  verbs: [create, update, patch, delete, deletecollection]
- level: None
YAML
}

kwokctl_config() {
  [ -f "$STAGES" ] || { log "$STAGES is missing"; exit 1; }
  cat <<YAML
apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokctlConfiguration
options:
  runtime: binary
  kubeVersion: $K8S_VERSION
  etcdVersion: ${ETCD_VERSION#v}
  bindAddress: 127.0.0.1
  securePort: true
  kubeApiserverBinary: $BIN/kube-apiserver
  kubeControllerManagerBinary: $BIN/kube-controller-manager
  kubeSchedulerBinary: $BIN/kube-scheduler
  kubectlBinary: $BIN/kubectl
  kwokControllerBinary: $BIN/kwok
  etcdBinary: $BIN/etcd
  etcdctlBinary: $BIN/etcdctl
  kubeAuditPolicy: $CACHE/config/audit-policy.yaml
componentsPatches:
- name: kube-controller-manager
  extraArgs:
  - key: enable-hostpath-provisioner
    value: "true"
YAML
  # Stages ride along as further documents of the same file (kwokctl --config takes any number).
  default_stages
  printf -- '---\n%s\n' "$(<"$STAGES")"
}

# What a cluster is created from; `up` recreates a cluster whose stamp differs.
config_hash() { { audit_policy; kwokctl_config; } | sha256sum | cut -d' ' -f1; }

write_config() {
  mkdir -p "$CACHE/config"
  audit_policy > "$CACHE/config/audit-policy.yaml"
  kwokctl_config > "$CACHE/config/kwokctl.yaml.tmp"
  mv "$CACHE/config/kwokctl.yaml.tmp" "$CACHE/config/kwokctl.yaml"
}

up() {
  build
  write_config
  local want; want="$(config_hash)"
  # kwok reads its stages once, from the copy kwokctl made at creation, and `create` restarts an
  # existing cluster as it was: a cluster from another configuration (say, other stages) is replaced.
  if [ -d "$STATE" ] && [ "$(cat "$CONFIG_STAMP" 2>/dev/null || true)" != "$want" ]; then
    log "cluster $CLUSTER_NAME was created from another configuration (kwok stages?); recreating it"
    down
  fi
  if running; then
    log "cluster $CLUSTER_NAME already running"; return
  fi
  log "starting cluster $CLUSTER_NAME (Kubernetes $K8S_VERSION)"
  PATH="$BIN:$PATH" "$BIN/kwokctl" create cluster --name "$CLUSTER_NAME" --config "$CACHE/config/kwokctl.yaml" \
    --timeout 5m --wait 2m >&2
  echo "$want" > "$CONFIG_STAMP"
  export KUBECONFIG="$STATE/kubeconfig.yaml"
  # One simulated node, and the storage classes the seed's example uses.
  "$BIN/kubectl" apply -f - >/dev/null <<'YAML'
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-0
  annotations: {kwok.x-k8s.io/node: fake}
  labels: {kubernetes.io/hostname: kwok-node-0, type: kwok}
status:
  allocatable: {cpu: "32", memory: 256Gi, pods: "110"}
  capacity: {cpu: "32", memory: 256Gi, pods: "110"}
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: standard
  annotations: {storageclass.kubernetes.io/is-default-class: "true"}
provisioner: kubernetes.io/host-path
volumeBindingMode: Immediate
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: nfs
provisioner: kubernetes.io/host-path
volumeBindingMode: Immediate
YAML
  log "ready: export KUBECONFIG=$KUBECONFIG"
}

running() {
  [ -f "$STATE/kubeconfig.yaml" ] && "$BIN/kubectl" --kubeconfig "$STATE/kubeconfig.yaml" get --raw /readyz >/dev/null 2>&1
}

down() {
  local p
  # The watcher first, or it would start what is being stopped again.
  [ -f "$STATE/respawn/watcher.pid" ] && kill "$(cat "$STATE/respawn/watcher.pid")" 2>/dev/null || true
  for p in "$STATE"/respawn/*/pid; do
    [ -f "$p" ] && kill "$(cat "$p")" 2>/dev/null || true
  done
  if [ -x "$BIN/kwokctl" ] && [ -d "$STATE" ]; then
    PATH="$BIN:$PATH" "$BIN/kwokctl" delete cluster --name "$CLUSTER_NAME" >&2 || true
  fi
  # kwokctl leaves the host-path provisioner's volumes behind.
  rm -rf /tmp/hostpath_pv
  log "cluster $CLUSTER_NAME stopped"
}

# Restarts the kube-apiserver alone (the chaos test): stops its process and starts it again with the
# same command line, environment and directory (recorded in the pid file kwokctl reads); etcd and
# the rest keep running. The controller manager and the scheduler exit when they cannot renew their
# leader lease during the outage (a kubelet would restart them; kwokctl does not): any that does is
# started again the same way. kwokctl stops only what it started itself, so `down` stops these.
SUPERVISED=(kube-controller-manager kube-scheduler)

# Saves a component's command line, environment and directory under $STATE/respawn/<name>/.
remember() {
  local name="$1" pid; pid="$(cat "$STATE/pids/$name.pid")"
  # A component that already died keeps what was saved of it before, if anything.
  [ -r "/proc/$pid/cmdline" ] || { log "no $name process $pid"; [ -f "$STATE/respawn/$name/cmdline" ]; return; }
  mkdir -p "$STATE/respawn/$name"
  cp "/proc/$pid/cmdline" "$STATE/respawn/$name/cmdline"
  cp "/proc/$pid/environ" "$STATE/respawn/$name/environ"
  readlink "/proc/$pid/cwd" > "$STATE/respawn/$name/cwd"
}

respawn() {
  local name="$1"
  local -a args env
  mapfile -d '' args < "$STATE/respawn/$name/cmdline"
  mapfile -d '' env < "$STATE/respawn/$name/environ"
  (cd "$(cat "$STATE/respawn/$name/cwd")" && exec env -i "${env[@]}" setsid "${args[@]}" \
    >> "$STATE/logs/$name.log" 2>&1 < /dev/null) &
  echo "$!" > "$STATE/pids/$name.pid"
  # kwokctl stops only the processes it started itself: `down` stops these.
  echo "$!" > "$STATE/respawn/$name/pid"
}

alive() { kill -0 "$(cat "$STATE/pids/$1.pid")" 2>/dev/null; }

restart_apiserver() {
  local c i pid
  remember kube-apiserver || return 1
  for c in "${SUPERVISED[@]}"; do remember "$c" || true; done
  pid="$(cat "$STATE/pids/kube-apiserver.pid")"
  kill "$pid"
  for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  respawn kube-apiserver
  for i in $(seq 1 300); do running && break; sleep 0.1; done
  running || { log "kube-apiserver did not come back"; return 1; }
  log "kube-apiserver restarted (pid $(cat "$STATE/pids/kube-apiserver.pid"))"
  # A lease lost during the outage ends the process a little later (renew deadline 10 s): watched
  # for 30 s in the background, so that the caller sees the API server as soon as it is back.
  (
    for i in $(seq 1 300); do
      for c in "${SUPERVISED[@]}"; do
        if ! alive "$c" && [ -f "$STATE/respawn/$c/cmdline" ]; then respawn "$c"; log "$c had exited; started again"; fi
      done
      sleep 0.1
    done
  ) </dev/null >/dev/null 2>>"$STATE/logs/respawn.log" &
  echo "$!" > "$STATE/respawn/watcher.pid"
}

case "${1:-}" in
  build) build ;;
  up) up ;;
  env) echo "export KUBECONFIG=$STATE/kubeconfig.yaml" ;;
  kubeconfig) echo "$STATE/kubeconfig.yaml" ;;
  status) running && [ "$(cat "$CONFIG_STAMP" 2>/dev/null || true)" = "$(config_hash)" ] ;;
  down) down ;;
  restart-apiserver) restart_apiserver ;;
  *) echo "usage: $0 build|up|env|kubeconfig|status|down" >&2; exit 2 ;;
esac
