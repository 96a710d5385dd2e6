#!/usr/bin/env bash
# A standalone ZooKeeper server on 127.0.0.1 for the tests, run from jars that Maven resolves from
# Maven Central into $ZK_HOME/lib (no root, no apt). Needs java (17) and mvn.
#
#   zookeeper.sh install                  put the server and its runtime jars into $ZK_HOME, once
#   zookeeper.sh start [PORT] [DATA_DIR]  start a server (PORT 0 or absent: the port it had in
#                                         DATA_DIR, else a free one; DATA_DIR absent: a fresh temp
#                                         dir), wait until it serves, print 127.0.0.1:PORT last
#   zookeeper.sh status DATA_DIR          exit 0 if the server of DATA_DIR serves requests
#   zookeeper.sh stop DATA_DIR            stop it (TERM, then KILL) and wait until its port is closed
#   zookeeper.sh cli HOST:PORT CMD...     run one command of ZooKeeper's CLI (create, ls -R, get,
#                                         stat, deleteall...): its output on stdout, its exit code
#
# DATA_DIR holds zoo.cfg, the data (version-2/), zookeeper.pid, zookeeper.port and zookeeper.log.
set -euo pipefail

ZK_VERSION="${ZK_VERSION:-3.9.5}"
ZK_HOME="${ECS_ZK_CACHE:-${TOOLS_CACHE:-$HOME/.cache/ecs-operator}/zookeeper-$ZK_VERSION}"
# Pinned: Maven 3.8's own default (2.8) changes with the Maven that happens to be installed.
DEPENDENCY_PLUGIN="org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
# Small heap, serial GC and the C1 compiler only: a test server holds a few znodes (about 70 MB of
# RSS measured, as with the defaults when idle; these bound it on a 24 GiB machine, where the
# default heap is 6 GiB). Overridable, like the timeouts (seconds).
ZK_JAVA_OPTS="${ZK_JAVA_OPTS:--Xmx64m -Xss512k -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:-UsePerfData}"
ZK_START_TIMEOUT="${ZK_START_TIMEOUT:-20}"
ZK_STOP_TIMEOUT="${ZK_STOP_TIMEOUT:-10}"
ZK_CLI_TIMEOUT="${ZK_CLI_TIMEOUT:-30}"
# The jars without which the server or the CLI does not run (checked after every install).
# metrics-core, snappy-java and commons-cli are "provided" in ZooKeeper's POM, so Maven leaves them
# out unless asked, yet the server dies on its first snapshot without snappy (the process stays up,
# port bound, serving nothing), and on start without metrics-core; the CLI needs commons-cli and
# netty-handler (the server alone does not need netty).
REQUIRED_JARS=(zookeeper zookeeper-jute audience-annotations netty-handler netty-common netty-buffer
  netty-transport netty-codec netty-resolver netty-transport-native-unix-common slf4j-api
  logback-classic logback-core metrics-core snappy-java commons-cli commons-io)

log() { echo "[zookeeper] $*" >&2; }
die() { log "$*"; exit 1; }

# The throwaway project whose dependencies are the runtime: ZooKeeper's own dependencyManagement
# (its parent POM, imported) picks the versions of the provided jars it is released and tested with.
# netty-tcnative (TLS only, 6 native libraries) is left out; the admin server's Jetty and Jackson,
# and jline (the interactive shell), are never added.
pom() {
  cat <<XML
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>ecs-operator</groupId><artifactId>zookeeper-runtime</artifactId><version>0</version>
  <packaging>pom</packaging>
  <dependencyManagement><dependencies>
    <dependency><groupId>org.apache.zookeeper</groupId><artifactId>parent</artifactId>
      <version>$ZK_VERSION</version><type>pom</type><scope>import</scope></dependency>
  </dependencies></dependencyManagement>
  <dependencies>
    <dependency><groupId>org.apache.zookeeper</groupId><artifactId>zookeeper</artifactId>
      <version>$ZK_VERSION</version>
      <exclusions><exclusion><groupId>io.netty</groupId><artifactId>netty-tcnative-boringssl-static</artifactId></exclusion></exclusions>
    </dependency>
    <dependency><groupId>io.dropwizard.metrics</groupId><artifactId>metrics-core</artifactId></dependency>
    <dependency><groupId>org.xerial.snappy</groupId><artifactId>snappy-java</artifactId></dependency>
    <dependency><groupId>commons-cli</groupId><artifactId>commons-cli</artifactId></dependency>
    <dependency><groupId>ch.qos.logback</groupId><artifactId>logback-classic</artifactId></dependency>
  </dependencies>
</project>
XML
}

