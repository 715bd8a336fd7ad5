#!/usr/bin/env bash
# Load test of the queue worker: realistic 20-turn chat jobs (half Mandarin,
# half English; scripts/bench/chat_jobs.py) through RabbitMQ into the store,
# with the release build, for SQLite and PostgreSQL.
#
# For each store:
#   1. throughput: a backlog of --jobs jobs is published first, then one
#      worker drains it; jobs/s = jobs / time to drain (the producer is idle,
#      so the worker, RabbitMQ and the database share the machine).
#   2. soak: the same worker runs --duration seconds while a producer on the
#      same machine keeps the queue topped up; every --sample seconds a line
#      with the interval's jobs/s and the worker's resident memory (RSS), to
#      show it stays flat. CSVs go to target/bench-queue/.
#
# Usage: scripts/bench-queue.sh [--store sqlite|postgres|both] [--jobs N]
#          [--duration SECONDS] [--sample SECONDS] [--with-models]
#          [--concurrency N] [--prefetch N]
#   --with-models   run the text models too (default: rules only,
#                   CALLQA_RULES_ONLY=1); needs scripts/setup.sh's models
# Needs RabbitMQ and PostgreSQL (scripts/services.sh), rabbitmqctl (to
# delete the bench's queues, prefix callqa-bench-<store>, vhost "/"; run as
# root or with passwordless sudo), curl, psql and python3. Other people's work on the machine skews the figures:
# the load average is printed before, during and after; run when quiet.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

STORES="sqlite postgres"; JOBS=20000; DURATION=300; SAMPLE=5; MODELS=0
CONCURRENCY=""; PREFETCH=""
while [ $# -gt 0 ]; do
  case "$1" in
    --store) case "$2" in both) STORES="sqlite postgres";; sqlite|postgres) STORES="$2";;
               *) echo "--store: sqlite, postgres or both" >&2; exit 2;; esac; shift 2;;
    --jobs) JOBS="$2"; shift 2;;
    --duration) DURATION="$2"; shift 2;;
    --sample) SAMPLE="$2"; shift 2;;
    --with-models) MODELS=1; shift;;
    --concurrency) CONCURRENCY="$2"; shift 2;;
    --prefetch) PREFETCH="$2"; shift 2;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0;;
    *) echo "unknown argument $1 (see --help)" >&2; exit 2;;
  esac
done

AMQP="${CALLQA_TEST_AMQP:-amqp://guest:guest@127.0.0.1:5672/%2f}"
PG="${CALLQA_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/callqa_test}"
PG_BASE="${PG%/*}"
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo -n"
for c in curl psql python3 rabbitmqctl awk; do
  command -v "$c" >/dev/null || { echo "bench-queue: needs $c" >&2; exit 1; }
done

log() { printf '%s\n' "$*" >&2; }
calc() { awk "BEGIN { printf \"%.6f\", $* }"; }
load() { cut -d' ' -f1-3 /proc/loadavg; }
now() { date +%s.%N; }
rss_mb() { awk '/^VmRSS/ {printf "%.1f", $2/1024}' "/proc/$1/status" 2>/dev/null || echo 0; }
# Deletes the bench's queues and exchanges (vhost "/"), before and after.
teardown() {
  local prefix="$1" q x
  for q in $($SUDO rabbitmqctl -q list_queues name 2>/dev/null | grep -F "$prefix." || true); do
    $SUDO rabbitmqctl -q delete_queue "$q" >/dev/null 2>&1 || true
  done
  for x in "$prefix.results" "$prefix.dead"; do
    $SUDO rabbitmqctl -q eval "rabbit_exchange:delete(rabbit_misc:r(<<\"/\">>, exchange, <<\"$x\">>), false, <<\"bench\">>)." >/dev/null 2>&1 || true
  done
}
cpu_s() { # user+system CPU seconds of a process
  awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14+$15)/hz}' "/proc/$1/stat"
}

