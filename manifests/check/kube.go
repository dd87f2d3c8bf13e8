package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/json"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"
)

// Report is what one stream of documents came to.
type Report struct {
	Objects      int
	EnvoyConfigs int
	SdsFiles     int // SDS files of the mounted Envoy bootstraps found in ConfigMaps and validated (per container)
	Problems     []string
}

func (r *Report) problem(format string, args ...any) {
	r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
}

// The types a document may have: every built-in Kubernetes API group (client-go's scheme) and the Prometheus
// operator's CRDs that the manifests use. A kind outside these is a problem, not skipped: a typo in apiVersion
// or kind would otherwise pass unchecked.
func newScheme() (*runtime.Scheme, error) {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, err
	}
	if err := monitoringv1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	return scheme, nil
}

// Settings are the environment variables the broker reads: names, or prefixes ending in "*".
type Settings []string

// Allows says whether name is one of the settings.
func (s Settings) Allows(name string) bool {
	for _, setting := range s {
		if setting == name || (strings.HasSuffix(setting, "*") && strings.HasPrefix(name, strings.TrimSuffix(setting, "*"))) {
			return true
		}
	}
	return false
}

// CheckStream decodes every YAML document of r strictly, then checks what the objects refer to, and, when settings
// is not nil, that the broker's ConfigMaps set only those.
func CheckStream(r io.Reader, settings Settings) (*Report, error) {
	scheme, err := newScheme()
	if err != nil {
		return nil, err
	}
	// Strict: unknown fields and duplicate fields are errors, as `kubectl apply --validate=strict` makes them.
	decoder := json.NewSerializerWithOptions(json.DefaultMetaFactory, scheme, scheme, json.SerializerOptions{Yaml: true, Strict: true})
	report := &Report{}
	var objects []runtime.Object
	reader := utilyaml.NewYAMLReader(bufio.NewReader(r))
	for index := 1; ; index++ {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", index, err)
		}
		if len(bytes.TrimSpace(stripComments(doc))) == 0 {
			continue
		}
		report.Objects++
		obj, gvk, err := decoder.Decode(doc, nil, nil)
		if err != nil {
			report.problem("document %d (%s): %v", index, describe(doc), err)
			continue
		}
		if gvk.Kind == "List" {
			report.problem("document %d: a List; render objects one per document", index)
			continue
		}
		objects = append(objects, obj)
	}
	checkReferences(objects, settings, report)
	checkEnvoyConfigs(objects, report)
	return report, nil
}

func stripComments(doc []byte) []byte {
	var out bytes.Buffer
	for _, line := range strings.Split(string(doc), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		out.WriteString(line)
		out.WriteByte('\n')
	}
	return out.Bytes()
}

// describe names a document that failed to decode by its kind and name, read loosely.
func describe(doc []byte) string {
	var head struct {
		Kind     string `json:"kind"`
		Metadata struct {
			Name string `json:"name"`
		} `json:"metadata"`
	}
	if err := yaml.Unmarshal(doc, &head); err != nil || head.Kind == "" {
		return "unnamed"
	}
	return head.Kind + "/" + head.Metadata.Name
}
