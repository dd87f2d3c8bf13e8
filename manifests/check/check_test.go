package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// testdata/good.yaml passes; each case below breaks it in one place, and the checker must report that place.
func TestGoodManifestsPass(t *testing.T) {
	report := check(t, readGood(t))
	if len(report.Problems) != 0 {
		t.Fatalf("problems in good.yaml: %v", report.Problems)
	}
	if report.Objects != 5 || report.EnvoyConfigs != 1 || report.SdsFiles != 1 {
		t.Fatalf("good.yaml: %d objects, %d Envoy configurations, %d SDS files", report.Objects, report.EnvoyConfigs, report.SdsFiles)
	}
}

func TestBrokenManifestsFail(t *testing.T) {
	cases := []struct{ name, old, new, want string }{
		{"unknown field", "  replicas: 1\n", "  replica: 1\n", `unknown field "spec.replica"`},
		{"duplicate field", "  replicas: 1\n", "  replicas: 1\n  replicas: 2\n", `key "replicas" already set`},
		{"unknown kind", "kind: PodDisruptionBudget", "kind: PodDisruptionBudgett", "PodDisruptionBudgett"},
		{"wrong type", "replicas: 1", "replicas: one", "Deployment/envoy"},
		{"missing ConfigMap", "name: envoy-config\n            items", "name: envoy-conf\n            items", `ConfigMap "envoy-conf" is not in the manifests`},
		{"missing ConfigMap key", "- { key: envoy.yaml", "- { key: envoy.yml", `has no key "envoy.yml"`},
		{"unmounted volume", "- { name: config, mountPath", "- { name: conf, mountPath", `mounts volume "conf"`},
		{"Service selects nothing", "selector: { app: envoy }\n  ports", "selector: { app: envoi }\n  ports", "Service/envoy: its selector selects no pod"},
		{"probe names a missing port", "tcpSocket: { port: grpc }", "tcpSocket: { port: admin }", `probes port "admin"`},
		{"Service names a missing port", "targetPort: grpc }", "targetPort: http }", `targetPort "http"`},
		{"PDB selects nothing", "maxUnavailable: 1\n  selector:\n    matchLabels: { app: envoy }", "maxUnavailable: 1\n  selector:\n    matchLabels: { app: x }", "PodDisruptionBudget/envoy"},
		{"ServiceMonitor names a missing port", "- port: grpc", "- port: metrics", `no port named "metrics"`},
		{"Envoy cluster without a name", "- name: backend\n", "- name: ''\n", "Name: value length must be at least 1"},
		{"Envoy cluster with an unknown policy", "lb_policy: ROUND_ROBIN", "lb_policy: ROUND_ROBBIN", "ROUND_ROBBIN"},
		{"Envoy route to a missing cluster", "route: { cluster: backend }", "route: { cluster: backends }", `routes to cluster "backends", which is not defined`},
		{"Envoy unknown field", "connect_timeout: 1s", "connect_timeout: 1s\n          connect_timeot: 1s", "connect_timeot"},
		{"Envoy typed config of an unknown type", "http.router.v3.Router", "http.router.v3.Routr", "Routr"},
		// Inside two Anys (the connection manager's filter's config): ValidateAll alone would not open it.
		{"Envoy rule inside a typed config", "max_tokens: 100", "max_tokens: 0", "MaxTokens: value must be greater than 0"},
		{"setting names an unmounted file", "UPSTREAM_CA_FILE, value: /etc/envoy/upstream/", "UPSTREAM_CA_FILE, value: /etc/envoy/upstreams/", "reads UPSTREAM_CA_FILE=/etc/envoy/upstreams/ca.crt, which no volumeMount provides"},
		{"Envoy reads an unmounted file", "trusted_ca: { filename: /etc/envoy/upstream/", "trusted_ca: { filename: /etc/envoy/certs/", "Envoy configuration reads /etc/envoy/certs/ca.crt, which no volumeMount provides"},
		{"Envoy TLS rule inside the transport socket", "validation_context:\n                  trusted_ca", "validation_context:\n                  max_verify_depth: 200\n                  trusted_ca", "MaxVerifyDepth: value must be less than or equal to 100"},
		{"Envoy listener without a port", "port_value: 50051 }\n          filter_chains", "port_value: 70000 }\n          filter_chains", "PortValue: value must be less than or equal to 65535"},
		// File-based SDS (sds.go): the file a path_config_source names, read as Envoy reads it, and what it reads.
		{"SDS file not mounted", "path: /etc/envoy/sds/upstream-tls.yaml", "path: /etc/envoy/secrets/upstream-tls.yaml", "reads the SDS file /etc/envoy/secrets/upstream-tls.yaml (secret upstream-tls), which no volumeMount provides"},
		{"SDS file with an unknown field", "watched_directory: { path: /etc/envoy/upstream }", "watched_dir: { path: /etc/envoy/upstream }", `SDS file /etc/envoy/sds/upstream-tls.yaml: proto:`},
		{"SDS file of an unknown type", "tls.v3.Secret\n", "tls.v3.Secrett\n", "Secrett"},
		// Inside the DiscoveryResponse's Any: its own ValidateAll would not open it.
		{"SDS Secret breaking a rule", "watched_directory: { path: /etc/envoy/upstream }", "watched_directory: { path: '' }", "Path: value length must be at least 1"},
		{"SDS file with two Secrets", "    resources:\n", "    resources:\n      - '@type': type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret\n        name: other\n        generic_secret: { secret: { inline_string: x } }\n", "holds 2 resources; Envoy takes exactly one Secret"},
		{"SDS Secret of another name", "        name: upstream-tls\n", "        name: upstream\n", `holds the Secret "upstream"; the bootstrap asks for "upstream-tls"`},
		{"SDS Secret of another kind", "tls_certificate:\n          certificate_chain: { filename: /etc/envoy/upstream/tls.crt }\n          private_key: { filename: /etc/envoy/upstream/tls.key }\n", "validation_context:\n          trusted_ca: { filename: /etc/envoy/upstream/ca.crt }\n", `Secret "upstream-tls" has no tls_certificate`},
		{"SDS Secret reads an unmounted file", "certificate_chain: { filename: /etc/envoy/upstream/", "certificate_chain: { filename: /etc/envoy/certs/", "SDS file /etc/envoy/sds/upstream-tls.yaml reads /etc/envoy/certs/tls.crt, which no volumeMount provides"},
		{"SDS Secret without a watched directory", "\n          watched_directory: { path: /etc/envoy/upstream }", "", "sets no watched_directory"},
		{"SDS Secret watching another directory", "watched_directory: { path: /etc/envoy/upstream }", "watched_directory: { path: /etc/envoy }", "watches /etc/envoy, but /etc/envoy/upstream/tls.crt is renewed at its mount point /etc/envoy/upstream"},
		{"SDS Secret on a subPath mount", "- { name: upstream, mountPath: /etc/envoy/upstream }", "- { name: upstream, mountPath: /etc/envoy/upstream, subPath: certs }", "/etc/envoy/upstream/tls.key is mounted by subPath, which the kubelet never renews"},
		{"SDS file watched in another directory", "watched_directory: { path: /etc/envoy/sds }", "watched_directory: { path: /etc/envoy }", "(SDS file /etc/envoy/sds/upstream-tls.yaml) watches /etc/envoy, but /etc/envoy/sds/upstream-tls.yaml is renewed at its mount point /etc/envoy/sds"},
	}
	good := readGood(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if bytes.Count(good, []byte(c.old)) != 1 {
				t.Fatalf("%q is not in good.yaml exactly once", c.old)
			}
			report := check(t, bytes.Replace(good, []byte(c.old), []byte(c.new), 1))
			joined := strings.Join(report.Problems, "\n")
			if !strings.Contains(joined, c.want) {
				t.Fatalf("want a problem containing %q, got:\n%s", c.want, joined)
			}
		})
	}
}

