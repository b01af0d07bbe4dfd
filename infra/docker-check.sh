#!/usr/bin/env bash
# Smoke test of what infra/docker-up.sh provides: build FROM the base image, run it
# without network, push it to the local registry and read it back through the
# registry API; if $PYTHON can import the docker SDK, ping the engine through it.
#
#   eval "$(infra/docker-up.sh)" && infra/docker-check.sh
set -euo pipefail

: "${DOCKER_HOST:?run: eval \"\$(infra/docker-up.sh)\" first}"
REGISTRY=${MODELRAIL_REGISTRY:-127.0.0.1:5000}
BASE_IMAGE=${MODELRAIL_BASE_IMAGE:-modelrail/python-base:bookworm}
PYTHON=${PYTHON:-python3}
TAG=check-$$

log() { printf '[docker-check] %s\n' "$*" >&2; }
ctx=$(mktemp -d)
trap 'rm -rf "$ctx" "$ctx.err"; docker rmi -f "modelrail/infra-check:$TAG" "$REGISTRY/modelrail/infra-check:$TAG" >/dev/null 2>&1 || true' EXIT

cat >"$ctx/Dockerfile" <<'EOF'
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
COPY check.py /app/check.py
RUN python3 /app/check.py build
CMD ["python3", "/app/check.py", "run"]
EOF
cat >"$ctx/check.py" <<'EOF'
import sys
print(f"infra-check {sys.argv[1]}: python {sys.version.split()[0]}")
EOF

log "docker build FROM $BASE_IMAGE"
# (stderr kept aside: docker CLI >= 23 without buildx prints a legacy-builder notice)
docker build -q --network=host --build-arg "BASE_IMAGE=$BASE_IMAGE" -t "modelrail/infra-check:$TAG" "$ctx" \
    >/dev/null 2>"$ctx.err" || { cat "$ctx.err" >&2; exit 1; }
out=$(docker run --rm --network=none "modelrail/infra-check:$TAG")
log "docker run: $out"
[[ $out == "infra-check run: python 3."* ]] || { log "unexpected output"; exit 1; }

docker tag "modelrail/infra-check:$TAG" "$REGISTRY/modelrail/infra-check:$TAG"
docker push -q "$REGISTRY/modelrail/infra-check:$TAG" >/dev/null
catalog=$(curl -sf "http://$REGISTRY/v2/_catalog")
tags=$(curl -sf "http://$REGISTRY/v2/modelrail/infra-check/tags/list")
log "registry catalog: $catalog"
log "registry tags: $tags"
[[ $catalog == *'"modelrail/infra-check"'* && $tags == *"\"$TAG\""* ]] || { log "pushed image not in registry"; exit 1; }

if "$PYTHON" -c 'import docker' 2>/dev/null; then
    "$PYTHON" -c 'import docker; assert docker.from_env().ping()'
    log "docker SDK for Python ($PYTHON): ping ok"
else
    log "docker SDK for Python not importable by $PYTHON: skipped"
fi
log "all checks passed"
