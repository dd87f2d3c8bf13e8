#!/usr/bin/env bash
# Checks the Kubernetes manifests without a cluster (issue 16), as .ci/run does:
#   - the checker (manifests/check) passes its own tests: a render broken one way at a time must fail it;
#   - every overlay renders with kustomize, and every object of the render decodes strictly into the Kubernetes
#     API types (or the Prometheus operator's), its references resolve, and Envoy's bootstrap validates against
#     Envoy's API (go-control-plane's types and validation rules), as do the SDS files it reads certificates
#     through (one Secret each, every file they name mounted, watched where the kubelet renews the Secret);
#   - the brokers' ConfigMap sets only variables the broker reads (a misspelt one would silently not apply);
#   - every RPC that Envoy routes by name is one the broker serves (proto/broker.proto);
#   - the in-namespace Prometheus's configuration passes `promtool check config`.
# kustomize and the checker are built from the Go module proxy into .tools/bin once (scripts/tools.sh), promtool
# is Debian's.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/tools.sh kustomize manifest-check prometheus

(cd manifests/check && GOFLAGS="-mod=readonly -buildvcs=false" go test ./...)

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# The variables the broker reads (core/config's SETTING_SPECS), and the OpenTelemetry SDK's own.
grep -ho "env: '[A-Z0-9_]*'" core/config/settings.ts core/config/health-settings.ts | cut -d"'" -f2 >"$out/settings.txt"
echo 'OTEL_*' >>"$out/settings.txt"
for overlay in manifests/overlays/*/; do
  name=$(basename "$overlay")
  .tools/bin/kustomize build "$overlay" >"$out/$name.yaml"
  .tools/bin/manifest-check -settings "$out/settings.txt" "$out/$name.yaml"
done

for envoy in manifests/base/envoy/envoy.yaml manifests/overlays/*/envoy.yaml; do
  for rpc in $(grep -o '/broker\.Broker/[A-Za-z]*' "$envoy" | sort -u | cut -d/ -f3); do
    grep -Eq "^\s*rpc $rpc\s*\(" proto/broker.proto || {
      echo "check-manifests: $envoy routes /broker.Broker/$rpc, which proto/broker.proto does not define" >&2
      exit 1
    }
  done
done

promtool check config --syntax-only manifests/base/monitoring/prometheus-config/prometheus.yml \
  manifests/overlays/secure/prometheus.yml
echo "check-manifests: every overlay renders and validates"
