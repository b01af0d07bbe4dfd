#!/usr/bin/env bash
# Start/stop a PostgreSQL server and an MLflow tracking server backed by it, on loopback only.
#
#   infra/services/postgres-mlflow.sh start    # idempotent; prints `export MLFLOW_TRACKING_URI=...` on stdout
#   infra/services/postgres-mlflow.sh stop     # idempotent
#   infra/services/postgres-mlflow.sh status   # exit 0 if both answer
#   infra/services/postgres-mlflow.sh env      # print the export lines only (no start)
#
# Environment (all optional):
#   MODELRAIL_SERVICES_DIR   state dir (default /var/tmp/modelrail-services); must be traversable by the
#                            `postgres` user when running as root
#   PGPORT                   PostgreSQL port on 127.0.0.1 (default 55432)
#   MODELRAIL_MLFLOW_PORT    MLflow port on 127.0.0.1 (default 5055)
#   MODELRAIL_PYTHON         python that has mlflow + psycopg2 installed (default python3)
#   MODELRAIL_MLFLOW_WORKERS MLflow server worker processes (default 1)
#   MODELRAIL_PG_BIN         PostgreSQL bin dir (default: newest /usr/lib/postgresql/*/bin)
#   MODELRAIL_PG_DRIVER      SQLAlchemy driver: psycopg2 | psycopg (default: whichever $MODELRAIL_PYTHON has)
#   MLFLOW_SERVER_ENABLE_JOB_EXECUTION  passed to mlflow (default here: false; true costs ~15 s of start time)
#   MODELRAIL_START_TIMEOUT  seconds to wait for each service (default 90)
#   MODELRAIL_MLFLOW_AUTH    1: MLflow's own authentication (`--app-name basic-auth`, needs mlflow[auth]), every
#                            user READ by default; `start` creates the admin and the users `ci` (pull-request
#                            jobs: log runs, read the registry) and `release` (publish and promote: edit the
#                            registered models it creates or is granted). Use its own MODELRAIL_SERVICES_DIR and
#                            ports. Passwords are made once, kept in $MODELRAIL_SERVICES_DIR/secrets/<user>
#                            (mode 600) and never printed; clients pass MLFLOW_TRACKING_USERNAME/PASSWORD.
#   MODELRAIL_MLFLOW_ARTIFACTS where the server keeps artifacts (default <state>/mlflow-artifacts); an s3://bucket/path
#                            puts them in object storage (infra/services/object-store.sh): the server then needs
#                            AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_ENDPOINT_URL (or MLFLOW_S3_ENDPOINT_URL)
#                            in its environment; clients still upload through the server and hold no credentials
#
# Logs go to stderr and to $MODELRAIL_SERVICES_DIR/{postgres/postgres.log,mlflow.log}.
set -euo pipefail

STATE_DIR="${MODELRAIL_SERVICES_DIR:-/var/tmp/modelrail-services}"
PG_PORT="${PGPORT:-55432}"
MLFLOW_PORT="${MODELRAIL_MLFLOW_PORT:-5055}"
PY="${MODELRAIL_PYTHON:-python3}"
WORKERS="${MODELRAIL_MLFLOW_WORKERS:-1}"
TIMEOUT="${MODELRAIL_START_TIMEOUT:-90}"
HOST=127.0.0.1
DB=mlflow
DB_USER=postgres

PG_DIR="$STATE_DIR/postgres"
PG_DATA="$PG_DIR/data"
PG_SOCK="$PG_DIR/run"
PG_LOG="$PG_DIR/postgres.log"
ART_DEST="${MODELRAIL_MLFLOW_ARTIFACTS:-$STATE_DIR/mlflow-artifacts}"
ML_LOG="$STATE_DIR/mlflow.log"
ML_PID="$STATE_DIR/mlflow.pid"

AUTH="${MODELRAIL_MLFLOW_AUTH:-0}"
SECRETS="$STATE_DIR/secrets"
AUTH_USERS=(ci release)

