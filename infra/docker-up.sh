#!/usr/bin/env bash
# Bring up a real Docker engine, a real container registry and a locally built
# Python base image on a Debian bookworm machine (root, no Docker Hub).
#
#   eval "$(infra/docker-up.sh)"     # sets DOCKER_HOST, MODELRAIL_REGISTRY, MODELRAIL_BASE_IMAGE
#
# Idempotent: every step is skipped when its result is already there. Only the
# final `export ...` lines go to stdout; everything else goes to stderr.
# See infra/README.md for the environment variables and timings.
set -euo pipefail

STATE_DIR=${MODELRAIL_INFRA_DIR:-/var/tmp/modelrail-infra}
REGISTRY_PORT=${MODELRAIL_REGISTRY_PORT:-5000}
BASE_IMAGE=${MODELRAIL_BASE_IMAGE:-modelrail/python-base:bookworm}
SUITE=${MODELRAIL_DEBIAN_SUITE:-bookworm}
# Extra Debian packages for the base image (space separated).
BASE_PACKAGES=${MODELRAIL_BASE_PACKAGES:-python3 python3-venv}
DOCKERD_TIMEOUT=${MODELRAIL_DOCKERD_TIMEOUT:-90}
REGISTRY_TIMEOUT=${MODELRAIL_REGISTRY_TIMEOUT:-30}

SOCK=$STATE_DIR/docker.sock
DATA_ROOT=$STATE_DIR/docker-data
EXEC_ROOT=$STATE_DIR/exec
CACHE_DIR=$STATE_DIR/cache
REGISTRY_ROOT=$STATE_DIR/registry
REGISTRY_CONFIG=$STATE_DIR/registry.yml
REGISTRY_ADDR=127.0.0.1:$REGISTRY_PORT
# Bumped whenever the way the base rootfs is made changes (invalidates the cache).
ROOTFS_RECIPE=3

CALLER_DOCKER_HOST=${DOCKER_HOST:-}
export DOCKER_HOST=unix://$SOCK

log() { printf '[docker-up] %s\n' "$*" >&2; }
die() { printf '[docker-up] ERROR: %s\n' "$*" >&2; exit 1; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1fs", b - a }'; }

case $REGISTRY_PORT in '' | *[!0-9]*) die "MODELRAIL_REGISTRY_PORT must be a number, got '$REGISTRY_PORT'" ;; esac

