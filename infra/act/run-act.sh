#!/usr/bin/env bash
# Thin CLI over act_runner.py (same flags); exits with act's exit code.
#   infra/act/run-act.sh REPO_DIR EVENT EVENT.json [--local OWNER/REPO@REF=DIR]... [--env K=V]... \
#       [--secret K=V]... [--var K=V]... [-W WORKFLOW] [-j JOB] [--json]
set -euo pipefail
exec "${MODELRAIL_PYTHON:-python3}" "$(dirname "${BASH_SOURCE[0]}")/act_runner.py" "$@"
