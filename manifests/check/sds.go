package main

import (
	"fmt"
	"path"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

const secretTypeURL = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret"

// sdsRef is a secret a bootstrap asks for by SDS from a file (a ConfigSource's path_config_source, or its older
// path): Envoy reads that file as a DiscoveryResponse and takes the one Secret in it, which must carry this name
// and, for a certificate or a validation context, that kind of content.
type sdsRef struct {
	name    string
	kind    string // "tls_certificate", "validation_context" or "" (another use: not checked)
	path    string
	watched string // the path_config_source's watched_directory, if any
}

// The fields of an SdsSecretConfig's parent that say which kind of Secret Envoy expects there.
var sdsKinds = map[protoreflect.Name]string{
	"tls_certificate_sds_secret_configs":   "tls_certificate",
	"validation_context_sds_secret_config": "validation_context",
}

// sdsRefs lists the file-based SDS secrets of a bootstrap, looking inside every typed config (transport sockets
// are Anys inside listeners and clusters).
func sdsRefs(bootstrap *bootstrapv3.Bootstrap) []sdsRef {
	var refs []sdsRef
	visitMessages(bootstrap.ProtoReflect(), "", func(field protoreflect.Name, m proto.Message) {
		config, ok := m.(*tlsv3.SdsSecretConfig)
		if !ok {
			return
		}
		source := config.GetSdsConfig()
		ref := sdsRef{name: config.GetName(), kind: sdsKinds[field], path: source.GetPath()}
		if p := source.GetPathConfigSource(); p != nil {
			ref.path, ref.watched = p.GetPath(), p.GetWatchedDirectory().GetPath()
		}
		if ref.path != "" {
			refs = append(refs, ref)
		}
	})
	return refs
}

// visitMessages calls visit with every message under m and the name of the field holding it, opening Anys.
func visitMessages(m protoreflect.Message, field protoreflect.Name, visit func(protoreflect.Name, proto.Message)) {
	if a, ok := m.Interface().(*anypb.Any); ok {
		if inner, err := a.UnmarshalNew(); err == nil {
			visitMessages(inner.ProtoReflect(), field, visit)
		}
		return
	}
	visit(field, m.Interface())
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsList() && fd.Message() != nil:
			for i := 0; i < v.List().Len(); i++ {
				visitMessages(v.List().Get(i).Message(), fd.Name(), visit)
			}
		case fd.IsMap() && fd.MapValue().Message() != nil:
			v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
				visitMessages(mv.Message(), fd.Name(), visit)
				return true
			})
		case !fd.IsList() && !fd.IsMap() && fd.Message() != nil:
			visitMessages(v.Message(), fd.Name(), visit)
		}
		return true
	})
}

// ValidateSdsFile parses an SDS file as Envoy reads it for ref: a DiscoveryResponse (unknown fields and
// unresolvable types are errors) validated by the API's rules, inside its Anys too, holding exactly one v3 Secret
// named as the bootstrap asks, with the kind of content the bootstrap's field expects.
func ValidateSdsFile(doc []byte, ref sdsRef) (*tlsv3.Secret, error) {
	js, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return nil, err
	}
	response := &discoveryv3.DiscoveryResponse{}
	if err := protojson.Unmarshal(js, response); err != nil {
		return nil, err
	}
	if err := response.ValidateAll(); err != nil {
		return nil, err
	}
	if err := validateAnys(response.ProtoReflect(), "resources"); err != nil {
		return nil, err
	}
	if n := len(response.GetResources()); n != 1 {
		return nil, fmt.Errorf("holds %d resources; Envoy takes exactly one Secret from an SDS file", n)
	}
	resource := response.GetResources()[0]
	if resource.GetTypeUrl() != secretTypeURL {
		return nil, fmt.Errorf("holds a %s; Envoy expects a %s", resource.GetTypeUrl(), secretTypeURL)
	}
	secret := &tlsv3.Secret{}
	if err := resource.UnmarshalTo(secret); err != nil {
		return nil, err
	}
	if secret.GetName() != ref.name {
		return nil, fmt.Errorf("holds the Secret %q; the bootstrap asks for %q", secret.GetName(), ref.name)
	}
	switch {
	case ref.kind == "tls_certificate" && secret.GetTlsCertificate() == nil,
		ref.kind == "validation_context" && secret.GetValidationContext() == nil:
		return nil, fmt.Errorf("Secret %q has no %s, which the bootstrap uses it as", ref.name, ref.kind)
	}
	return secret, nil
}

