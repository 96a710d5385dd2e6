# Shared by the scripts in tests/cluster: where the repository, the control-plane script and the
# cached Kubernetes binaries are.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CLUSTER="$ROOT/tests/cluster/local-cluster.sh"
K8S_VERSION="${K8S_VERSION:-v1.37.2}"
TOOLS_CACHE="${TOOLS_CACHE:-$HOME/.cache/ecs-operator}"
BIN_DIR="${ECS_K8S_CACHE:-$TOOLS_CACHE/k8s-$K8S_VERSION}/bin"
kubectl() { "$BIN_DIR/kubectl" "$@"; }