TRACKING_URI="http://$HOST:$MLFLOW_PORT"
# SQLAlchemy >= 2.1 maps a bare postgresql:// to the psycopg (v3) driver; name the driver explicitly so either
# psycopg2(-binary) or psycopg works. Resolved lazily (needs $PY) by backend_uri().
backend_uri() {
  local drv="${MODELRAIL_PG_DRIVER:-}"
  if [[ -z "$drv" ]]; then
    if "$PY" -c 'import psycopg2' 2>/dev/null; then drv=psycopg2
    elif "$PY" -c 'import psycopg' 2>/dev/null; then drv=psycopg
    else die "'$PY' has neither psycopg2 nor psycopg (pip install psycopg2-binary); set MODELRAIL_PYTHON"
    fi
  fi
  echo "postgresql+$drv://$DB_USER@$HOST:$PG_PORT/$DB"
}

log() { printf '[postgres-mlflow] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

pg_bin() {
  if [[ -n "${MODELRAIL_PG_BIN:-}" ]]; then echo "$MODELRAIL_PG_BIN"; return; fi
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)
  [[ -n "$d" && -x "$d/pg_ctl" ]] || die "PostgreSQL server binaries not found (set MODELRAIL_PG_BIN)"
  echo "$d"
}

# PostgreSQL refuses to run as root: run its tools as `postgres` when we are root, as ourselves otherwise.
as_pg() {
  if [[ $EUID -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

port_open() {  # port_open PORT -> 0 if something listens on 127.0.0.1:PORT
  (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null
}

pg_running() { as_pg "$(pg_bin)/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1; }

mlflow_pid() { [[ -f "$ML_PID" ]] && cat "$ML_PID" || true; }
mlflow_alive() { local p; p=$(mlflow_pid); [[ -n "$p" ]] && kill -0 "$p" 2>/dev/null; }
mlflow_healthy() { curl -fsS --max-time 2 "$TRACKING_URI/health" >/dev/null 2>&1; }

start_postgres() {
  local bin; bin=$(pg_bin)
  mkdir -p "$STATE_DIR"
  chmod 755 "$STATE_DIR"
  if [[ $EUID -eq 0 ]]; then
    mkdir -p "$PG_DIR"; chown postgres: "$PG_DIR"; chmod 700 "$PG_DIR"
    runuser -u postgres -- test -w "$PG_DIR" \
      || die "user postgres cannot write $PG_DIR (every parent dir needs o+x); choose another MODELRAIL_SERVICES_DIR"
  else
    mkdir -p "$PG_DIR"; chmod 700 "$PG_DIR"
  fi
  as_pg mkdir -p "$PG_SOCK"

  if [[ ! -f "$PG_DATA/PG_VERSION" ]]; then
    log "initdb $PG_DATA"
    as_pg "$bin/initdb" -D "$PG_DATA" -U "$DB_USER" -A trust -E UTF8 --locale=C.UTF-8 >>"$PG_LOG.init" 2>&1 \
      || { cat "$PG_LOG.init" >&2; die "initdb failed"; }
  fi

  if pg_running; then
    log "postgres already running (port $PG_PORT)"
  else
    if port_open "$PG_PORT"; then die "port $HOST:$PG_PORT is already taken by another process"; fi
    log "starting postgres on $HOST:$PG_PORT"
    # listen on loopback TCP only, socket in a private dir (not /var/run/postgresql), no fsync: test data only
    as_pg "$bin/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t "$TIMEOUT" \
      -o "-c listen_addresses=$HOST -p $PG_PORT -k $PG_SOCK -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
      start >&2 || { tail -n 30 "$PG_LOG" >&2 || true; die "postgres did not start"; }
  fi

  if ! as_pg "$bin/psql" -h "$HOST" -p "$PG_PORT" -U "$DB_USER" -d postgres -tAc \
        "SELECT 1 FROM pg_database WHERE datname='$DB'" | grep -q 1; then
    log "creating database $DB"
    as_pg "$bin/createdb" -h "$HOST" -p "$PG_PORT" -U "$DB_USER" "$DB"
  fi
}

start_mlflow() {
  if mlflow_alive && mlflow_healthy; then
    log "mlflow already running (pid $(mlflow_pid), $TRACKING_URI)"
    return
  fi
  if mlflow_alive; then
    log "mlflow pid $(mlflow_pid) alive but not healthy yet; waiting"
  else
    if port_open "$MLFLOW_PORT"; then die "port $HOST:$MLFLOW_PORT is already taken by another process"; fi
    "$PY" -c 'import mlflow' 2>/dev/null || die "'$PY' has no mlflow; set MODELRAIL_PYTHON"
    BACKEND_URI=$(backend_uri)
    if [[ "$ART_DEST" == s3://* ]]; then
      # MLflow's S3 store reads its endpoint from MLFLOW_S3_ENDPOINT_URL; credentials stay in the environment.
      export MLFLOW_S3_ENDPOINT_URL="${MLFLOW_S3_ENDPOINT_URL:-${AWS_ENDPOINT_URL:-}}"
      [[ -n "$MLFLOW_S3_ENDPOINT_URL" ]] || die "artifacts at $ART_DEST need AWS_ENDPOINT_URL or MLFLOW_S3_ENDPOINT_URL"
      [[ -n "${AWS_ACCESS_KEY_ID:-}" && -n "${AWS_SECRET_ACCESS_KEY:-}" ]] \
        || die "artifacts at $ART_DEST need AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment"
      "$PY" -c 'import boto3' 2>/dev/null || die "'$PY' has no boto3 (needed for s3:// artifacts)"
    else
      mkdir -p "$ART_DEST"
    fi
    log "starting mlflow server on $TRACKING_URI (backend $BACKEND_URI, artifacts $ART_DEST)"
    # The job runner (huey consumers for GenAI jobs) doubles start time on a small machine and is not needed here.
    export MLFLOW_SERVER_ENABLE_JOB_EXECUTION="${MLFLOW_SERVER_ENABLE_JOB_EXECUTION:-false}"
    local app=()
    if [[ "$AUTH" == 1 ]]; then
      "$PY" -c 'import flask_wtf' 2>/dev/null || die "'$PY' has no flask_wtf: install mlflow[auth] for MODELRAIL_MLFLOW_AUTH=1"
      write_auth_config
      app=(--app-name basic-auth)
    fi
    # setsid: own process group, so `stop` can end the server and its workers together. The admin password
    # reaches the server through its environment only (read at the first start, when it creates the admin).
    MLFLOW_AUTH_ADMIN_PASSWORD="$( [[ "$AUTH" == 1 ]] && cat "$SECRETS/admin" )" \
    MLFLOW_FLASK_SERVER_SECRET_KEY="$( [[ "$AUTH" == 1 ]] && cat "$SECRETS/flask-secret-key" )" \
    setsid "$PY" -m mlflow server "${app[@]}" \
      --backend-store-uri "$BACKEND_URI" \
      --serve-artifacts --artifacts-destination "$ART_DEST" \
      --host "$HOST" --port "$MLFLOW_PORT" --workers "$WORKERS" \
      >>"$ML_LOG" 2>&1 </dev/null &
    echo $! >"$ML_PID"
  fi
  local deadline=$((SECONDS + TIMEOUT))
  until mlflow_healthy; do
    if ! mlflow_alive; then tail -n 40 "$ML_LOG" >&2 || true; die "mlflow server exited (log: $ML_LOG)"; fi
    if (( SECONDS >= deadline )); then tail -n 40 "$ML_LOG" >&2 || true; die "mlflow not healthy after ${TIMEOUT}s"; fi
    sleep 0.2
  done
  log "mlflow healthy (pid $(mlflow_pid))"
  if [[ "$AUTH" == 1 ]]; then create_users; fi
}

secret() {  # secret NAME -> path of a password made once for NAME (mode 600)
  mkdir -p "$SECRETS"; chmod 700 "$SECRETS"
  if [[ ! -s "$SECRETS/$1" ]]; then
    (umask 077; "$PY" -c 'import secrets; print(secrets.token_urlsafe(24))' >"$SECRETS/$1")
  fi
  echo "$SECRETS/$1"
}

write_auth_config() {
  secret admin >/dev/null
  secret flask-secret-key >/dev/null  # the auth app's CSRF key: the same across restarts
  export MLFLOW_AUTH_CONFIG_PATH="$STATE_DIR/basic_auth.ini"
  cat >"$MLFLOW_AUTH_CONFIG_PATH" <<INI
[mlflow]
default_permission = READ
database_uri = sqlite:///$STATE_DIR/basic_auth.db
admin_username = admin
authorization_function = mlflow.server.auth:authenticate_request_basic_auth
INI
}

create_users() {  # idempotent: the admin creates each user of AUTH_USERS once
  local user
  for user in "${AUTH_USERS[@]}"; do
    secret "$user" >/dev/null
    MODELRAIL_AUTH_URI="$TRACKING_URI" MODELRAIL_AUTH_SECRETS="$SECRETS" MODELRAIL_AUTH_USER="$user" "$PY" - <<'PY' \
      || die "creating the MLflow user $user failed (log: $ML_LOG)"
import os, pathlib
from mlflow.server.auth.client import AuthServiceClient
from mlflow.exceptions import MlflowException

secrets = pathlib.Path(os.environ["MODELRAIL_AUTH_SECRETS"])
os.environ["MLFLOW_TRACKING_USERNAME"] = "admin"
os.environ["MLFLOW_TRACKING_PASSWORD"] = (secrets / "admin").read_text().strip()
user = os.environ["MODELRAIL_AUTH_USER"]
client = AuthServiceClient(os.environ["MODELRAIL_AUTH_URI"])
try:
    client.create_user(user, (secrets / user).read_text().strip())
except MlflowException as exc:
    if exc.error_code != "RESOURCE_ALREADY_EXISTS":
        raise
PY
  done
  log "mlflow users: admin, ${AUTH_USERS[*]} (passwords in $SECRETS)"
}

stop_mlflow() {
  local p; p=$(mlflow_pid)
  if [[ -n "$p" ]] && kill -0 "$p" 2>/dev/null; then
    log "stopping mlflow (process group $p)"
    kill -TERM -- "-$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
    if kill -0 "$p" 2>/dev/null; then kill -KILL -- "-$p" 2>/dev/null || true; fi
  else
    log "mlflow not running"
  fi
  rm -f "$ML_PID"
}

stop_postgres() {
  if [[ -f "$PG_DATA/PG_VERSION" ]] && pg_running; then
    log "stopping postgres"
    as_pg "$(pg_bin)/pg_ctl" -D "$PG_DATA" -m fast -w stop >&2
  else
    log "postgres not running"
  fi
}

print_env() {
  echo "export MLFLOW_TRACKING_URI=$TRACKING_URI"
  if [[ "$AUTH" == 1 ]]; then echo "export MODELRAIL_MLFLOW_SECRETS=$SECRETS"; fi
  echo "export MODELRAIL_MLFLOW_BACKEND_URI=$( (backend_uri) 2>/dev/null || echo "postgresql://$DB_USER@$HOST:$PG_PORT/$DB")"
}

case "${1:-}" in
  start)
    t0=$EPOCHREALTIME
    start_postgres
    start_mlflow
    log "ready in $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.1f", b-a}')s"
    print_env
    ;;
  stop)
    stop_mlflow
    stop_postgres
    ;;
  status)
    ok=0
    if [[ -f "$PG_DATA/PG_VERSION" ]] && pg_running; then log "postgres: running on $HOST:$PG_PORT"; else log "postgres: stopped"; ok=1; fi
    if mlflow_healthy; then log "mlflow: healthy at $TRACKING_URI"; else log "mlflow: not answering"; ok=1; fi
    exit $ok
    ;;
  env)
    print_env
    ;;
  *)
    echo "usage: $0 start|stop|status|env" >&2
    exit 2
    ;;
esac