cargo build --release --locked --quiet
BIN="$PWD/target/release/callqa"
OUT="$PWD/target/bench-queue"; mkdir -p "$OUT"
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
STAMP=$(date +%Y%m%d-%H%M%S)
GEN="python3 scripts/bench/chat_jobs.py"

log "bench-queue: $(nproc) cores, load average $(load) at start; $(date -u +%FT%TZ)"
[ "$(cut -d' ' -f1 /proc/loadavg | cut -d. -f1)" -ge 1 ] && \
  log "bench-queue: warning: the machine is busy (load ≥ 1); figures will be low"
log "bench-queue: generating $JOBS 20-turn chat jobs"
$GEN --count "$JOBS" --prefix "bench-$STAMP-backlog" > "$WORK/backlog.jsonl"

run_store() {
  local store="$1" prefix="callqa-bench-$1" db dbname="" addr pid
  case "$store" in
    sqlite) db="sqlite://$WORK/bench.db";;
    postgres)
      dbname="callqa_bench_$$"
      psql "$PG_BASE/postgres" -qtA -c "DROP DATABASE IF EXISTS $dbname" -c "CREATE DATABASE $dbname" >/dev/null
      db="$PG_BASE/$dbname";;
  esac
  export CALLQA_AMQP_URL="$AMQP" CALLQA_QUEUE_PREFIX="$prefix" CALLQA_DATABASE="$db" \
         CALLQA_RULES="$PWD/rules" CALLQA_MODELS="$PWD/models" CALLQA_METRICS_LISTEN=127.0.0.1:0 NO_COLOR=1
  if [ "$MODELS" = 1 ]; then unset CALLQA_RULES_ONLY; else export CALLQA_RULES_ONLY=1; fi
  [ -n "$CONCURRENCY" ] && export CALLQA_CONCURRENCY="$CONCURRENCY"
  [ -n "$PREFETCH" ] && export CALLQA_PREFETCH="$PREFETCH"
  teardown "$prefix"   # a previous run may have left a backlog

  log ""
  log "== $store: throughput (backlog of $JOBS jobs, then one worker drains it)"
  local t0 t1
  t0=$(now); "$BIN" submit "$WORK/backlog.jsonl" >/dev/null; t1=$(now)
  log "published $JOBS jobs in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s (callqa submit, confirmed)"

  RUST_LOG=warn,callqa=info "$BIN" worker 2> "$WORK/worker-$store.log" &
  pid=$!
  for _ in $(seq 1 300); do grep -q consuming "$WORK/worker-$store.log" && break; sleep 0.1; done
  grep -q consuming "$WORK/worker-$store.log" || { cat "$WORK/worker-$store.log" >&2; exit 1; }
  addr=$(grep -o 'addr=127.0.0.1:[0-9]*' "$WORK/worker-$store.log" | head -1 | cut -d= -f2)
  metric() { curl -s "http://$addr/metrics" | awk -v n="$1" '$1 == n {print $2}'; }

  local start cpu0 done_n=0 end cpu1 secs
  start=$(now); cpu0=$(cpu_s "$pid")
  while [ "$done_n" -lt "$JOBS" ]; do
    sleep 0.2; done_n=$(metric callqa_jobs_processed_total)
  done
  end=$(now); cpu1=$(cpu_s "$pid")
  secs=$(calc "$end - $start")
  local rate cpu_rate
  rate=$(calc "$JOBS / $secs")
  cpu_rate=$(calc "$JOBS / ($cpu1 - $cpu0 + 0.000001)")
  printf '%s throughput: %d jobs in %.1f s = %.0f jobs/s (worker CPU %.1f s: %.0f jobs per CPU-second; RSS %s MB; load %s)\n' \
    "$store" "$JOBS" "$secs" "$rate" "$(calc "$cpu1 - $cpu0")" "$cpu_rate" "$(rss_mb "$pid")" "$(load)"

  log ""
  log "== $store: soak for $DURATION s (producer keeps the queue topped up; sample every $SAMPLE s)"
  local csv="$OUT/$store-$STAMP.csv" submitted="$JOBS" chunk=10000 n=0
  echo "elapsed_s,processed,interval_jobs_per_s,rss_mb,in_flight,load1" > "$csv"
  # The producer: whenever fewer than two chunks wait, publish another.
  (
    child=""
    trap '[ -n "$child" ] && kill "$child" 2>/dev/null; exit 0' TERM
    i=0
    while true; do
      p=$(metric callqa_jobs_processed_total); p=${p:-0}
      if [ $((submitted - p)) -lt $((2 * chunk)) ]; then
        $GEN --count "$chunk" --start "$i" --prefix "bench-$STAMP-$store-soak" > "$WORK/chunk.jsonl" & child=$!
        wait "$child" || true; child=""
        "$BIN" submit "$WORK/chunk.jsonl" >/dev/null & child=$!
        wait "$child" || true; child=""
        submitted=$((submitted + chunk)); i=$((i + chunk))
      else
        sleep 1
      fi
    done
  ) &
  local producer=$!
  local soak0 prev prev_t p t rss first_rss="" max_rss=0 min_rss=999999
  soak0=$(now); prev=$(metric callqa_jobs_processed_total); prev_t=$soak0
  printf '%8s %10s %8s %8s %6s %s\n' elapsed processed jobs/s rss_MB inflt load >&2
  while :; do
    sleep "$SAMPLE"
    t=$(now); p=$(metric callqa_jobs_processed_total); rss=$(rss_mb "$pid")
    local el ir inflight l1
    el=$(calc "$t - $soak0"); ir=$(calc "($p - $prev) / ($t - $prev_t)")
    inflight=$(metric callqa_jobs_in_flight); l1=$(cut -d' ' -f1 /proc/loadavg)
    printf '%8.0f %10d %8.0f %8s %6s %s\n' "$el" "$p" "$ir" "$rss" "$inflight" "$l1" >&2
    printf '%.0f,%d,%.0f,%s,%s,%s\n' "$el" "$p" "$ir" "$rss" "$inflight" "$l1" >> "$csv"
    [ -z "$first_rss" ] && first_rss=$rss
    max_rss=$(awk -v a="$rss" -v b="$max_rss" 'BEGIN { print (a > b ? a : b) }')
    min_rss=$(awk -v a="$rss" -v b="$min_rss" 'BEGIN { print (a < b ? a : b) }')
    prev=$p; prev_t=$t; n=$((n + 1))
    awk -v a="$el" -v b="$DURATION" 'BEGIN { exit !(a >= b) }' && break
  done
  kill "$producer" 2>/dev/null; wait "$producer" 2>/dev/null || true
  local soak_rate
  soak_rate=$(calc "($p - $JOBS) / ($t - $soak0)")
  printf '%s soak: %.0f jobs/s over %.0f s with the producer on the same machine; RSS first %s MB, last %s MB, min %s MB, max %s MB; load %s\n' \
    "$store" "$soak_rate" "$(calc "$t - $soak0")" "$first_rss" "$rss" "$min_rss" "$max_rss" "$(load)"
  local dead
  dead=$(metric callqa_jobs_dead_lettered_total)
  kill -TERM "$pid"; local rc=0; wait "$pid" || rc=$?
  printf '%s: worker exited %d after SIGTERM; %s dead-lettered; samples in %s\n' "$store" "$rc" "$dead" "$csv"
  teardown "$prefix"
  [ -n "$dbname" ] && psql "$PG_BASE/postgres" -qtA -c "DROP DATABASE IF EXISTS $dbname WITH (FORCE)" >/dev/null
  return 0
}

for s in $STORES; do run_store "$s"; done
log ""
log "bench-queue: load average $(load) at the end; models: $([ "$MODELS" = 1 ] && echo on || echo "off (rules only)")"
