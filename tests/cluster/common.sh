# Shared by the scripts in tests/cluster: where the repository, the control-plane script and the
# cached Kubernetes binaries are.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CLUSTER="$ROOT/tests/cluster/local-cluster.sh"
K8S_VERSION="${K8S_VERSION:-v1.37.2}"
TOOLS_CACHE="${TOOLS_CACHE:-$HOME/.cache/ecs-operator}"
BIN_DIR="${ECS_K8S_CACHE:-$TOOLS_CACHE/k8s-$K8S_VERSION}/bin"
kubectl() { "$BIN_DIR/kubectl" "$@"; }

# Waits (up to $2 seconds, default 60) until the CRD $1 is Established. Polls instead of `kubectl
# wait`, which fails at once on a CRD whose status the API server has not written yet.
wait_established() {
  local crd="$1" deadline=$((SECONDS + ${2:-60})) status
  while :; do
    status="$(kubectl get crd "$crd" -o jsonpath='{.status.conditions[?(@.type=="Established")].status}' 2>/dev/null || true)"
    [ "$status" = "True" ] && return 0
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "CRD $crd not Established after ${2:-60}s (status: ${status:-none})" >&2
      return 1
    fi
    sleep 0.2
  done
}

# Waits (up to $2 seconds, default 30) until namespace $1 has its `default` ServiceAccount: the
# controller-manager creates it shortly after the namespace, and a pod created before is refused.
wait_default_service_account() {
  local ns="$1" deadline=$((SECONDS + ${2:-30}))
  until kubectl -n "$ns" get serviceaccount default >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "namespace $ns has no default ServiceAccount after ${2:-30}s" >&2
      return 1
    fi
    sleep 0.2
  done
}

# Runs the commands registered with `on_exit` when the script exits, the last registered first.
EXIT_ACTIONS=()
run_exit_actions() { local a; for a in "${EXIT_ACTIONS[@]}"; do eval "$a" || true; done; }
on_exit() { EXIT_ACTIONS=("$1" "${EXIT_ACTIONS[@]}"); trap run_exit_actions EXIT; }

# The local control plane for a test run: a running one as it is (e.g. `make demo`'s), else one
# started now (`up` recreates one of other kwok stages) and stopped at exit. Exports what the Rust
# live tests read.
use_local_cluster() {
  if ! "$CLUSTER" status; then
    "$CLUSTER" up
    on_exit '"$CLUSTER" down'
  fi
  export ECS_TEST_KUBECONFIG="$("$CLUSTER" kubeconfig)" ECS_TEST_KUBECTL="$BIN_DIR/kubectl"
}
