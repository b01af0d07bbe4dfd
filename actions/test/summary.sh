#!/usr/bin/env bash
# Summarise the test action's step outcomes (MODELRAIL_* env) as Markdown: job summary, report file, outputs.
set -euo pipefail
report="${RUNNER_TEMP:-/tmp}/modelrail-test-report.md"
passed=true
row() {
  local icon="✅"
  case "$2" in
    success) ;;
    skipped | "") icon="⏭️" ;;
    *) icon="❌"; passed=false ;;
  esac
  echo "| $icon | $1 | ${2:-skipped} | $3 |"
}
{
  echo "| | check | result | fix |"
  echo "|---|---|---|---|"
  row "ruff check" "$MODELRAIL_LINT" "\`ruff check --fix .\`"
  row "ruff format" "$MODELRAIL_FORMAT" "\`ruff format .\`"
  row "pytest" "$MODELRAIL_PYTEST" "run \`pytest\` locally"
  row "data contract" "$MODELRAIL_CONTRACT" "the sample data must pass the raw-data suite"
} > "$report.rows"
if [[ "$passed" == true ]]; then headline="## modelrail test: ✅ passed"; else headline="## modelrail test: ❌ failed"; fi
{ echo "<!-- modelrail-report -->"; echo "$headline"; echo; cat "$report.rows"; } > "$report"
rm -f "$report.rows"
contract_md="${RUNNER_TEMP:-/tmp}/modelrail-contract.md"
# The contract's table only when it failed: 95 passed expectations would drown the comment.
if [[ "${MODELRAIL_CONTRACT}" == failure && -f "$contract_md" ]]; then { echo; cat "$contract_md"; } >> "$report"; fi
cat "$report" >> "$GITHUB_STEP_SUMMARY"
delimiter="modelrail_$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
{
  echo "passed=$passed"
  echo "report-path=$report"
  echo "report<<$delimiter"
  cat "$report"
  echo "$delimiter"
} >> "$GITHUB_OUTPUT"
if [[ "$passed" != true ]]; then
  echo "::error::modelrail test failed: see the job summary for which check and how to fix it"
  exit 1
fi
