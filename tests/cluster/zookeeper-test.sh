#!/usr/bin/env bash
# zookeeper.sh end to end: install (a second install does nothing), start a server on a free port,
# build a znode tree /ecs/... with ZooKeeper's CLI, stop it (port closed, status fails), start it
# again on the same data dir and port and find the tree there, delete a subtree (what deleting a
# cluster does to /ecs/<name>), stop and clean up. Needs java and mvn; no Kubernetes.
set -euo pipefail
ZK="$(cd "$(dirname "$0")" && pwd)/zookeeper.sh"
log() { echo "[zookeeper-test] $*" >&2; }
passed=0
ok() { passed=$((passed + 1)); log "ok: $*"; }
fail() {
  log "FAILED: $*"
  [ -f "${DIR:-}/zookeeper.log" ] && tail -n 30 "$DIR/zookeeper.log" >&2
  echo "zookeeper-test: $passed passed, 1 failed"
  exit 1
}
# Milliseconds since $T0 (EPOCHREALTIME in microseconds, without the dot).
elapsed() { echo "$(( (${EPOCHREALTIME/./} - T0) / 1000 )) ms"; }
cli() { "$ZK" cli "$ADDR" "$@"; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

T0="${EPOCHREALTIME/./}"
"$ZK" install
log "install: $(elapsed)"
T0="${EPOCHREALTIME/./}"
"$ZK" install 2>"${TMPDIR:-/tmp}/zookeeper-test-install.$$"
second="$(cat "${TMPDIR:-/tmp}/zookeeper-test-install.$$")"; rm -f "${TMPDIR:-/tmp}/zookeeper-test-install.$$"
[ -z "$second" ] || fail "a second install did something: $second"
ok "second install did nothing ($(elapsed))"

DIR="$(mktemp -d "${TMPDIR:-/tmp}/zookeeper-test.XXXXXX")"
trap '"$ZK" stop "$DIR" >/dev/null 2>&1 || true; rm -rf "$DIR"' EXIT

T0="${EPOCHREALTIME/./}"
ADDR="$("$ZK" start 0 "$DIR" | tail -n 1)"
[[ "$ADDR" =~ ^127\.0\.0\.1:[0-9]+$ ]] || fail "start printed '$ADDR', not 127.0.0.1:PORT"
PORT="${ADDR##*:}"
ok "started on $ADDR in $(elapsed)"
"$ZK" status "$DIR" || fail "status after start"
[ "$(cat "$DIR/zookeeper.port")" = "$PORT" ] || fail "zookeeper.port does not hold $PORT"
ok "status 0, port $PORT in $DIR/zookeeper.port"

T0="${EPOCHREALTIME/./}"
cli create /ecs "" >/dev/null 2>&1 || fail "create /ecs"
cli create /ecs/demo hello >/dev/null 2>&1 || fail "create /ecs/demo"
cli create /ecs/demo/bookkeeper >/dev/null 2>&1 || fail "create /ecs/demo/bookkeeper"
cli create /ecs/other >/dev/null 2>&1 || fail "create /ecs/other"
ok "created 4 znodes with the CLI in $(elapsed)"

want_tree="$(printf '%s\n' /ecs /ecs/demo /ecs/demo/bookkeeper /ecs/other)"
check_tree() {
  local got
  got="$(cli ls -R /ecs | sort)" || fail "ls -R /ecs ($1)"
  [ "$got" = "$want_tree" ] || fail "ls -R /ecs ($1): got '$got', want '$want_tree'"
  got="$(cli get /ecs/demo)" || fail "get /ecs/demo ($1)"
  [ "$got" = hello ] || fail "get /ecs/demo ($1): got '$got'"
  ok "tree /ecs and the data of /ecs/demo are there ($1)"
}
check_tree "first start"

T0="${EPOCHREALTIME/./}"
"$ZK" stop "$DIR"
! port_open "$PORT" || fail "port $PORT still open after stop"
! "$ZK" status "$DIR" 2>/dev/null || fail "status 0 after stop"
ok "stopped in $(elapsed): port closed, status fails"

T0="${EPOCHREALTIME/./}"
again="$("$ZK" start "$PORT" "$DIR" | tail -n 1)"
[ "$again" = "$ADDR" ] || fail "restart printed '$again', want $ADDR"
ok "restarted on the same data dir and port in $(elapsed)"
check_tree "after a restart"

# What deleting a cluster does to its tree.
cli deleteall /ecs/demo >/dev/null 2>&1 || fail "deleteall /ecs/demo"
if err="$(cli stat /ecs/demo 2>&1 >/dev/null)"; then fail "stat /ecs/demo succeeded after deleteall"; fi
[[ "$err" == *"Node does not exist: /ecs/demo"* ]] || fail "stat /ecs/demo after deleteall said: $err"
got="$(cli ls /ecs)" || fail "ls /ecs after deleteall"
[ "$got" = "[other]" ] || fail "ls /ecs after deleteall: got '$got', want [other]"
ok "deleteall /ecs/demo removed the subtree, /ecs/other kept"

T0="${EPOCHREALTIME/./}"
"$ZK" stop "$DIR"
! port_open "$PORT" || fail "port $PORT still open after the second stop"
ok "stopped again in $(elapsed)"
echo "zookeeper-test: $passed passed, 0 failed"