# Without a configuration logback logs everything at DEBUG to stdout, which would mix with the
# CLI's answers: everything goes to stderr, at the level of -Dzookeeper.log.level.
logback_xml() {
  cat <<'XML'
<configuration>
  <appender name="STDERR" class="ch.qos.logback.core.ConsoleAppender">
    <target>System.err</target>
    <encoder><pattern>%d{ISO8601} %-5p [%t:%C{1}@%L] - %m%n</pattern></encoder>
  </appender>
  <root level="${zookeeper.log.level:-INFO}"><appender-ref ref="STDERR"/></root>
</configuration>
XML
}

# What an installation is made from; `install` redoes one whose stamp differs.
install_hash() { { echo "$DEPENDENCY_PLUGIN"; pom; logback_xml; } | sha256sum | cut -d' ' -f1; }

installed() { [ "$(cat "$ZK_HOME/installed.sha256" 2>/dev/null || true)" = "$(install_hash)" ]; }

check_jars() {
  local lib="$1" a missing=()
  for a in "${REQUIRED_JARS[@]}"; do
    compgen -G "$lib/$a-[0-9]*.jar" >/dev/null || missing+=("$a")
  done
  compgen -G "$lib/zookeeper-$ZK_VERSION.jar" >/dev/null || missing+=("zookeeper-$ZK_VERSION.jar")
  [ "${#missing[@]}" -eq 0 ] || { log "missing from $lib: ${missing[*]}"; return 1; }
}

install() {
  if installed; then return 0; fi
  local tool
  for tool in java mvn sha256sum; do
    command -v "$tool" >/dev/null || die "$tool is required to install ZooKeeper (apt-get install openjdk-17-jdk-headless maven)"
  done
  log "installing ZooKeeper $ZK_VERSION into $ZK_HOME"
  mkdir -p "$ZK_HOME"
  local tmp; tmp="$(mktemp -d "$ZK_HOME/install.XXXXXX")"
  pom > "$tmp/pom.xml"
  # mvn's output to a file, shown on failure: stdout stays for the callers. -U: Maven caches a
  # failed download (say, a network hiccup) and would not retry it for a day.
  if ! mvn -B -q -U -Dstyle.color=never -f "$tmp/pom.xml" "$DEPENDENCY_PLUGIN:copy-dependencies" \
      -DincludeScope=runtime -DoutputDirectory="$tmp/lib" > "$tmp/mvn.log" 2>&1; then
    cat "$tmp/mvn.log" >&2
    rm -rf "$tmp"
    die "mvn could not resolve ZooKeeper $ZK_VERSION's runtime from Maven Central (output above)"
  fi
  check_jars "$tmp/lib" || { rm -rf "$tmp"; die "ZooKeeper $ZK_VERSION is incomplete; not installed"; }
  mkdir -p "$tmp/conf"
  logback_xml > "$tmp/conf/logback.xml"
  # Swapped in whole, the stamp last: an interrupted install is redone, never half used.
  rm -rf "$ZK_HOME/lib" "$ZK_HOME/conf"
  mv "$tmp/lib" "$ZK_HOME/lib"
  mv "$tmp/conf" "$ZK_HOME/conf"
  rm -rf "$tmp"
  install_hash > "$ZK_HOME/installed.sha256"
  log "ZooKeeper $ZK_VERSION ready: $(ls "$ZK_HOME/lib" | wc -l) jars in $ZK_HOME/lib"
}

# The java command line, into the array JAVA (the classpath's * is Java's, not the shell's).
java_cmd() {
  local opts; read -ra opts <<<"$ZK_JAVA_OPTS"
  JAVA=(java "${opts[@]}" -cp "$ZK_HOME/lib/*" -Dlogback.configurationFile="$ZK_HOME/conf/logback.xml")
}

# Whether pid $1 is alive and is the ZooKeeper server of $2/zoo.cfg: a pid file can outlive its
# process and its number be reused; a zombie (not reaped: the starting shell is gone and pid 1
# of a container may not reap) counts as dead.
is_our_server() {
  local pid="$1" dir="$2" state
  [ -n "$pid" ] && [ -r "/proc/$pid/stat" ] || return 1
  state="$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1)" || return 1
  [ "$state" != Z ] || return 1
  tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -qF "ZooKeeperServerMain $dir/zoo.cfg"
}

# The answer to four-letter word $1 on port $2 ("" when nothing answers within 2 s).
four_letter() {
  timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" && printf %s "$2" >&3 && cat <&3' _ "$2" "$1" 2>/dev/null || true
}

