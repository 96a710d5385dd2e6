#!/usr/bin/env bash
# `make bench-live`: the "bar to beat" numbers, measured on the local control plane.
#   - apply latency: from the API server receiving the ECSCluster's create to the response of the
#     operator's last object write (both from the audit log), for RUNS fresh clusters;
#   - idle writes: the operator's write requests during IDLE seconds with nothing changing, split
#     into object/status/event writes and leader-Lease renewals;
#   - memory: the operator's resident set (VmRSS) and peak (VmHWM) after that.
# Usage: bench-live.sh OPERATOR_BINARY
set -euo pipefail
source "$(dirname "$0")/common.sh"
OPERATOR="$(realpath "${1:?usage: bench-live.sh OPERATOR_BINARY}")"
RUNS="${RUNS:-5}"
IDLE="${IDLE:-60}"
NS=bench-live
WORK="$(mktemp -d)"
log() { echo "[bench-live] $*" >&2; }

"$CLUSTER" status || "$CLUSTER" up
STARTED="$(date -u +%Y-%m-%dT%H:%M:%S.%6NZ)"
export KUBECONFIG="$("$CLUSTER" kubeconfig)"
AUDIT="$(dirname "$KUBECONFIG")/logs/audit.log"

kubectl apply --server-side --force-conflicts -f "$ROOT/deploy/crd.yaml" >/dev/null
wait_established ecsclusters.ecs.ecs.io 60
kubectl delete namespace "$NS" --wait=true --ignore-not-found >/dev/null
kubectl create namespace "$NS" >/dev/null
kubectl -n "$NS" apply -f "$ROOT/deploy/service_account.yaml" -f "$ROOT/deploy/role.yaml" >/dev/null
sed "s/namespace: default/namespace: $NS/" "$ROOT/deploy/role_binding.yaml" | kubectl -n "$NS" apply -f - >/dev/null
USER_NAME="system:serviceaccount:$NS:ecs-operator"
sed "s|^  user:\$|  user:\n    as: $USER_NAME\n    as-groups: [system:serviceaccounts, \"system:serviceaccounts:$NS\", system:authenticated]|" \
  "$KUBECONFIG" > "$WORK/kubeconfig.yaml"

# The operator's binary and compiled plugins are read from disk, as in a freshly started pod. How
# much of a mapped file is resident depends on how its pages came into the page cache (seen here:
# the same binary 12.7 to 14.6 MiB resident, just built or read back), so those files' cached pages
# are dropped first (they are clean once synced; nothing else's are touched).
CACHE_DIR="${ECS_OPERATOR_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ecs-operator/plugins}"
sync
python3 - "$OPERATOR" "$CACHE_DIR" <<'PY'
import os, sys
binary, cache = sys.argv[1:]
files = [binary] + ([os.path.join(cache, f) for f in os.listdir(cache)] if os.path.isdir(cache) else [])
for path in files:
    fd = os.open(path, os.O_RDONLY)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    os.close(fd)
PY

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
RUST_LOG=warn "$OPERATOR" run --kubeconfig "$WORK/kubeconfig.yaml" --watch-namespace "$NS" --identity bench \
  --listen "127.0.0.1:$port" --admin-listen 127.0.0.1:0 2>"$WORK/operator.log" &
