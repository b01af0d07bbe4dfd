#!/usr/bin/env bash
# Install modelrail from this action's own checkout (so it is exactly the ref the workflow pinned) and the model
# repository into a fresh virtual environment, and put it first on PATH for the rest of the job.
# Inputs arrive as MODELRAIL_* environment variables (see action.yml); run from the model repository's folder.
set -euo pipefail

source_dir="$(cd "${GITHUB_ACTION_PATH}/../.." && pwd)"
venv="${RUNNER_TEMP:-/tmp}/modelrail-venv-${GITHUB_JOB:-job}"
fail() {
  echo "::error::modelrail setup: $1"
  echo "### ❌ modelrail setup failed" >> "${GITHUB_STEP_SUMMARY:-/dev/null}"
  echo "$1" >> "${GITHUB_STEP_SUMMARY:-/dev/null}"
  exit 1
}

if [[ -n "${MODELRAIL_PYTHON_ENV}" ]]; then
  base="${MODELRAIL_PYTHON_ENV}/bin/python"
  [[ -x "$base" ]] || fail "python-env: no interpreter at $base (fix: point python-env at a virtual environment)"
  # A venv without its own packages that sees the prepared one's: fast, and it never changes the prepared env.
  rm -rf "$venv"
  "$base" -m venv --without-pip "$venv"
  purelib='import sysconfig; print(sysconfig.get_paths()["purelib"])'
  "$base" -c "$purelib" > "$("$venv/bin/python" -c "$purelib")/_modelrail_prepared_env.pth"
  install=("$venv/bin/python" -m pip install --quiet --no-index --no-deps --no-build-isolation)
  echo "${MODELRAIL_PYTHON_ENV}/bin" >> "$GITHUB_PATH"
else
  python -m venv "$venv"
  constraints=()
  if [[ -f "${MODELRAIL_CONSTRAINTS}" ]]; then
    constraints=(-c "${MODELRAIL_CONSTRAINTS}")
  else
    echo "::warning::modelrail setup: ${MODELRAIL_CONSTRAINTS} not found, dependencies are not pinned (fix: add a constraints file)"
  fi
  install=("$venv/bin/python" -m pip install --quiet "${constraints[@]}")
fi

"${install[@]}" "$source_dir" || fail "installing modelrail from $source_dir failed (see the log above)"
extras=""
[[ -n "${MODELRAIL_EXTRAS}" ]] && extras="[${MODELRAIL_EXTRAS}]"
"${install[@]}" --editable ".${extras}" || fail "installing the model repository ($PWD) failed (see the log above)"

echo "$venv/bin" >> "$GITHUB_PATH"
{
  echo "DVC_NO_ANALYTICS=1"
  echo "GX_ANALYTICS_ENABLED=false"
} >> "$GITHUB_ENV"
version="$("$venv/bin/python" -c 'from importlib.metadata import version; print(version("modelrail"))')"
echo "python-path=$venv/bin/python" >> "$GITHUB_OUTPUT"
echo "modelrail-version=$version" >> "$GITHUB_OUTPUT"
echo "modelrail $version from $source_dir into $venv${MODELRAIL_PYTHON_ENV:+ (layered on $MODELRAIL_PYTHON_ENV)}"