// checkSdsFiles checks the file-based SDS secrets of the Envoy bootstraps a container mounts: each SDS file is
// mounted, and, when it is a key of a ConfigMap of the manifests, validates as Envoy reads it; the files each
// Secret names are mounted too, and each watch is placed where the kubelet renews a mounted volume.
func (ix *index) checkSdsFiles(pod podTemplate, c corev1.Container, report *Report) {
	for _, doc := range ix.envoyBootstraps(pod, c) {
		bootstrap, err := parseBootstrap([]byte(doc))
		if err != nil {
			continue // checkEnvoyConfigs reports it
		}
		for _, ref := range sdsRefs(bootstrap) {
			where := fmt.Sprintf("%s: container %s's Envoy configuration", pod.owner, c.Name)
			if !ix.mounted(pod, c, ref.path) {
				report.problem("%s reads the SDS file %s (secret %s), which no volumeMount provides", where, ref.path, ref.name)
				continue
			}
			ix.checkWatch(pod, c, where+" (SDS file "+ref.path+")", ref.watched, []string{ref.path}, false, report)
			content, ok := ix.fileContent(pod, c, ref.path)
			if !ok {
				continue // on a volume the manifests do not fill: nothing more to read
			}
			report.SdsFiles++
			secret, err := ValidateSdsFile([]byte(content), ref)
			if err != nil {
				report.problem("%s: SDS file %s: %v", where, ref.path, err)
				continue
			}
			where = fmt.Sprintf("%s: container %s's SDS file %s", pod.owner, c.Name, ref.path)
			var tree any
			if yaml.Unmarshal([]byte(content), &tree) != nil {
				continue
			}
			files := filenames(tree)
			for _, file := range files {
				if !ix.mounted(pod, c, file) {
					report.problem("%s reads %s, which no volumeMount provides", where, file)
				}
			}
			ix.checkWatch(pod, c, where, secretWatch(secret), files, true, report)
		}
	}
}

func secretWatch(secret *tlsv3.Secret) string {
	if d := secret.GetTlsCertificate().GetWatchedDirectory(); d != nil {
		return d.GetPath()
	}
	return secret.GetValidationContext().GetWatchedDirectory().GetPath()
}

// checkWatch finds a watch that a renewed volume would not trigger. The kubelet renews a Secret or ConfigMap
// volume by swapping the ..data symlink at its mount point, a move Envoy sees only when watched_directory is that
// mount point: without it Envoy watches for moves of the files themselves, which never happen there, and under a
// subPath mount nothing is ever renewed. required: a watch must be set (a Secret's files, which rotate). Files on
// other volumes (an emptyDir a sidecar fills) are renewed however that sidecar does it: not checked.
func (ix *index) checkWatch(pod podTemplate, c corev1.Container, where, watched string, files []string, required bool, report *Report) {
	for _, file := range files {
		m := deepestMount(c, file)
		if m == nil || !renewedByKubelet(pod, m.Name) {
			continue // not mounted (reported), or not a volume the kubelet renews
		}
		switch {
		case watched == "":
			if required {
				report.problem("%s sets no watched_directory: Envoy would watch for moves of %s itself, which a renewed volume never makes (the kubelet swaps ..data at the mount point)", where, file)
				return
			}
		case m.SubPath != "":
			report.problem("%s: %s is mounted by subPath, which the kubelet never renews", where, file)
		case path.Clean(watched) != path.Clean(m.MountPath):
			report.problem("%s watches %s, but %s is renewed at its mount point %s (the kubelet swaps ..data there)", where, watched, file, m.MountPath)
		}
	}
}

// renewedByKubelet says whether the pod's volume of that name is one the kubelet renews in place when its source
// changes (a Secret, ConfigMap, projected or downward API volume).
func renewedByKubelet(pod podTemplate, name string) bool {
	for _, v := range pod.spec.Volumes {
		if v.Name == name {
			return v.Secret != nil || v.ConfigMap != nil || v.Projected != nil || v.DownwardAPI != nil
		}
	}
	return false
}

// fileContent is what a file holds when it is a key of a ConfigMap of the manifests mounted as a volume.
func (ix *index) fileContent(pod podTemplate, c corev1.Container, file string) (string, bool) {
	m := deepestMount(c, file)
	if m == nil || m.SubPath != "" {
		return "", false
	}
	for _, v := range pod.spec.Volumes {
		if v.Name != m.Name || v.ConfigMap == nil {
			continue
		}
		cm, ok := ix.configMaps[key(pod.namespace, v.ConfigMap.Name)]
		if !ok {
			return "", false
		}
		name := relativeTo(m.MountPath, file)
		if len(v.ConfigMap.Items) > 0 {
			name = ""
			for _, item := range v.ConfigMap.Items {
				if path.Clean(item.Path) == relativeTo(m.MountPath, file) {
					name = item.Key
				}
			}
		}
		doc, ok := cm.Data[name]
		return doc, ok
	}
	return "", false
}
