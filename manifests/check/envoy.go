package main

import (
	"fmt"
	"sort"
	"strings"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	// The typed extensions the bootstrap names in its Any fields: importing them registers their types, so
	// protojson resolves each typed_config and its content is validated too (an unknown type is an error).
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/local_ratelimit/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/retry/host/previous_hosts/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
)

// checkEnvoyConfigs validates every Envoy bootstrap carried by a ConfigMap (keys ending in envoy.yaml).
func checkEnvoyConfigs(objects []runtime.Object, report *Report) {
	for _, obj := range objects {
		cm, ok := obj.(*corev1.ConfigMap)
		if !ok {
			continue
		}
		keys := make([]string, 0, len(cm.Data))
		for k := range cm.Data {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if !strings.HasSuffix(k, "envoy.yaml") {
				continue
			}
			report.EnvoyConfigs++
			if err := ValidateEnvoyBootstrap([]byte(cm.Data[k])); err != nil {
				report.problem("ConfigMap/%s key %s: %v", cm.Name, k, err)
			}
		}
	}
}

// ValidateEnvoyBootstrap parses an Envoy bootstrap (YAML) as Envoy would: into the v3 Bootstrap message, rejecting
// unknown fields and unresolvable typed configs, then runs the API's validation rules (protoc-gen-validate) on it
// and on the content of every Any inside it, which ValidateAll alone does not open.
func ValidateEnvoyBootstrap(doc []byte) error {
	bootstrap, err := parseBootstrap(doc)
	if err != nil {
		return err
	}
	if err := bootstrap.ValidateAll(); err != nil {
		return err
	}
	if len(bootstrap.GetStaticResources().GetListeners()) == 0 || len(bootstrap.GetStaticResources().GetClusters()) == 0 {
		return fmt.Errorf("no static listeners or clusters")
	}
	if err := validateAnys(bootstrap.ProtoReflect(), "bootstrap"); err != nil {
		return err
	}
	return checkRouteClusters(bootstrap)
}

func parseBootstrap(doc []byte) (*bootstrapv3.Bootstrap, error) {
	js, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return nil, err
	}
	bootstrap := &bootstrapv3.Bootstrap{}
	if err := protojson.Unmarshal(js, bootstrap); err != nil {
		return nil, err
	}
	return bootstrap, nil
}

type validator interface{ ValidateAll() error }

func validateAnys(m protoreflect.Message, path string) error {
	var failure error
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Message() == nil {
			return true
		}
		at := path + "." + string(fd.Name())
		switch {
		case fd.IsList():
			for i := 0; i < v.List().Len() && failure == nil; i++ {
				failure = validateMessage(v.List().Get(i).Message(), fmt.Sprintf("%s[%d]", at, i))
			}
		case fd.IsMap():
			if fd.MapValue().Message() == nil {
				return true
			}
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				failure = validateMessage(mv.Message(), at+"["+k.String()+"]")
				return failure == nil
			})
		default:
			failure = validateMessage(v.Message(), at)
		}
		return failure == nil
	})
	return failure
}

func validateMessage(m protoreflect.Message, path string) error {
	a, ok := m.Interface().(*anypb.Any)
	if !ok {
		return validateAnys(m, path)
	}
	inner, err := a.UnmarshalNew()
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if v, ok := inner.(validator); ok {
		if err := v.ValidateAll(); err != nil {
			return fmt.Errorf("%s (%s): %w", path, a.GetTypeUrl(), err)
		}
	}
	return validateAnys(proto.Message(inner).ProtoReflect(), path+"("+a.GetTypeUrl()+")")
}

// checkRouteClusters finds what Envoy rejects at load but the validation rules cannot see: a route naming a cluster
// that the bootstrap does not define.
func checkRouteClusters(bootstrap *bootstrapv3.Bootstrap) error {
	clusters := map[string]bool{}
	for _, c := range bootstrap.GetStaticResources().GetClusters() {
		clusters[c.GetName()] = true
	}
	for _, listener := range bootstrap.GetStaticResources().GetListeners() {
		for _, chain := range listener.GetFilterChains() {
			for _, filter := range chain.GetFilters() {
				manager := &hcmv3.HttpConnectionManager{}
				if filter.GetTypedConfig() == nil || filter.GetTypedConfig().UnmarshalTo(manager) != nil {
					continue
				}
				for _, host := range manager.GetRouteConfig().GetVirtualHosts() {
					for _, route := range host.GetRoutes() {
						name := route.GetRoute().GetCluster()
						if name != "" && !clusters[name] {
							return fmt.Errorf("listener %s: virtual host %s routes to cluster %q, which is not defined", listener.GetName(), host.GetName(), name)
						}
					}
				}
			}
		}
	}
	return nil
}
