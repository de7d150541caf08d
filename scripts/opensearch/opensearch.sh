#!/usr/bin/env bash
# Evidence Hub: a real single-node OpenSearch 2.19.1 on 127.0.0.1 for tests,
# assembled only from artifacts published on Maven Central.
#
#   opensearch.sh fetch    download (cached) + assemble the distribution
#   opensearch.sh start    start one node (daemonised), wait for yellow/green, print URL
#   opensearch.sh stop     stop it (TERM, then KILL after a timeout); idempotent
#   opensearch.sh status   print state; exit 0 running+healthy, 1 running-unhealthy, 3 stopped
#   opensearch.sh clean    stop, then delete the run dir (data, logs, config)
#   opensearch.sh smoke    run the english-analyzer / knn / bulk-error checks against a running node
#   opensearch.sh url|home print the node URL / the distribution folder
#
# Environment:
#   EVIDENCE_HUB_CACHE        cache root            (default $HOME/.cache/evidence-hub)
#   OPENSEARCH_PORT           HTTP port             (default 9200)
#   OPENSEARCH_RUN_DIR        data/logs/config/pid  (default <cache>/opensearch/2.19.1/run)
#   OPENSEARCH_HEAP           heap size             (default 512m)
#   OPENSEARCH_START_TIMEOUT  seconds to wait for health (default 120)
#   OPENSEARCH_STOP_TIMEOUT   seconds between TERM and KILL (default 30)
#   OPENSEARCH_MAVEN_REPO     Maven repository URL  (default https://repo1.maven.org/maven2)
#   OPENSEARCH_FETCH_TOOL     curl | mvn            (default curl; mvn = `mvn dependency:copy`)
#   JAVA_HOME / OPENSEARCH_JAVA_HOME   Java 17 (detected from `java` on PATH if unset)
set -euo pipefail

OS_VERSION=2.19.1
KNN_VERSION=2.19.1.0
ANTLR_VERSION=4.13.1
ASM_VERSION=9.7
# Bump when the assembly recipe changes: a cached distribution with another stamp is rebuilt.
RECIPE=1

CACHE_ROOT="${EVIDENCE_HUB_CACHE:-$HOME/.cache/evidence-hub}"
CACHE="$CACHE_ROOT/opensearch/$OS_VERSION"
DOWNLOADS="$CACHE/downloads"
DIST="$CACHE/opensearch-$OS_VERSION"
STAMP="$DIST/.evidence-hub-assembled"
RUN_DIR="${OPENSEARCH_RUN_DIR:-$CACHE/run}"
PORT="${OPENSEARCH_PORT:-9200}"
HEAP="${OPENSEARCH_HEAP:-512m}"
START_TIMEOUT="${OPENSEARCH_START_TIMEOUT:-120}"
STOP_TIMEOUT="${OPENSEARCH_STOP_TIMEOUT:-30}"
MAVEN_REPO="${OPENSEARCH_MAVEN_REPO:-https://repo1.maven.org/maven2}"
FETCH_TOOL="${OPENSEARCH_FETCH_TOOL:-curl}"
URL="http://127.0.0.1:$PORT"
PIDFILE="$RUN_DIR/opensearch.pid"
CONSOLE_LOG="$RUN_DIR/logs/console.log"

# group:artifact:version:extension
ARTIFACTS=(
  "org.opensearch.distribution.integ-test-zip:opensearch:$OS_VERSION:zip"
  "org.opensearch.plugin:opensearch-knn:$KNN_VERSION:zip"
  "org.opensearch.plugin:lang-painless:$OS_VERSION:jar"
  "org.opensearch.plugin:opensearch-scripting-painless-spi:$OS_VERSION:jar"
  "org.antlr:antlr4-runtime:$ANTLR_VERSION:jar"
  "org.ow2.asm:asm:$ASM_VERSION:jar"
  "org.ow2.asm:asm-util:$ASM_VERSION:jar"
  "org.ow2.asm:asm-tree:$ASM_VERSION:jar"
  "org.ow2.asm:asm-commons:$ASM_VERSION:jar"
  "org.ow2.asm:asm-analysis:$ASM_VERSION:jar"
  "org.opensearch.plugin:analysis-common:$OS_VERSION:jar"
  # mapper-extras is published under the "-client" name (hasClientJar); same jar as the module.
  "org.opensearch.plugin:mapper-extras-client:$OS_VERSION:jar"
)

