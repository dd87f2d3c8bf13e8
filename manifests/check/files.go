package main

import (
	"fmt"
	"path"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// checkMountedFiles finds a file a container is told to read that no volume of it provides, which the cluster
// accepts and the process fails on at start (or, for Envoy, at load): a path in a setting named like a file
// (…_CERT, …_KEY, …_CA, …_FILE, from env or from an envFrom ConfigMap), and every `filename` of an Envoy bootstrap
// the container mounts (certificates, keys, CAs), and what those bootstraps read by SDS from files (sds.go).
func (ix *index) checkMountedFiles(pod podTemplate, report *Report) {
	for _, c := range pod.spec.Containers {
		for name, value := range ix.fileSettings(pod, c) {
			if !ix.mounted(pod, c, value) {
				report.problem("%s: container %s reads %s=%s, which no volumeMount provides", pod.owner, c.Name, name, value)
			}
		}
		for _, file := range ix.envoyFiles(pod, c) {
			if !ix.mounted(pod, c, file) {
				report.problem("%s: container %s's Envoy configuration reads %s, which no volumeMount provides", pod.owner, c.Name, file)
			}
		}
		ix.checkSdsFiles(pod, c, report)
	}
}

func isFileSetting(name, value string) bool {
	if !strings.HasPrefix(value, "/") {
		return false
	}
	for _, suffix := range []string{"_CERT", "_KEY", "_CA", "_FILE"} {
		if strings.HasSuffix(name, suffix) {
			return true
		}
	}
	return false
}

func (ix *index) fileSettings(pod podTemplate, c corev1.Container) map[string]string {
	files := map[string]string{}
	for _, from := range c.EnvFrom {
		if from.ConfigMapRef == nil {
			continue
		}
		if cm, ok := ix.configMaps[key(pod.namespace, from.ConfigMapRef.Name)]; ok {
			for name, value := range cm.Data {
				if isFileSetting(name, value) {
					files[name] = value
				}
			}
		}
	}
	for _, env := range c.Env {
		if isFileSetting(env.Name, env.Value) {
			files[env.Name] = env.Value
		}
	}
	return files
}

// envoyFiles lists the filenames of the Envoy bootstraps the container mounts.
func (ix *index) envoyFiles(pod podTemplate, c corev1.Container) []string {
	var files []string
	for _, doc := range ix.envoyBootstraps(pod, c) {
		var tree any
		if yaml.Unmarshal([]byte(doc), &tree) == nil {
			files = append(files, filenames(tree)...)
		}
	}
	sort.Strings(files)
	return files
}

// envoyBootstraps are the Envoy bootstraps (ConfigMap keys ending in envoy.yaml) on the container's volume mounts,
// each once (a ConfigMap may be mounted twice, e.g. the bootstrap and the SDS files as different items).
func (ix *index) envoyBootstraps(pod podTemplate, c corev1.Container) []string {
	var docs []string
	seen := map[string]bool{}
	for _, mount := range c.VolumeMounts {
		for _, v := range pod.spec.Volumes {
			if v.Name != mount.Name || v.ConfigMap == nil {
				continue
			}
			cm, ok := ix.configMaps[key(pod.namespace, v.ConfigMap.Name)]
			if !ok {
				continue
			}
			keys := make([]string, 0, len(cm.Data))
			for k := range cm.Data {
				keys = append(keys, k)
			}
			if len(v.ConfigMap.Items) > 0 {
				keys = keys[:0]
				for _, item := range v.ConfigMap.Items {
					keys = append(keys, item.Key)
				}
			}
			sort.Strings(keys)
			for _, k := range keys {
				doc, held := cm.Data[k]
				if !held || !strings.HasSuffix(k, "envoy.yaml") || seen[cm.Name+"/"+k] {
					continue
				}
				seen[cm.Name+"/"+k] = true
				docs = append(docs, doc)
			}
		}
	}
	return docs
}

// filenames collects every `filename: <string>` of a parsed YAML tree (Envoy's DataSource).
func filenames(node any) []string {
	var out []string
	switch n := node.(type) {
	case map[string]any:
		for k, v := range n {
			if s, ok := v.(string); ok && k == "filename" {
				out = append(out, s)
				continue
			}
			out = append(out, filenames(v)...)
		}
	case []any:
		for _, v := range n {
			out = append(out, filenames(v)...)
		}
	}
	return out
}

// mounted says whether file lies under one of the container's volume mounts and, when the deepest such mount is a
// ConfigMap or Secret volume limited to some items (or a ConfigMap of the manifests), is one of the files it holds.
func (ix *index) mounted(pod podTemplate, c corev1.Container, file string) bool {
	deepest := deepestMount(c, file)
	if deepest == nil {
		return false
	}
	if deepest.SubPath != "" {
		return true
	}
	held := ix.filesOfVolume(pod, deepest.Name)
	if held == nil {
		return true
	}
	return held[relativeTo(deepest.MountPath, file)]
}

// deepestMount is the volume mount of the container that file lies under, the deepest when mounts nest.
func deepestMount(c corev1.Container, file string) *corev1.VolumeMount {
	clean := path.Clean(file)
	var deepest *corev1.VolumeMount
	for i, m := range c.VolumeMounts {
		dir := path.Clean(m.MountPath)
		if (clean == dir || strings.HasPrefix(clean, dir+"/")) && (deepest == nil || len(dir) > len(path.Clean(deepest.MountPath))) {
			deepest = &c.VolumeMounts[i]
		}
	}
	return deepest
}

// relativeTo is file's path inside the volume mounted at dir.
func relativeTo(dir, file string) string {
	return strings.TrimPrefix(path.Clean(file), path.Clean(dir)+"/")
}

// filesOfVolume lists the files a ConfigMap or Secret volume holds when the manifests say (items, or the
// ConfigMap's keys); nil when they do not (a Secret made outside them, any other volume).
func (ix *index) filesOfVolume(pod podTemplate, name string) map[string]bool {
	for _, v := range pod.spec.Volumes {
		if v.Name != name {
			continue
		}
		var items []corev1.KeyToPath
		switch {
		case v.ConfigMap != nil:
			items = v.ConfigMap.Items
			if cm, ok := ix.configMaps[key(pod.namespace, v.ConfigMap.Name)]; ok && len(items) == 0 {
				held := map[string]bool{}
				for k := range cm.Data {
					held[k] = true
				}
				return held
			}
		case v.Secret != nil:
			items = v.Secret.Items
		}
		if len(items) == 0 {
			return nil
		}
		held := map[string]bool{}
		for _, item := range items {
			held[path.Clean(item.Path)] = true
		}
		return held
	}
	return nil
}

// checkProbesOfTls finds a broker whose gRPC port requires TLS (BROKER_TLS_CERT) probed there by a gRPC probe,
// which speaks plaintext and would fail for ever: such a broker is probed on its health port (BROKER_HEALTH_PORT).
func (ix *index) checkProbesOfTls(pod podTemplate, report *Report) {
	for _, c := range pod.spec.Containers {
		if c.Name != "broker" {
			continue
		}
		settings := ix.settingsOf(pod, c)
		if settings["BROKER_TLS_CERT"] == "" {
			continue
		}
		health := settings["BROKER_HEALTH_PORT"]
		probes := []struct {
			kind  string
			probe *corev1.Probe
		}{{"startup", c.StartupProbe}, {"readiness", c.ReadinessProbe}, {"liveness", c.LivenessProbe}}
		for _, p := range probes {
			kind, probe := p.kind, p.probe
			if probe == nil || probe.GRPC == nil {
				continue
			}
			if port := fmt.Sprint(probe.GRPC.Port); port != health {
				report.problem("%s: container broker's %s probe asks gRPC port %s, which requires TLS (BROKER_TLS_CERT is set); probe BROKER_HEALTH_PORT (%q)", pod.owner, kind, port, health)
			}
		}
	}
}

// settingsOf is a container's environment as literal values: its envFrom ConfigMaps, then its env.
func (ix *index) settingsOf(pod podTemplate, c corev1.Container) map[string]string {
	settings := map[string]string{}
	for _, from := range c.EnvFrom {
		if from.ConfigMapRef == nil {
			continue
		}
		if cm, ok := ix.configMaps[key(pod.namespace, from.ConfigMapRef.Name)]; ok {
			for name, value := range cm.Data {
				settings[name] = value
			}
		}
	}
	for _, env := range c.Env {
		if env.ValueFrom == nil {
			settings[env.Name] = env.Value
		}
	}
	return settings
}