// A Secret's files on a volume the kubelet does not renew (an emptyDir a sidecar fills) are renewed however the
// sidecar does it: no watched_directory is asked for, and none is compared with the mount point.
func TestSdsWatchOnlyForRenewedVolumes(t *testing.T) {
	doc := strings.Replace(string(readGood(t)), "secret: { secretName: upstream-tls }", "emptyDir: {}", 1)
	doc = strings.Replace(doc, "\n          watched_directory: { path: /etc/envoy/upstream }", "", 1)
	if report := check(t, []byte(doc)); len(report.Problems) != 0 || report.SdsFiles != 1 {
		t.Fatalf("SDS on an emptyDir: want no problem, got %v", report.Problems)
	}
}

// The broker's ConfigMap may set only what the broker reads: a misspelt variable would silently not apply.
func TestUnknownSettingFails(t *testing.T) {
	doc := []byte(`apiVersion: v1
kind: ConfigMap
metadata: { name: broker-config, namespace: demo }
data: { BROKER_ACKS: replicated, BROKER_ACK: replicated, OTEL_SERVICE_NAME: broker }
---
apiVersion: apps/v1
kind: StatefulSet
metadata: { name: broker, namespace: demo }
spec:
  serviceName: broker
  selector: { matchLabels: { app: broker } }
  template:
    metadata: { labels: { app: broker } }
    spec:
      containers:
        - name: broker
          image: broker
          envFrom: [{ configMapRef: { name: broker-config } }]
---
apiVersion: v1
kind: Service
metadata: { name: broker, namespace: demo }
spec: { clusterIP: None, selector: { app: broker } }
`)
	report, err := CheckStream(bytes.NewReader(doc), Settings{"BROKER_ACKS", "OTEL_*"})
	if err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(report.Problems, "\n")
	if len(report.Problems) != 1 || !strings.Contains(joined, "sets BROKER_ACK, which is not a broker setting") {
		t.Fatalf("want one problem naming BROKER_ACK, got:\n%s", joined)
	}
}