log() { echo "[opensearch.sh] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

detect_java() {
  if [[ -n "${OPENSEARCH_JAVA_HOME:-}" ]]; then export OPENSEARCH_JAVA_HOME; return; fi
  if [[ -z "${JAVA_HOME:-}" ]]; then
    local j
    j="$(command -v java || true)"
    [[ -n "$j" ]] || die "no java on PATH and JAVA_HOME unset (OpenSearch $OS_VERSION needs Java 11-21; 17 recommended)"
    JAVA_HOME="$(dirname "$(dirname "$(readlink -f "$j")")")"
  fi
  export JAVA_HOME
}

artifact_file() { # coords -> file name
  local g a v e
  IFS=: read -r g a v e <<<"$1"
  echo "$a-$v.$e"
}

sha1_ok() { # file expected
  local got
  got="$(sha1sum "$1" | cut -d' ' -f1)"
  [[ "$got" == "$2" ]]
}

download_one() {
  local coords="$1" g a v e rel file dest tmp sha m2
  IFS=: read -r g a v e <<<"$coords"
  file="$a-$v.$e"
  dest="$DOWNLOADS/$file"
  [[ -s "$dest" && -s "$dest.sha1" ]] && return 0
  rel="${g//.//}/$a/$v/$file"
  tmp="$dest.part.$$"
  m2="$HOME/.m2/repository/$rel"
  if [[ -s "$m2" ]]; then
    log "copy $coords from ~/.m2"
    cp "$m2" "$tmp"
  elif [[ "$FETCH_TOOL" == mvn ]]; then
    log "mvn dependency:copy $coords"
    local d="$DOWNLOADS/.mvn.$$"
    mkdir -p "$d"
    mvn -q -B -Dstyle.color=never dependency:copy -Dartifact="$coords" -DoutputDirectory="$d" -Dmdep.overWriteReleases=true >&2 \
      || { rm -rf "$d"; die "mvn dependency:copy failed for $coords"; }
    mv "$d/$file" "$tmp"; rm -rf "$d"
  else
    log "download $MAVEN_REPO/$rel"
    curl -fsSL --retry 3 --connect-timeout 20 --max-time 900 -o "$tmp" "$MAVEN_REPO/$rel" \
      || { rm -f "$tmp"; die "download failed: $MAVEN_REPO/$rel (set OPENSEARCH_FETCH_TOOL=mvn to use Maven)"; }
  fi
  # Verify against the repository's published SHA-1 (when reachable).
  if sha="$(curl -fsSL --retry 2 --connect-timeout 20 --max-time 60 "$MAVEN_REPO/$rel.sha1" 2>/dev/null)"; then
    sha="${sha%% *}"; sha="${sha//[$'\r\n\t ']/}"
    sha1_ok "$tmp" "$sha" || { rm -f "$tmp"; die "SHA-1 mismatch for $coords"; }
  else
    log "warning: could not fetch $rel.sha1; recording local checksum"
    sha="$(sha1sum "$tmp" | cut -d' ' -f1)"
  fi
  echo "$sha" >"$dest.sha1"
  mv -f "$tmp" "$dest"
}

write_descriptor() { # dir name classname description extended
  cat >"$1/plugin-descriptor.properties" <<PROPS
# Written by scripts/opensearch/opensearch.sh (the module zips are not on Maven Central).
description=$4
version=$OS_VERSION
name=$2
classname=$3
java.version=11
opensearch.version=$OS_VERSION
custom.foldername=
extended.plugins=$5
has.native.controller=false
PROPS
}

assemble() {
  local stage="$CACHE/.stage.$$"
  rm -rf "$CACHE"/.stage.*; mkdir -p "$stage"   # (we hold the fetch lock: old stages are stale)
  log "assembling distribution in $DIST"
  unzip -q "$DOWNLOADS/opensearch-$OS_VERSION.zip" -d "$stage"
  local home="$stage/opensearch-$OS_VERSION" m
  [[ -x "$home/bin/opensearch" ]] || die "unexpected layout in opensearch-$OS_VERSION.zip"

  # lang-painless: jar + spi + antlr + asm; needs createClassLoader/getClassLoader.
  m="$home/modules/lang-painless"; mkdir -p "$m"
  cp "$DOWNLOADS/lang-painless-$OS_VERSION.jar" "$DOWNLOADS/opensearch-scripting-painless-spi-$OS_VERSION.jar" \
     "$DOWNLOADS/antlr4-runtime-$ANTLR_VERSION.jar" "$m/"
  local x
  for x in asm asm-util asm-tree asm-commons asm-analysis; do cp "$DOWNLOADS/$x-$ASM_VERSION.jar" "$m/"; done
  write_descriptor "$m" lang-painless org.opensearch.painless.PainlessPlugin \
    "An easy, safe and fast scripting language for OpenSearch" ""
  cat >"$m/plugin-security.policy" <<'POL'
grant {
  // needed to generate runtime classes
  permission java.lang.RuntimePermission "createClassLoader";
  // needed to find the classloader to load whitelisted classes from
  permission java.lang.RuntimePermission "getClassLoader";
};
POL

  # analysis-common (english & co.); extends lang-painless (it ships a painless whitelist).
  m="$home/modules/analysis-common"; mkdir -p "$m"
  cp "$DOWNLOADS/analysis-common-$OS_VERSION.jar" "$m/"
  write_descriptor "$m" analysis-common org.opensearch.analysis.common.CommonAnalysisPlugin \
    'Adds "built in" analyzers to OpenSearch.' lang-painless

  # mapper-extras (rank_feature, scaled_float, search_as_you_type, token_count, ...).
  m="$home/modules/mapper-extras"; mkdir -p "$m"
  cp "$DOWNLOADS/mapper-extras-client-$OS_VERSION.jar" "$m/mapper-extras-$OS_VERSION.jar"
  write_descriptor "$m" mapper-extras org.opensearch.index.mapper.MapperExtrasPlugin \
    "Adds advanced field mappers" ""

  # k-NN plugin (no native libs in the Maven zip: only engine=lucene works).
  log "installing opensearch-knn $KNN_VERSION"
  OPENSEARCH_JAVA_OPTS="-Xms64m -Xmx256m -XX:ActiveProcessorCount=1 -XX:TieredStopAtLevel=1" \
    "$home/bin/opensearch-plugin" install --batch "file://$DOWNLOADS/opensearch-knn-$KNN_VERSION.zip" >&2
  [[ -f "$home/plugins/opensearch-knn/plugin-descriptor.properties" ]] || die "k-NN plugin install failed"

  echo "recipe=$RECIPE opensearch=$OS_VERSION knn=$KNN_VERSION" >"$home/.evidence-hub-assembled"
  rm -rf "$DIST"
  mv "$home" "$DIST"
  rm -rf "$stage"
}

cmd_fetch() {
  detect_java
  mkdir -p "$DOWNLOADS"
  exec 9>"$CACHE/.fetch.lock"
  flock -w 1800 9 || die "timed out waiting for another fetch (lock $CACHE/.fetch.lock)"
  local c
  for c in "${ARTIFACTS[@]}"; do download_one "$c"; done
  if [[ -f "$STAMP" && "$(cat "$STAMP")" == "recipe=$RECIPE opensearch=$OS_VERSION knn=$KNN_VERSION" ]]; then
    log "distribution ready (cached): $DIST"
  else
    if pid_alive; then die "a node from $DIST is running; stop it before re-assembling"; fi
    assemble
    log "distribution ready: $DIST"
  fi
  exec 9>&-
}

read_pid() { [[ -s "$PIDFILE" ]] && cat "$PIDFILE" || true; }

pid_alive() { # is the pid in the pid file alive and one of our OpenSearch JVMs?
  local pid
  pid="$(read_pid)"
  [[ -n "$pid" ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'org.opensearch.bootstrap.OpenSearch'
}

health() { # prints status colour or nothing
  curl -s --max-time 5 "$URL/_cluster/health?wait_for_status=yellow&timeout=2s" 2>/dev/null \
    | sed -n 's/.*"status":"\([a-z]*\)".*/\1/p' || true
}

show_log_tail() {
  local f
  for f in "$CONSOLE_LOG" "$RUN_DIR/logs/evidence-hub.log"; do
    [[ -s "$f" ]] || continue
    echo "----- tail -n 60 $f -----" >&2
    tail -n 60 "$f" >&2
  done
}

cmd_start() {
  if pid_alive; then
    if [[ -n "$(health)" ]]; then log "already running (pid $(read_pid))"; echo "$URL"; return 0; fi
    die "pid $(read_pid) is running but $URL does not answer; run stop first"
  fi
  if curl -s --max-time 2 -o /dev/null "$URL"; then
    die "something else already answers on $URL (set OPENSEARCH_PORT)"
  fi
  [[ -f "$STAMP" ]] || cmd_fetch
  detect_java
  mkdir -p "$RUN_DIR/data" "$RUN_DIR/logs" "$RUN_DIR/config" "$RUN_DIR/tmp"
  rm -f "$PIDFILE"
  # Private config per run dir (the node writes its keystore there); logs/dumps into the run dir.
  cp "$DIST/config/opensearch.yml" "$DIST/config/log4j2.properties" "$RUN_DIR/config/"
  mkdir -p "$RUN_DIR/config/jvm.options.d"
  sed -e "s#logs/#$RUN_DIR/logs/#g" -e "s#HeapDumpPath=data#HeapDumpPath=$RUN_DIR/data#" \
    "$DIST/config/jvm.options" >"$RUN_DIR/config/jvm.options"
  : >"$CONSOLE_LOG"

  # OpenSearch refuses to run as root ("can not run opensearch as root"). As root, run the JVM in
  # a new user namespace where our uid maps to an ordinary uid: the process keeps root's files
  # (same kernel uid outside, so files stay root-owned) but geteuid() returns a non-zero uid.
  local -a prefix=()
  if [[ "$(id -u)" == 0 ]]; then
    local ns_uid="${OPENSEARCH_USERNS_UID:-1000}"
    prefix=(unshare --user --map-user="$ns_uid" --map-group="$ns_uid")
    "${prefix[@]}" true 2>/dev/null \
      || die "running as root and 'unshare --user' is not permitted here; OpenSearch refuses to run as root - run as a non-root user"
  fi

  local t0=$SECONDS pid
  (
    cd "$RUN_DIR"
    export OPENSEARCH_PATH_CONF="$RUN_DIR/config"
    export OPENSEARCH_TMPDIR="$RUN_DIR/tmp"
    export OPENSEARCH_JAVA_OPTS="-Xms$HEAP -Xmx$HEAP ${OPENSEARCH_EXTRA_JAVA_OPTS:-}"
    exec nohup ${prefix[@]+"${prefix[@]}"} "$DIST/bin/opensearch" \
      -Ecluster.name=evidence-hub \
      -Enode.name=evidence-hub-node \
      -Ediscovery.type=single-node \
      -Enetwork.host=127.0.0.1 \
      -Ehttp.port="$PORT" \
      -Etransport.port="${OPENSEARCH_TRANSPORT_PORT:-9300-9400}" \
      -Epath.data="$RUN_DIR/data" \
      -Epath.logs="$RUN_DIR/logs" \
      -Ecluster.routing.allocation.disk.threshold_enabled=false \
      -Eaction.destructive_requires_name=false \
      </dev/null >>"$CONSOLE_LOG" 2>&1
  ) &
  pid=$!
  echo "$pid" >"$PIDFILE"   # bin/opensearch execs java, so this is the JVM's pid
  log "starting pid $pid on $URL (heap $HEAP, run dir $RUN_DIR)"

  local st=""
  while (( SECONDS - t0 < START_TIMEOUT )); do
    if ! kill -0 "$pid" 2>/dev/null; then
      wait "$pid" 2>/dev/null || true
      rm -f "$PIDFILE"
      log "OpenSearch exited during startup"
      show_log_tail
      exit 1
    fi
    st="$(health)"
    if [[ "$st" == green || "$st" == yellow ]]; then
      log "cluster health $st after $((SECONDS - t0))s"
      echo "$URL"
      return 0
    fi
    sleep 1
  done
  log "no yellow/green health within ${START_TIMEOUT}s (last: '${st:-no answer}'); stopping it"
  show_log_tail
  cmd_stop >/dev/null 2>&1 || true
  exit 1
}

cmd_stop() {
  local pid
  pid="$(read_pid)"
  if [[ -z "$pid" ]] || ! kill -0 "$pid" 2>/dev/null; then
    rm -f "$PIDFILE"; log "not running"; return 0
  fi
  if ! pid_alive; then
    rm -f "$PIDFILE"; log "stale pid file (pid $pid is not OpenSearch); removed"; return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  local t0=$SECONDS
  while kill -0 "$pid" 2>/dev/null && (( SECONDS - t0 < STOP_TIMEOUT )); do sleep 0.5; done
  if kill -0 "$pid" 2>/dev/null; then
    log "still alive after ${STOP_TIMEOUT}s; KILL"
    kill -KILL "$pid" 2>/dev/null || true
    sleep 1
  fi
  rm -f "$PIDFILE"
  log "stopped (pid $pid)"
}

cmd_status() {
  if ! pid_alive; then echo "stopped"; return 3; fi
  local st
  st="$(health)"
  echo "running pid=$(read_pid) url=$URL health=${st:-unknown} run_dir=$RUN_DIR"
  [[ "$st" == green || "$st" == yellow ]] || return 1
}

# ---- smoke checks (need a running node) ---------------------------------------------------
req() { # method path [body] -> prints response body, fails on curl error
  local m="$1" p="$2"
  if [[ $# -ge 3 ]]; then
    curl -sS --max-time 30 -X "$m" "$URL$p" -H 'Content-Type: application/json' --data-binary "$3"
  else
    curl -sS --max-time 30 -X "$m" "$URL$p"
  fi
}

check() { # name haystack needle
  if grep -q -- "$3" <<<"$2"; then echo "PASS $1"; else echo "FAIL $1: expected '$3' in: $2"; SMOKE_FAIL=1; fi
}

cmd_smoke() {
  SMOKE_FAIL=0
  local r
  r="$(req GET '/_cat/plugins?h=component,version')"; echo "plugins: $(tr '\n' ' ' <<<"$r")"
  r="$(req GET '/_nodes/_local/plugins?filter_path=nodes.*.modules.name')"; echo "modules: $r"
  req DELETE '/eh-smoke-*' >/dev/null || true

  # (a) english analyzer
  r="$(req PUT /eh-smoke-text '{"mappings":{"properties":{"body":{"type":"text","analyzer":"english"}}}}')"
  check "create index with english analyzer" "$r" '"acknowledged":true'
  r="$(req POST /eh-smoke-text/_analyze '{"analyzer":"english","text":"The running foxes jumped"}')"
  check "english analyzer stems (foxes->fox)" "$r" '"token":"fox"'
  req PUT '/eh-smoke-text/_doc/1?refresh=true' '{"body":"Researchers were running clinical trials"}' >/dev/null
  r="$(req POST /eh-smoke-text/_search '{"query":{"match":{"body":"trial run"}}}')"
  check "stemmed match query finds doc" "$r" '"_id":"1"'

  # (b) knn_vector with the Lucene HNSW engine
  r="$(req PUT /eh-smoke-knn '{"settings":{"index.knn":true,"number_of_shards":1,"number_of_replicas":0},
    "mappings":{"properties":{"v":{"type":"knn_vector","dimension":3,
    "method":{"name":"hnsw","engine":"lucene","space_type":"cosinesimil"}},"t":{"type":"keyword"}}}}')"
  check "create knn index (lucene/hnsw/cosinesimil)" "$r" '"acknowledged":true'
  r="$(req POST '/eh-smoke-knn/_bulk?refresh=true' '{"index":{"_id":"x"}}
{"v":[1,0,0],"t":"x"}
{"index":{"_id":"y"}}
{"v":[0,1,0],"t":"y"}
{"index":{"_id":"z"}}
{"v":[0,0,1],"t":"z"}
')"
  check "bulk-index vectors without errors" "$r" '"errors":false'
  r="$(req POST /eh-smoke-knn/_search '{"size":1,"query":{"knn":{"v":{"vector":[0.1,0.9,0.05],"k":2}}}}')"
  check "knn query nearest is y" "$r" '"hits":\[{"_index":"eh-smoke-knn","_id":"y"'

  # (c) bulk with a mapping error -> per-item errors
  req PUT /eh-smoke-bulk '{"mappings":{"properties":{"n":{"type":"integer"}}}}' >/dev/null
  r="$(req POST '/eh-smoke-bulk/_bulk?refresh=true' '{"index":{"_id":"ok"}}
{"n":1}
{"index":{"_id":"bad"}}
{"n":"not-a-number"}
')"
  check "bulk reports errors:true" "$r" '"errors":true'
  check "bad item has mapper_parsing_exception" "$r" 'mapper_parsing_exception'
  check "good item created (201)" "$r" '"_id":"ok".*"status":201'
  echo "bulk response: $r"

  req DELETE '/eh-smoke-*' >/dev/null || true
  if (( SMOKE_FAIL )); then echo "SMOKE: FAILED"; return 1; fi
  echo "SMOKE: OK"
}

case "${1:-}" in
  fetch) cmd_fetch ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  smoke) cmd_smoke ;;
  clean) cmd_stop; rm -rf "$RUN_DIR"; log "removed $RUN_DIR" ;;
  url) echo "$URL" ;;
  home) echo "$DIST" ;;
  *) echo "usage: $0 {fetch|start|stop|status|smoke|clean|url|home}" >&2; exit 2 ;;
esac
