#!/usr/bin/env bash
# Fault injection against the queue worker, on throwaway services of its own:
# a RabbitMQ node on port 5673 and a PostgreSQL cluster on port 5433, both
# created in a scratch folder and removed at the end, so nothing else on the
# machine is touched. Each scenario publishes chat jobs (scripts/bench/
# chat_jobs.py) plus poison messages, injects one fault while the worker
# runs, and then checks the books: every good job stored exactly once, every
# poison message dead-lettered once with a reason, nothing left in flight.
#
# Scenarios (all by default; --only NAME for one):
#   kill9        SIGKILL the worker every few seconds mid-batch, restart it
#   broker       stop and start the broker's app under a running worker
#   pgcrash      PostgreSQL stopped with -m immediate mid-batch, back 20 s later
#   sqlitefull   SQLite on a small tmpfs: fill the disk, free it (root only)
#   poison       malformed JSON, a 300 KB echoed field, a NUL byte, a job id
#                re-sent with other content, among good jobs
#
# Usage: scripts/fault-inject.sh [--jobs N] [--only NAME] [--bin PATH] [--keep]
#   --jobs N   good jobs per scenario (default 2000)
#   --bin      the callqa binary (default: builds target/release/callqa)
#   --keep     leave the scratch folder (logs, databases) for inspection
# Needs: rabbitmq-server and rabbitmqctl, PostgreSQL's server binaries
# (/usr/lib/postgresql/*/bin), python3, curl; root (or passwordless sudo)
# for the PostgreSQL cluster (run as user postgres) and the tmpfs.
# Prints one line per scenario and exits non-zero if any books do not balance.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

JOBS=2000; ONLY=""; BIN=""; KEEP=0
while [ $# -gt 0 ]; do
  case "$1" in
    --jobs) JOBS="$2"; shift 2;;
    --only) ONLY="$2"; shift 2;;
    --bin) BIN="$2"; shift 2;;
    --keep) KEEP=1; shift;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0;;
    *) echo "unknown argument $1 (see --help)" >&2; exit 2;;
  esac
done

