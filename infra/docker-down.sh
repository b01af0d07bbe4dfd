#!/usr/bin/env bash
# Stop what infra/docker-up.sh started: the registry, then dockerd (via their pid
# files). Keeps the caches (rootfs tarball, images, registry storage) so the next
# `docker-up.sh` is warm.
#
#   infra/docker-down.sh           # stop, keep everything on disk
#   infra/docker-down.sh --purge   # also delete the engine's data root and the
#                                  # registry storage (keeps the rootfs tarball cache)
set -euo pipefail

STATE_DIR=${MODELRAIL_INFRA_DIR:-/var/tmp/modelrail-infra}
PURGE=0
case "${1:-}" in
    "") ;;
    --purge) PURGE=1 ;;
    *) echo "usage: $0 [--purge]" >&2; exit 2 ;;
esac

log() { printf '[docker-down] %s\n' "$*" >&2; }

# stop NAME PIDFILE EXPECTED-CMDLINE-WORD TIMEOUT
stop() {
    local name=$1 pidfile=$2 word=$3 timeout=$4 pid i
    if [ ! -s "$pidfile" ]; then
        log "$name: no pid file, nothing to stop"
        return 0
    fi
    pid=$(cat "$pidfile")
    if [ ! -d "/proc/$pid" ] || ! grep -q -- "$word" "/proc/$pid/cmdline" 2>/dev/null; then
        log "$name: pid $pid not running (stale pid file removed)"
        rm -f "$pidfile"
        return 0
    fi
    log "$name: stopping pid $pid"
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < timeout * 10; i++)); do
        [ -d "/proc/$pid" ] || break
        sleep 0.1
    done
    if [ -d "/proc/$pid" ]; then
        log "$name: still alive after ${timeout}s, sending KILL"
        kill -KILL "$pid" 2>/dev/null || true
        sleep 0.5
    fi
    rm -f "$pidfile"
}

[ -d "$STATE_DIR" ] || { log "no state dir $STATE_DIR, nothing to do"; exit 0; }

stop registry "$STATE_DIR/registry.pid" docker-registry 10
# dockerd stops running containers itself (default shutdown timeout 15s).
stop dockerd "$STATE_DIR/dockerd.pid" dockerd 40
# dockerd's own containerd normally exits with it; make sure ours did.
if [ -s "$STATE_DIR/exec/containerd/containerd.pid" ]; then
    cpid=$(cat "$STATE_DIR/exec/containerd/containerd.pid")
    if [ -d "/proc/$cpid" ] && grep -q containerd "/proc/$cpid/cmdline" 2>/dev/null; then
        log "containerd: stopping leftover pid $cpid"
        kill -TERM "$cpid" 2>/dev/null || true
        sleep 1
    fi
fi
rm -f "$STATE_DIR/docker.sock"

if [ "$PURGE" = 1 ]; then
    for d in docker-data exec registry; do
        [ -e "$STATE_DIR/$d" ] || continue
        awk -v d="$STATE_DIR/$d" '$2 == d || index($2, d "/") == 1 { print $2 }' /proc/self/mounts |
            sort -r | while read -r mp; do umount -l "$mp" 2>/dev/null || true; done
        rm -rf --one-file-system "${STATE_DIR:?}/$d"
        log "purged $STATE_DIR/$d"
    done
fi
log "stopped (caches kept in $STATE_DIR/cache)"