registry_answers() {
    [ "$(curl -s -o /dev/null --max-time 5 -w '%{http_code}' "http://$REGISTRY_ADDR/v2/" 2>/dev/null)" = 200 ]
}

# Not root: a hosted CI runner (GitHub's ubuntu-latest runs jobs as `runner`, in the `docker` group, with its own
# engine and the network open). Use that engine as it is, run the registry as a container on it, and pull the base
# the baked Dockerfile defaults to; nothing here needs root.
hosted_up() {
    local base=${MODELRAIL_HOSTED_BASE_IMAGE:-python:3.11-slim-bookworm}
    local registry_image=${MODELRAIL_REGISTRY_IMAGE:-registry:2} waited=0
    if [ -n "$CALLER_DOCKER_HOST" ]; then export DOCKER_HOST=$CALLER_DOCKER_HOST; else unset DOCKER_HOST; fi
    docker info >/dev/null 2>&1 ||
        die "not root, and no Docker engine answers this user (fix: run as root so this script starts its own, or start Docker and add $(id -un) to the docker group)"
    if registry_answers; then
        log "a registry already answers on $REGISTRY_ADDR"
    else
        docker rm -f modelrail-registry >/dev/null 2>&1 || true
        docker run -d --name modelrail-registry --restart=always -p "$REGISTRY_ADDR:5000" "$registry_image" >/dev/null ||
            die "could not start the registry container ($registry_image) on $REGISTRY_ADDR"
        until registry_answers; do
            [ "$waited" -lt "$REGISTRY_TIMEOUT" ] || die "the registry container did not answer on $REGISTRY_ADDR"
            sleep 1
            waited=$((waited + 1))
        done
    fi
    if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
        log "base image $BASE_IMAGE already present"
    else
        docker pull -q "$base" >/dev/null || die "docker pull $base failed"
        docker tag "$base" "$BASE_IMAGE"
    fi
    log "ready (the host's engine): DOCKER_HOST=${DOCKER_HOST:-default} registry=$REGISTRY_ADDR base=$BASE_IMAGE"
    printf 'export DOCKER_HOST=%q\n' "${DOCKER_HOST:-unix:///var/run/docker.sock}"
    printf 'export MODELRAIL_REGISTRY=%q\n' "$REGISTRY_ADDR"
    printf 'export MODELRAIL_BASE_IMAGE=%q\n' "$BASE_IMAGE"
}

if [ "$(id -u)" != 0 ]; then
    hosted_up
    exit 0
fi

mkdir -p "$STATE_DIR" "$CACHE_DIR" "$REGISTRY_ROOT"
# Serialise concurrent callers (two test sessions starting at once).
exec 9>"$STATE_DIR/up.lock"
flock 9
T_START=$(now)

# --------------------------------------------------------------------------
# 1. Debian packages, installed only when absent.
# --------------------------------------------------------------------------
pkg_installed() {
    [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

missing=()
for pkg in docker.io docker-registry debootstrap; do
    pkg_installed "$pkg" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    t=$(now)
    log "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } \
        >"$STATE_DIR/apt.log" 2>&1; then
        tail -n 30 "$STATE_DIR/apt.log" >&2 || true
        die "apt-get failed installing ${missing[*]} (log: $STATE_DIR/apt.log)"
    fi
    log "apt install took $(elapsed "$t")"
fi
command -v dockerd >/dev/null || die "dockerd not found after installing docker.io"
command -v docker >/dev/null || die "docker client not found"
command -v docker-registry >/dev/null || die "docker-registry not found after installing it"

# --------------------------------------------------------------------------
# 2. dockerd
# --------------------------------------------------------------------------
pid_alive() { # pidfile expected-name
    local pid
    [ -s "$1" ] || return 1
    pid=$(cat "$1")
    [ -d "/proc/$pid" ] || return 1
    grep -q -- "$2" "/proc/$pid/cmdline" 2>/dev/null
}

docker_answers() {
    [ -S "$SOCK" ] && curl -sf --max-time 5 --unix-socket "$SOCK" http://localhost/_ping >/dev/null 2>&1
}

if docker_answers; then
    log "dockerd already answering on $SOCK"
else
    t=$(now)
    if pid_alive "$STATE_DIR/dockerd.pid" dockerd; then
        log "dockerd (pid $(cat "$STATE_DIR/dockerd.pid")) is running but not answering yet; waiting"
    else
        rm -f "$SOCK" "$STATE_DIR/dockerd.pid"
        # A containerd left by a killed dockerd (or a pid file surviving a reboot)
        # makes the new dockerd wait on it and time out: stop ours, drop the pid file.
        cpidfile=$EXEC_ROOT/containerd/containerd.pid
        if [ -s "$cpidfile" ]; then
            cpid=$(cat "$cpidfile")
            if [ -d "/proc/$cpid" ] && grep -q -- "$EXEC_ROOT" "/proc/$cpid/cmdline" 2>/dev/null; then
                log "stopping leftover containerd (pid $cpid)"
                kill -TERM "$cpid" 2>/dev/null || true
                for _ in 1 2 3 4 5 6 7 8 9 10; do [ -d "/proc/$cpid" ] || break; sleep 0.3; done
                kill -KILL "$cpid" 2>/dev/null || true
            fi
            rm -f "$cpidfile"
        fi
        mkdir -p "$DATA_ROOT" "$EXEC_ROOT"
        log "starting dockerd (log: $STATE_DIR/dockerd.log)"
        # setsid + every fd redirected (and the lock fd 9 closed): the daemon must outlive this script and must
        # not hold the caller's pipes open (eval "$(...)" would hang otherwise).
        setsid dockerd \
            --iptables=false --ip6tables=false --bridge=none \
            --storage-driver=vfs \
            --data-root="$DATA_ROOT" --exec-root="$EXEC_ROOT" \
            --pidfile="$STATE_DIR/dockerd.pid" \
            -H "unix://$SOCK" \
            </dev/null >>"$STATE_DIR/dockerd.log" 2>&1 9>&- &
    fi
    deadline=$((SECONDS + DOCKERD_TIMEOUT))
    until docker_answers; do
        if [ $SECONDS -ge $deadline ]; then
            grep -v '\[core\]' "$STATE_DIR/dockerd.log" | tail -n 20 >&2 || true
            die "dockerd did not answer on $SOCK within ${DOCKERD_TIMEOUT}s (log above: $STATE_DIR/dockerd.log)"
        fi
        if ! pid_alive "$STATE_DIR/dockerd.pid" dockerd && ! pgrep -f -- "--exec-root=$EXEC_ROOT" >/dev/null; then
            sleep 1
            docker_answers && break
            grep -v '\[core\]' "$STATE_DIR/dockerd.log" | tail -n 20 >&2 || true
            die "dockerd exited during start-up (log above: $STATE_DIR/dockerd.log)"
        fi
        sleep 0.5
    done
    log "dockerd up after $(elapsed "$t")"
fi
docker info >/dev/null 2>&1 || die "'docker info' fails against $DOCKER_HOST"

# --------------------------------------------------------------------------
# 3. Registry on 127.0.0.1:PORT, filesystem storage in the state dir.
# --------------------------------------------------------------------------
cat >"$REGISTRY_CONFIG.tmp" <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $REGISTRY_ROOT
  delete:
    enabled: true
http:
  addr: $REGISTRY_ADDR
EOF
mv "$REGISTRY_CONFIG.tmp" "$REGISTRY_CONFIG"

if registry_answers; then
    if pid_alive "$STATE_DIR/registry.pid" docker-registry; then
        log "registry already answering on $REGISTRY_ADDR"
    else
        log "WARNING: something not started by this script answers on $REGISTRY_ADDR; using it"
    fi
else
    t=$(now)
    if ! pid_alive "$STATE_DIR/registry.pid" docker-registry; then
        log "starting docker-registry on $REGISTRY_ADDR (log: $STATE_DIR/registry.log)"
        setsid docker-registry serve "$REGISTRY_CONFIG" \
            </dev/null >>"$STATE_DIR/registry.log" 2>&1 9>&- &
        echo $! >"$STATE_DIR/registry.pid"
    fi
    deadline=$((SECONDS + REGISTRY_TIMEOUT))
    until registry_answers; do
        if ! pid_alive "$STATE_DIR/registry.pid" docker-registry; then
            tail -n 20 "$STATE_DIR/registry.log" >&2 || true
            die "docker-registry exited (port $REGISTRY_PORT taken?); log above: $STATE_DIR/registry.log"
        fi
        if [ $SECONDS -ge $deadline ]; then
            tail -n 20 "$STATE_DIR/registry.log" >&2 || true
            die "registry did not answer http://$REGISTRY_ADDR/v2/ within ${REGISTRY_TIMEOUT}s"
        fi
        sleep 0.3
    done
    log "registry up after $(elapsed "$t")"
fi

# --------------------------------------------------------------------------
# 4. Base image: debootstrap minbase + python3, cached as a tarball.
# --------------------------------------------------------------------------
debian_mirror() {
    # The host's own Debian mirror, read from its apt sources (never hard-coded).
    if [ -n "${MODELRAIL_DEBIAN_MIRROR:-}" ]; then
        echo "$MODELRAIL_DEBIAN_MIRROR"
        return
    fi
    local f uri=""
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        # deb822 stanzas: first URI of a "deb" stanza whose Suites has exactly $SUITE.
        uri=$(awk -v suite="$SUITE" '
            function flush() {
                if (types ~ /(^| )deb( |$)/ && (" " suites " ") ~ (" " suite " ") && uris != "" && !found) {
                    split(uris, u, " "); print u[1]; found = 1
                }
                types = ""; suites = ""; uris = ""
            }
            /^[ \t]*$/ { flush(); next }
            /^[ \t]*#/ { next }
            tolower($1) == "types:"  { $1 = ""; types = $0 }
            tolower($1) == "suites:" { $1 = ""; suites = $0 }
            tolower($1) == "uris:"   { $1 = ""; uris = $0 }
            END { flush() }' "$f")
        [ -n "$uri" ] && break
    done
    if [ -z "$uri" ]; then
        for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
            [ -f "$f" ] || continue
            uri=$(awk -v suite="$SUITE" '
                $1 == "deb" {
                    i = 2
                    if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
                    if ($(i + 1) == suite) { print $i; exit }
                }' "$f")
            [ -n "$uri" ] && break
        done
    fi
    [ -n "$uri" ] || die "no 'deb ... $SUITE' entry in /etc/apt/sources.list{,.d/*}; set MODELRAIL_DEBIAN_MIRROR"
    echo "${uri%/}"
}

umount_under() { # unmount everything mounted below $1 (deepest first)
    local dir mp
    dir=$(readlink -f "$1")
    awk -v d="$dir" '$2 == d || index($2, d "/") == 1 { print $2 }' /proc/self/mounts | sort -r |
        while read -r mp; do umount -l "$mp" 2>/dev/null || true; done
}

build_rootfs_tarball() { # tarball
    local tarball=$1 rootfs=$STATE_DIR/rootfs.tmp mirror t
    mirror=$(debian_mirror)
    if [ -e "$rootfs" ]; then
        umount_under "$rootfs"
        rm -rf --one-file-system "$rootfs"
    fi
    t=$(now)
    log "debootstrap --variant=minbase $SUITE (+ ${BASE_PACKAGES}) from the host's Debian mirror"
    # Apt in the image: no docs, no recommends, no cached debs (set before packages land).
    mkdir -p "$rootfs/etc/dpkg/dpkg.cfg.d"
    cat >"$rootfs/etc/dpkg/dpkg.cfg.d/01-modelrail-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
# no fsync per file: a throw-away rootfs, and much faster on a small VM
force-unsafe-io
EOF
    if ! debootstrap --variant=minbase --components=main \
        --include="$(echo "$BASE_PACKAGES" | tr -s ' ' ',')" \
        "$SUITE" "$rootfs" "$mirror" >"$STATE_DIR/debootstrap.log" 2>&1; then
        tail -n 30 "$STATE_DIR/debootstrap.log" >&2 || true
        [ -f "$rootfs/debootstrap/debootstrap.log" ] && tail -n 30 "$rootfs/debootstrap/debootstrap.log" >&2
        umount_under "$rootfs"
        die "debootstrap failed (log: $STATE_DIR/debootstrap.log)"
    fi
    umount_under "$rootfs"
    log "debootstrap took $(elapsed "$t")"

    mkdir -p "$rootfs/etc/apt/apt.conf.d"
    cat >"$rootfs/etc/apt/apt.conf.d/01-modelrail-slim" <<'EOF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Acquire::Languages "none";
EOF
    # Slim down: the image is copied whole per layer by the vfs driver.
    rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin \
        "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/cache/debconf/*-old \
        "$rootfs"/var/lib/dpkg/*-old "$rootfs"/var/log/* \
        "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/usr/share/locale/* \
        "$rootfs"/usr/share/lintian/*
    find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete 2>/dev/null || true
    find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
    : >"$rootfs/etc/machine-id"
    rm -f "$rootfs/etc/hostname" "$rootfs/etc/resolv.conf"

    t=$(now)
    tar -C "$rootfs" --numeric-owner --one-file-system \
        --exclude='./proc/*' --exclude='./sys/*' --exclude='./dev/*' \
        -cf "$tarball.tmp" .
    mv "$tarball.tmp" "$tarball"
    rm -rf --one-file-system "$rootfs"
    log "rootfs tarball: $tarball ($(du -h "$tarball" | cut -f1), tar took $(elapsed "$t"))"
}

if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    log "base image $BASE_IMAGE already present"
else
    key=$(printf '%s\n' "$SUITE" "$BASE_PACKAGES" "$ROOTFS_RECIPE" "$(uname -m)" | sha256sum | cut -c1-12)
    tarball=$CACHE_DIR/rootfs-$SUITE-$key.tar
    if [ -s "$tarball" ]; then
        log "reusing cached rootfs $tarball"
    else
        build_rootfs_tarball "$tarball"
        # Drop tarballs of older recipes / package lists.
        find "$CACHE_DIR" -maxdepth 1 -name "rootfs-$SUITE-*.tar" ! -path "$tarball" -delete
    fi
    t=$(now)
    log "importing $tarball as $BASE_IMAGE"
    docker import \
        --change 'ENV LANG=C.UTF-8' \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'CMD ["python3"]' \
        --message "modelrail base: debian $SUITE minbase + $BASE_PACKAGES" \
        "$tarball" "$BASE_IMAGE" >/dev/null
    log "docker import took $(elapsed "$t")"
fi

log "ready after $(elapsed "$T_START"): DOCKER_HOST=$DOCKER_HOST registry=$REGISTRY_ADDR base=$BASE_IMAGE"
printf 'export DOCKER_HOST=%q\n' "$DOCKER_HOST"
printf 'export MODELRAIL_REGISTRY=%q\n' "$REGISTRY_ADDR"
printf 'export MODELRAIL_BASE_IMAGE=%q\n' "$BASE_IMAGE"