log() { printf 'fault-inject: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo -n"
for c in rabbitmq-server rabbitmqctl python3 curl; do
  command -v "$c" >/dev/null || die "needs $c"
done
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$PGBIN/initdb" ] || die "needs PostgreSQL's server binaries (apt-get install postgresql)"

if [ -z "$BIN" ]; then
  cargo build --release --locked --quiet
  BIN="$PWD/target/release/callqa"
fi
BIN=$(realpath "$BIN")

WORK=$(mktemp -d /tmp/callqa-fault.XXXXXX); chmod 755 "$WORK"
NODE="callqa-fault-$$@localhost"; AMQP_PORT=5673; PG_PORT=5433
AMQP="amqp://guest:guest@127.0.0.1:$AMQP_PORT/%2f"
PG="postgres://postgres@127.0.0.1:$PG_PORT"
RMQ=(env RABBITMQ_NODENAME="$NODE" RABBITMQ_NODE_PORT="$AMQP_PORT"
     RABBITMQ_DIST_PORT=25673 RABBITMQ_MNESIA_BASE="$WORK/rmq/mnesia"
     RABBITMQ_LOG_BASE="$WORK/rmq/log" RABBITMQ_ENABLED_PLUGINS_FILE="$WORK/rmq/plugins"
     RABBITMQ_PID_FILE="$WORK/rmq/pid" RABBITMQ_CONFIG_FILE="$WORK/rmq/rabbitmq.conf")
ctl() { $SUDO "${RMQ[@]}" rabbitmqctl -n "$NODE" "$@"; }
pgctl() { $SUDO runuser -u postgres -- "$PGBIN/pg_ctl" -D "$WORK/pg/data" -l "$WORK/pg/log" -w "$@"; }

WORKER_PID=""
cleanup() {
  [ -n "$WORKER_PID" ] && kill -9 "$WORKER_PID" 2>/dev/null || true
  ctl stop >/dev/null 2>&1 || true
  pgctl stop -m immediate >/dev/null 2>&1 || true
  $SUDO umount "$WORK/tmpfs" 2>/dev/null || true
  if [ "$KEEP" = 1 ]; then log "kept $WORK"; else $SUDO rm -rf "$WORK"; fi
}
trap cleanup EXIT

log "$(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); scratch $WORK"
mkdir -p "$WORK/rmq" "$WORK/pg"; echo "[]." > "$WORK/rmq/plugins"
# Its own config: the system's may pin the listener to 5672.
echo "listeners.tcp.1 = 127.0.0.1:$AMQP_PORT" > "$WORK/rmq/rabbitmq.conf"
# Debian's rabbitmq-server runs the node as user rabbitmq.
id rabbitmq >/dev/null 2>&1 && $SUDO chown -R rabbitmq "$WORK/rmq"
$SUDO "${RMQ[@]}" rabbitmq-server -detached >/dev/null 2>&1
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for _ in $(seq 1 120); do port_open "$AMQP_PORT" && break; sleep 1; done
port_open "$AMQP_PORT" || die "the throwaway RabbitMQ node did not start (log: $WORK/rmq/log; --keep keeps it)"
$SUDO chown postgres "$WORK/pg"
$SUDO runuser -u postgres -- "$PGBIN/initdb" -D "$WORK/pg/data" -U postgres --auth=trust >/dev/null
pgctl -o "-p $PG_PORT -k $WORK/pg -c listen_addresses=127.0.0.1" start >/dev/null
log "throwaway RabbitMQ on :$AMQP_PORT and PostgreSQL on :$PG_PORT are up"

psql_q() { "$PGBIN/psql" "$PG/$1" -qtA -c "$2"; }
queue_len() { ctl -q list_queues name messages 2>/dev/null | awk -v q="$1" '$1 == q {print $2}'; }

# start_worker DB PREFIX: the worker in the background, waits until it consumes.
start_worker() {
  local db="$1" prefix="$2" logf="$WORK/worker-$2.log"
  CALLQA_AMQP_URL="$AMQP" CALLQA_QUEUE_PREFIX="$prefix" CALLQA_DATABASE="$db" \
  CALLQA_RULES="$PWD/rules" CALLQA_RULES_ONLY=1 CALLQA_METRICS_LISTEN=127.0.0.1:0 \
  CALLQA_RETRY_BACKOFF_MS=200 CALLQA_RETRY_BACKOFF_MAX_MS=2000 NO_COLOR=1 \
  RUST_LOG=warn,callqa=info "$BIN" worker >> "$logf" 2>&1 &
  WORKER_PID=$!
  for _ in $(seq 1 300); do
    [ "$(grep -c consuming "$logf" 2>/dev/null || true)" -gt "${STARTS:-0}" ] && break
    sleep 0.1
  done
  STARTS=$(grep -c consuming "$logf" || true)
}

submit() { CALLQA_AMQP_URL="$AMQP" CALLQA_QUEUE_PREFIX="$1" "$BIN" submit "$2" >/dev/null; }

# count_stored DB: distinct stored job ids and rows, "ids rows".
count_stored() {
  case "$1" in
    sqlite://*) python3 - "${1#sqlite://}" <<'EOF'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
print(*c.execute("select count(distinct job_id), count(*) from results").fetchone())
EOF
      ;;
    postgres://*) psql_q "${1##*/}" "select count(distinct job_id) || ' ' || count(*) from results";;
  esac
}

# wait_drained PREFIX EXPECTED DB: until the books show every good job stored
# and the jobs queue empty (at most 300 s).
wait_drained() {
  local prefix="$1" want="$2" db="$3" got
  for _ in $(seq 1 600); do
    got=$(count_stored "$db" 2>/dev/null | cut -d' ' -f1 || echo 0)
    if [ "${got:-0}" -ge "$want" ] && [ "$(queue_len "$prefix.jobs")" = 0 ]; then return 0; fi
    sleep 0.5
  done
  return 1
}

# wait_stored DB N: until at least N jobs are stored (at most 120 s); prints
# how many were stored when it returned, which is where the fault hits.
wait_stored() {
  local got=0
  for _ in $(seq 1 1200); do
    got=$(count_stored "$1" 2>/dev/null | cut -d' ' -f1 || echo 0); got=${got:-0}
    [ "$got" -ge "$2" ] && break
    sleep 0.1
  done
  echo "$got"
}

FAILED=0
HITS=""
# hit N: records where a fault hit; a fault after the last job tests nothing.
hit() { HITS="$HITS $1"; }
# verdict NAME DB PREFIX GOOD POISON: checks and prints the books.
verdict() {
  local name="$1" db="$2" prefix="$3" good="$4" poison="$5" ids rows dead
  read -r ids rows < <(count_stored "$db")
  dead=$(queue_len "$prefix.jobs.dead"); dead=${dead:-0}
  local ok=1 h missed=0
  [ "$ids" = "$good" ] && [ "$rows" = "$good" ] || ok=0
  [ "$dead" = "$poison" ] || ok=0
  for h in $HITS; do [ "$h" -ge "$good" ] && missed=1; done
  if [ "$missed" = 1 ]; then
    FAILED=1
    printf '%-11s MISSED a fault hit after the last job (stored at each fault:%s of %d); use more --jobs\n' \
      "$name" "$HITS" "$good"
  elif [ "$ok" = 1 ]; then
    printf '%-11s PASS  %d/%d jobs stored once each, %d poison dead-lettered; faults hit with%s stored; %d worker warnings (load %s)\n' \
      "$name" "$ids" "$good" "$dead" "${HITS:- none}" "$(grep -c WARN "$WORK/worker-$prefix.log" || true)" "$(cut -d' ' -f1 /proc/loadavg)"
  else
    FAILED=1
    printf '%-11s FAIL  stored ids %s rows %s of %d; dead letters %s of %d; faults hit with%s stored (logs: --keep)\n' \
      "$name" "$ids" "$rows" "$good" "$dead" "$poison" "$HITS"
  fi
  HITS=""
}

jobs_file() { python3 scripts/bench/chat_jobs.py --count "$JOBS" --prefix "fi-$1" > "$WORK/$1.jsonl"; }
stop_worker() { [ -n "$WORKER_PID" ] && kill -TERM "$WORKER_PID" 2>/dev/null && wait "$WORKER_PID" 2>/dev/null || true; WORKER_PID=""; }
want() { [ -z "$ONLY" ] || [ "$ONLY" = "$1" ]; }

if want kill9; then
  p=fi-kill9; db="sqlite://$WORK/kill9.db"; STARTS=0; jobs_file kill9
  submit $p "$WORK/kill9.jsonl"
  for k in 1 2 3 4 5; do
    start_worker "$db" $p; hit "$(wait_stored "$db" $((JOBS * k / 7)))"
    kill -9 "$WORKER_PID"; wait "$WORKER_PID" 2>/dev/null || true
  done
  start_worker "$db" $p
  wait_drained $p "$JOBS" "$db" || true
  stop_worker; verdict kill9 "$db" $p "$JOBS" 0
fi

if want broker; then
  p=fi-broker; db="$PG/fi_broker"; STARTS=0; jobs_file broker
  psql_q postgres "create database fi_broker" >/dev/null
  start_worker "$db" $p
  submit $p "$WORK/broker.jsonl"
  hit "$(wait_stored "$db" $((JOBS / 5)))"
  ctl stop_app >/dev/null; sleep 5; ctl start_app >/dev/null
  wait_drained $p "$JOBS" "$db" || true
  stop_worker; verdict broker "$db" $p "$JOBS" 0
fi

if want pgcrash; then
  p=fi-pgcrash; db="$PG/fi_pgcrash"; STARTS=0; jobs_file pgcrash
  psql_q postgres "create database fi_pgcrash" >/dev/null
  start_worker "$db" $p
  submit $p "$WORK/pgcrash.jsonl"
  hit "$(wait_stored "$db" $((JOBS / 5)))"
  pgctl stop -m immediate >/dev/null; sleep 20
  pgctl -o "-p $PG_PORT -k $WORK/pg -c listen_addresses=127.0.0.1" start >/dev/null
  wait_drained $p "$JOBS" "$db" || true
  stop_worker; verdict pgcrash "$db" $p "$JOBS" 0
fi

if want sqlitefull; then
  if [ "$(id -u)" -ne 0 ] && ! sudo -n true 2>/dev/null; then
    log "sqlitefull: skipped (mounting a tmpfs needs root)"; FAILED=1
  else
    p=fi-full; mkdir -p "$WORK/tmpfs"; STARTS=0; jobs_file full
    # Room for the jobs' results (about 4.3 kB each, twice over for the
    # WAL) and more: only the ballast below fills it.
    $SUDO mount -t tmpfs -o size=$((32 + JOBS * 12 / 1024))m tmpfs "$WORK/tmpfs"
    db="sqlite://$WORK/tmpfs/full.db"
    start_worker "$db" $p
    submit $p "$WORK/full.jsonl"
    hit "$(wait_stored "$db" $((JOBS / 5)))"
    # Fill the disk, hold it full for 10 s, free it.
    dd if=/dev/zero of="$WORK/tmpfs/ballast" bs=1M 2>/dev/null || true
    sleep 10; rm -f "$WORK/tmpfs/ballast"
    wait_drained $p "$JOBS" "$db" || true
    stop_worker; verdict sqlitefull "$db" $p "$JOBS" 0
  fi
fi

if want poison; then
  p=fi-poison; db="sqlite://$WORK/poison.db"; STARTS=0; jobs_file poison
  python3 - "$WORK/poison.jsonl" <<'EOF' >> "$WORK/poison.jsonl"
import json, sys
good = json.loads(open(sys.argv[1]).readline())
bad = []
bad.append('{"id": "fi-poison-broken", "kind": "chat", ')          # malformed JSON
j = dict(good, id="fi-poison-huge"); j["messages"] = [dict(good["messages"][0], at="x" * 300_000)]
bad.append(json.dumps(j))                                            # 300 KB echoed field
j = dict(good, id="fi-poison-nul"); j["agent"] = {"id": "A\u0000B"}
bad.append(json.dumps(j))                                            # NUL in a label
j = dict(good, id="fi-poison-unknown"); j["x" * 300_000] = 1
bad.append(json.dumps(j))                                            # 300 KB field name
print("\n".join(bad))
EOF
  start_worker "$db" $p
  submit $p "$WORK/poison.jsonl"
  wait_drained $p "$JOBS" "$db" || true
  sleep 2; stop_worker; verdict poison "$db" $p "$JOBS" 4
fi

exit "$FAILED"
