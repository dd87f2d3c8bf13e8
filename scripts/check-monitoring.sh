#!/usr/bin/env bash
# Checks the monitoring files (issue 16), without a cluster: the alert rules pass `promtool check rules` and their
# unit tests (`promtool test rules`, one file per group in rules/tests/), and the generated PrometheusRule and
# Grafana dashboard match their sources (scripts/monitoring.ts --check). promtool is Debian's (scripts/tools.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/tools.sh prometheus
dir=manifests/base/monitoring
promtool check rules "$dir/rules/broker.rules.yaml"
promtool test rules "$dir"/rules/tests/*.test.yaml
npx tsx scripts/monitoring.ts --check