PID=$!
# The clusters carry the operator's finalizer (ZooKeeper cleanup, and there is no ZooKeeper here):
# delete them with the cleanup skipped while the operator still runs, else the namespace would
# hang in Terminating.
cleanup() {
  kubectl -n "$NS" annotate ecsclusters --all ecs.ecs.io/skip-zookeeper-cleanup=true --overwrite >/dev/null 2>&1 || true
  kubectl -n "$NS" delete ecsclusters --all --timeout=30s >/dev/null 2>&1 || true
  kill $PID 2>/dev/null || true
  kubectl delete namespace "$NS" --wait=false >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
deadline=$((SECONDS + 60))
until curl -fsS "127.0.0.1:$port/metrics" 2>/dev/null | grep -q '^ecs_operator_leader 1' \
  && curl -fsS "127.0.0.1:$port/readyz" >/dev/null 2>&1; do
  kill -0 "$PID" 2>/dev/null || { log "the operator exited:"; cat "$WORK/operator.log" >&2; exit 1; }
  [ $SECONDS -ge $deadline ] && { log "the operator was not ready and leading after 60 s"; exit 1; }
  sleep 0.1
done
log "operator ready (pid $PID); creating $RUNS clusters one after another"

for i in $(seq "$RUNS"); do
  name="bench$i"
  sed -e "s/name: \"ecs\"/name: \"$name\"/" -e "s/claimName: ecs-tier2/claimName: $name-tier2/" "$ROOT/deploy/examples/ecs.yaml" > "$WORK/$name.yaml"
  sed -e "s/name: ecs-tier2/name: $name-tier2/" "$ROOT/deploy/examples/pvc.yaml" | kubectl -n "$NS" apply -f - >/dev/null
  kubectl -n "$NS" create -f "$WORK/$name.yaml" >/dev/null
  deadline=$((SECONDS + 60))
  until [ "$(kubectl -n "$NS" get ecscluster "$name" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" = True ]; do
    # Readiness is the control plane's (volume provisioning, scheduling); the latency is measured anyway.
    [ $SECONDS -ge $deadline ] && { log "$name not Ready after 60 s; going on"; break; }
    sleep 0.2
  done
done
sleep 2
idle_from="$(date -u +%Y-%m-%dT%H:%M:%S.%6NZ)"
log "all Ready; idling ${IDLE}s"
sleep "$IDLE"
idle_to="$(date -u +%Y-%m-%dT%H:%M:%S.%6NZ)"
rss="$(awk '/VmRSS/{print $2}' /proc/$PID/status)"
anon="$(awk '/RssAnon/{print $2}' /proc/$PID/status)"
hwm="$(awk '/VmHWM/{print $2}' /proc/$PID/status)"
# The mappings behind that resident set, for a closer look (SMAPS_OUT=FILE).
[ -z "${SMAPS_OUT:-}" ] || cp "/proc/$PID/smaps" "$SMAPS_OUT"

python3 - "$AUDIT" "$USER_NAME" "$NS" "$RUNS" "$idle_from" "$idle_to" "$IDLE" "$rss" "$hwm" "$STARTED" "$anon" <<'PY'
import json, sys, statistics
from datetime import datetime
audit, user, ns, runs, idle_from, idle_to, idle, rss, hwm, started, anon = sys.argv[1:]
runs, idle = int(runs), int(idle)
ts = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00"))
events = []
for line in open(audit):
    try:
        e = json.loads(line)
    except ValueError:
        continue
    if e.get("stage") != "ResponseComplete" or e["requestReceivedTimestamp"] < started \
            or (e.get("objectRef") or {}).get("namespace") not in (ns, None):
        continue
    events.append(e)
who = lambda e: (e.get("impersonatedUser") or e.get("user") or {}).get("username")
writes = [e for e in events if who(e) == user and e["verb"] in ("create", "update", "patch", "delete")]
latencies = []
for i in range(1, runs + 1):
    name = f"bench{i}"
    created = [e for e in events if e["verb"] == "create" and e["objectRef"].get("resource") == "ecsclusters"
               and e["objectRef"].get("name") == name and e["objectRef"].get("namespace") == ns]
    objects = [e for e in writes if e["objectRef"].get("resource") not in ("ecsclusters", "events", "leases")
               and (e["objectRef"].get("name") or "").startswith(name + "-")]
    if not created or not objects:
        print(f"{name}: missing audit records", file=sys.stderr)
        continue
    start = ts(created[0]["requestReceivedTimestamp"])
    last = max(ts(e["stageTimestamp"]) for e in objects)
    latencies.append(((last - start).total_seconds() * 1000, len(objects)))
ms = sorted(l for l, _ in latencies)
print(f"apply latency, CR create -> last object written ({len(ms)} clusters, {latencies[0][1]} objects each):")
print(f"  p50 {statistics.median(ms):.1f} ms, min {ms[0]:.1f} ms, max {ms[-1]:.1f} ms")
window = [e for e in writes if idle_from < e["requestReceivedTimestamp"] < idle_to]
lease = [e for e in window if e["objectRef"].get("resource") == "leases"]
other = [e for e in window if e["objectRef"].get("resource") != "leases"]
print(f"idle writes over {idle} s with {runs} Ready clusters: {len(other)} object/status/event writes "
      f"({len(other) * 60 / idle:.1f}/min), {len(lease)} leader-Lease renewals ({len(lease) * 60 / idle:.1f}/min)")
for e in other[:10]:
    print(f"  {e['verb']} {e['objectRef'].get('resource')}/{e['objectRef'].get('name')}")
print(f"operator memory: VmRSS {int(rss) / 1024:.1f} MiB (of which anonymous {int(anon) / 1024:.1f} MiB; the rest "
      f"is the binary's and the compiled plugins' mapped pages), peak VmHWM {int(hwm) / 1024:.1f} MiB")
PY
curl -fsS "127.0.0.1:$port/metrics" | grep -E '^ecs_operator_(reconciles_total|api_writes_total)' || true