// A broker whose gRPC port requires TLS cannot be probed there by the kubelet's plaintext gRPC probe.
func TestGrpcProbeOfTlsPortFails(t *testing.T) {
	doc := `apiVersion: v1
kind: ConfigMap
metadata: { name: broker-config, namespace: demo }
data: { BROKER_TLS_CERT: /tls/tls.crt, BROKER_HEALTH_PORT: "8081" }
---
apiVersion: apps/v1
kind: StatefulSet
metadata: { name: broker, namespace: demo }
spec:
  serviceName: broker
  selector: { matchLabels: { app: broker } }
  template:
    metadata: { labels: { app: broker } }
    spec:
      containers:
        - name: broker
          image: broker
          envFrom: [{ configMapRef: { name: broker-config } }]
          readinessProbe: { grpc: { port: 8081 } }
          livenessProbe: { grpc: { port: 8081 } }
          volumeMounts: [{ name: tls, mountPath: /tls }]
      volumes: [{ name: tls, secret: { secretName: broker-tls } }]
---
apiVersion: v1
kind: Service
metadata: { name: broker, namespace: demo }
spec: { clusterIP: None, selector: { app: broker } }
`
	if report := check(t, []byte(doc)); len(report.Problems) != 0 {
		t.Fatalf("probes on the health port: want no problem, got %v", report.Problems)
	}
	broken := strings.Replace(doc, "livenessProbe: { grpc: { port: 8081 } }", "livenessProbe: { grpc: { port: 50051 } }", 1)
	joined := strings.Join(check(t, []byte(broken)).Problems, "\n")
	if !strings.Contains(joined, "liveness probe asks gRPC port 50051, which requires TLS") {
		t.Fatalf("want a problem naming the liveness probe of port 50051, got:\n%s", joined)
	}
}

func readGood(t *testing.T) []byte {
	t.Helper()
	raw, err := os.ReadFile("testdata/good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func check(t *testing.T, doc []byte) *Report {
	t.Helper()
	report, err := CheckStream(bytes.NewReader(doc), nil)
	if err != nil {
		t.Fatal(err)
	}
	return report
}