# A server is up once `srvr` reports a mode: before its database is loaded (and when loading it
# failed, the process still alive) it answers "not currently serving requests".
serving() { four_letter srvr "$1" | grep -q '^Mode: '; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# A port nothing listens on, below the kernel's usual ephemeral range (32768-60999) so that no
# outgoing connection takes it meanwhile; a server that still loses it to a race is retried by start.
free_port() {
  local p
  for _ in $(seq 100); do
    p=$((20000 + RANDOM % 12000))
    port_open "$p" || { echo "$p"; return; }
  done
  die "found no free port in 20000-31999"
}

data_dir_arg() {
  [ -n "${1:-}" ] || die "usage: zookeeper.sh $2 DATA_DIR"
  [ -d "$1" ] || die "$1 is not a directory"
  (cd "$1" && pwd)
}

# Starts the server of DATA_DIR $1 on port $2 and waits until it serves: 0 when it does, 2 when it
# exited because the port was taken, 1 on any other failure (the server killed).
launch() {
  local dir="$1" port="$2" pid from deadline
  # admin.enableServer=false: its web server would take port 8080, the operator's metrics port.
  # maxClientCnxns=0: the default caps connections per client address at 60, and every test client
  # comes from 127.0.0.1. forceSync=no: no fsync per write (a test server's data only has to
  # survive a restart of the process, not of the machine). preAllocSize in KiB, 64 MiB otherwise.
  cat > "$dir/zoo.cfg" <<CFG
tickTime=2000
dataDir=$dir
clientPort=$port
clientPortAddress=127.0.0.1
admin.enableServer=false
maxClientCnxns=0
forceSync=no
preAllocSize=4096
4lw.commands.whitelist=srvr,ruok,stat
CFG
  echo "$port" > "$dir/zookeeper.port"
  echo "=== start $(date -u +%FT%TZ) on 127.0.0.1:$port" >> "$dir/zookeeper.log"
  from="$(wc -l < "$dir/zookeeper.log")"
  # No stdin or stdout of ours: a caller reading this script's output, $(zookeeper.sh start), must
  # not wait for the server to exit. In DATA_DIR, where a JVM crash leaves its hs_err file.
  java_cmd
  (cd "$dir" && exec "${JAVA[@]}" -Dzookeeper.log.level=INFO \
    org.apache.zookeeper.server.ZooKeeperServerMain "$dir/zoo.cfg") </dev/null >> "$dir/zookeeper.log" 2>&1 &
  pid=$!
  echo "$pid" > "$dir/zookeeper.pid"
  deadline=$((SECONDS + ZK_START_TIMEOUT))
  until serving "$port"; do
    if ! is_our_server "$pid" "$dir"; then
      tail -n "+$((from + 1))" "$dir/zookeeper.log" | grep -q 'Address already in use' && return 2
      tail -n 20 "$dir/zookeeper.log" >&2
      log "the server exited before serving (log above: $dir/zookeeper.log)"
      return 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      tail -n 20 "$dir/zookeeper.log" >&2
      kill -KILL "$pid" 2>/dev/null || true
      log "not serving on 127.0.0.1:$port after ${ZK_START_TIMEOUT}s; killed (log: $dir/zookeeper.log)"
      return 1
    fi
    sleep 0.1
  done
  log "serving on 127.0.0.1:$port (pid $pid, data $dir)"
}

start() {
  local port="${1:-0}" dir="${2:-}" pid had auto="" attempt rc
  [[ "$port" =~ ^[0-9]+$ ]] || die "PORT must be a number, not $port"
  install
  if [ -z "$dir" ]; then dir="$(mktemp -d "${TMPDIR:-/tmp}/zookeeper.XXXXXX")"; fi
  mkdir -p "$dir"; dir="$(cd "$dir" && pwd)"
  pid="$(cat "$dir/zookeeper.pid" 2>/dev/null || true)"
  had="$(cat "$dir/zookeeper.port" 2>/dev/null || true)"
  if is_our_server "$pid" "$dir"; then
    [ "$port" = 0 ] || [ "$port" = "$had" ] || die "a server already runs on $dir (pid $pid, port $had)"
    serving "$had" || die "the server of $dir (pid $pid) runs but does not serve; see $dir/zookeeper.log"
    log "already running (pid $pid)"
    echo "127.0.0.1:$had"; return
  fi
  # A restart keeps the address the tests (and an operator) were given, unless told otherwise.
  if [ "$port" = 0 ]; then
    auto=1 port="$had"
    if [ -n "$port" ] && port_open "$port"; then log "port $port is taken now; picking another"; port=""; fi
    [ -n "$port" ] || port="$(free_port)"
  elif port_open "$port"; then
    die "port $port on 127.0.0.1 is taken"
  fi
  for attempt in 1 2 3; do
    rc=0; launch "$dir" "$port" || rc=$?
    if [ "$rc" = 0 ]; then echo "127.0.0.1:$port"; return; fi
    if [ "$rc" != 2 ] || [ -z "$auto" ] || [ "$attempt" = 3 ]; then break; fi
    log "port $port was taken meanwhile; trying another"
    port="$(free_port)"
  done
  [ "$rc" != 2 ] || die "port $port on 127.0.0.1 is taken (log: $dir/zookeeper.log)"
  die "ZooKeeper did not start"
}

status() {
  local dir pid port
  dir="$(data_dir_arg "${1:-}" status)"
  pid="$(cat "$dir/zookeeper.pid" 2>/dev/null || true)"
  port="$(cat "$dir/zookeeper.port" 2>/dev/null || true)"
  is_our_server "$pid" "$dir" || { log "no server running for $dir"; return 1; }
  serving "$port" || { log "the server of $dir (pid $pid) does not serve on 127.0.0.1:$port"; return 1; }
}

stop() {
  local dir pid port deadline
  dir="$(data_dir_arg "${1:-}" stop)"
  pid="$(cat "$dir/zookeeper.pid" 2>/dev/null || true)"
  port="$(cat "$dir/zookeeper.port" 2>/dev/null || true)"
  if is_our_server "$pid" "$dir"; then
    kill -TERM "$pid" 2>/dev/null || true
    deadline=$((SECONDS + ZK_STOP_TIMEOUT))
    while is_our_server "$pid" "$dir"; do
      if [ "$SECONDS" -ge "$deadline" ]; then
        log "pid $pid still running ${ZK_STOP_TIMEOUT}s after SIGTERM; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        deadline=$((SECONDS + ZK_STOP_TIMEOUT))
        while is_our_server "$pid" "$dir"; do
          [ "$SECONDS" -lt "$deadline" ] || die "pid $pid survived SIGKILL"
          sleep 0.1
        done
        break
      fi
      sleep 0.1
    done
  fi
  rm -f "$dir/zookeeper.pid"
  if [ -n "$port" ]; then
    deadline=$((SECONDS + ZK_STOP_TIMEOUT))
    while port_open "$port"; do
      [ "$SECONDS" -lt "$deadline" ] || die "port $port is still open ${ZK_STOP_TIMEOUT}s after the server stopped"
      sleep 0.1
    done
  fi
}

# The CLI's connection banner on stdout ("Connecting to ...", then the watcher's "WATCHER::" and
# "WatchedEvent state:SyncConnected ...", each after a blank line, from another thread), dropped
# wherever it lands so that stdout holds only the command's answer.
drop_banner() {
  awk -v first="Connecting to $1" '
    NR == 1 && $0 == first { next }
    $0 == "" { if (held) print ""; held = 1; next }
    $0 == "WATCHER::" || /^WatchedEvent state:[A-Za-z]+ type:None path:null/ { held = 0; next }
    { if (held) print ""; held = 0; print }
    END { if (held) print "" }'
}

# ZooKeeper's CLI given a command runs it and exits (no shell, no stdin read). A closed port fails
# at once (ConnectionLoss, exit 1); the timeout is for a server that accepts and never answers.
# ls and get answer on stdout; create, delete and errors ("Node does not exist: /x", exit code 1)
# on stderr.
cli() {
  local server="${1:-}"; shift || true
  [ -n "$server" ] && [ "$#" -gt 0 ] || die "usage: zookeeper.sh cli HOST:PORT COMMAND [ARGS...]"
  installed || die "ZooKeeper $ZK_VERSION is not installed: zookeeper.sh install"
  java_cmd
  timeout "$ZK_CLI_TIMEOUT" "${JAVA[@]}" -Dzookeeper.log.level=WARN \
    org.apache.zookeeper.ZooKeeperMain -server "$server" "$@" </dev/null | drop_banner "$server"
}

case "${1:-}" in
  install) install ;;
  start) shift; start "$@" ;;
  status) status "${2:-}" ;;
  stop) stop "${2:-}" ;;
  cli) shift; cli "$@" ;;
  *) echo "usage: $0 install | start [PORT] [DATA_DIR] | status DATA_DIR | stop DATA_DIR | cli HOST:PORT CMD..." >&2
     exit 2 ;;
esac
