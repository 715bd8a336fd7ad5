#!/usr/bin/env bash
# Makes sure the services callqa's tests talk to are installed and running:
# RabbitMQ on 127.0.0.1:5672 (guest/guest) and PostgreSQL on 127.0.0.1:5432
# with a `callqa_test` database. Installs them from Debian's packages on a
# fresh machine, starts them if stopped, and waits until they answer.
# Idempotent: on a machine where both already run it only checks.
set -euo pipefail

log() { printf 'callqa: %s\n' "$*"; }
die() { printf 'callqa: error: %s\n' "$*" >&2; exit 1; }
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() { # port seconds name
  for _ in $(seq 1 "$2"); do port_open "$1" && return 0; sleep 1; done
  die "$3 did not start listening on 127.0.0.1:$1 within $2 s"
}

apt_install() {
  log "installing Debian packages: $*"
  $SUDO apt-get update -qq >/dev/null || die "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null || die "apt-get install $* failed"
}

# ---- PostgreSQL -------------------------------------------------------------
if ! port_open 5432; then
  command -v pg_ctlcluster >/dev/null || apt_install postgresql
  ver=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -1)
  [ -n "$ver" ] || die "PostgreSQL is installed but has no cluster in /etc/postgresql"
  log "starting PostgreSQL $ver"
  $SUDO pg_ctlcluster --skip-systemctl-redirect "$ver" main start || true
  wait_port 5432 60 PostgreSQL
fi
PSQL=(psql -h 127.0.0.1 -U postgres -v ON_ERROR_STOP=1 -qtA)
if ! "${PSQL[@]}" -c 'select 1' >/dev/null 2>&1; then
  # A fresh Debian cluster allows only peer login: allow local TCP as trust
  # for the test user, as the workplace machines do.
  die "cannot connect to PostgreSQL as 'postgres' on 127.0.0.1 without a password; allow it in pg_hba.conf (host all all 127.0.0.1/32 trust)"
fi
if [ "$("${PSQL[@]}" -c "select 1 from pg_database where datname = 'callqa_test'")" != "1" ]; then
  "${PSQL[@]}" -c 'create database callqa_test' >/dev/null
  log "created database callqa_test"
fi

# ---- RabbitMQ ---------------------------------------------------------------
if ! port_open 5672; then
  command -v rabbitmq-server >/dev/null || apt_install rabbitmq-server
  log "starting RabbitMQ"
  $SUDO rabbitmq-server -detached || true
  $SUDO rabbitmqctl await_startup --timeout 120 >/dev/null 2>&1 || true
  wait_port 5672 120 RabbitMQ
fi
log "services: PostgreSQL and RabbitMQ are up"
