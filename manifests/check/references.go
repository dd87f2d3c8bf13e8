package main

import (
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// A pod template of a workload, with where it came from.
type podTemplate struct {
	owner     string
	namespace string
	labels    map[string]string
	spec      corev1.PodSpec
	claims    map[string]bool
}

// index holds the rendered objects by kind and namespace/name, for the reference checks.
type index struct {
	configMaps      map[string]*corev1.ConfigMap
	services        map[string]*corev1.Service
	serviceAccounts map[string]bool
	roles           map[string]bool
	workloads       map[string]bool
	pods            []podTemplate
}

func key(namespace, name string) string { return namespace + "/" + name }

func buildIndex(objects []runtime.Object) *index {
	ix := &index{configMaps: map[string]*corev1.ConfigMap{}, services: map[string]*corev1.Service{},
		serviceAccounts: map[string]bool{}, roles: map[string]bool{}, workloads: map[string]bool{}}
	for _, obj := range objects {
		switch o := obj.(type) {
		case *corev1.ConfigMap:
			ix.configMaps[key(o.Namespace, o.Name)] = o
		case *corev1.Service:
			ix.services[key(o.Namespace, o.Name)] = o
		case *corev1.ServiceAccount:
			ix.serviceAccounts[key(o.Namespace, o.Name)] = true
		case *rbacv1.Role:
			ix.roles[key(o.Namespace, "Role/"+o.Name)] = true
		case *rbacv1.ClusterRole:
			ix.roles[key("", "ClusterRole/"+o.Name)] = true
		case *appsv1.StatefulSet:
			claims := map[string]bool{}
			for _, c := range o.Spec.VolumeClaimTemplates {
				claims[c.Name] = true
			}
			ix.workloads[key(o.Namespace, "StatefulSet/"+o.Name)] = true
			ix.pods = append(ix.pods, podTemplate{"StatefulSet/" + o.Name, o.Namespace, o.Spec.Template.Labels, o.Spec.Template.Spec, claims})
		case *appsv1.Deployment:
			ix.workloads[key(o.Namespace, "Deployment/"+o.Name)] = true
			ix.pods = append(ix.pods, podTemplate{"Deployment/" + o.Name, o.Namespace, o.Spec.Template.Labels, o.Spec.Template.Spec, nil})
		}
	}
	return ix
}

// checkReferences finds what `kubectl apply` accepts but the cluster could never run: a pod mounting a ConfigMap
// that is not there, a Service or PDB selecting no pod, a named port that no container has, an HPA scaling nothing.
// Secrets are not looked for: they are made outside the manifests (kubectl, cert-manager, a secrets operator).
func checkReferences(objects []runtime.Object, settings Settings, report *Report) {
	ix := buildIndex(objects)
	for _, pod := range ix.pods {
		ix.checkPod(pod, report)
		ix.checkMountedFiles(pod, report)
		ix.checkProbesOfTls(pod, report)
		if settings != nil {
			ix.checkSettings(pod, settings, report)
		}
	}
	for _, obj := range objects {
		switch o := obj.(type) {
		case *corev1.Service:
			ix.checkService(o, report)
		case *appsv1.StatefulSet:
			if _, ok := ix.services[key(o.Namespace, o.Spec.ServiceName)]; !ok {
				report.problem("StatefulSet/%s: serviceName %q is not a Service", o.Name, o.Spec.ServiceName)
			}
		case *policyv1.PodDisruptionBudget:
			ix.checkSelects("PodDisruptionBudget/"+o.Name, o.Namespace, o.Spec.Selector, report)
		case *autoscalingv2.HorizontalPodAutoscaler:
			target := o.Spec.ScaleTargetRef.Kind + "/" + o.Spec.ScaleTargetRef.Name
			if !ix.workloads[key(o.Namespace, target)] {
				report.problem("HorizontalPodAutoscaler/%s: scaleTargetRef %s is not in the manifests", o.Name, target)
			}
		case *rbacv1.RoleBinding:
			if !ix.roles[key(o.Namespace, o.RoleRef.Kind+"/"+o.RoleRef.Name)] && !ix.roles[key("", o.RoleRef.Kind+"/"+o.RoleRef.Name)] {
				report.problem("RoleBinding/%s: roleRef %s/%s is not in the manifests", o.Name, o.RoleRef.Kind, o.RoleRef.Name)
			}
		case *monitoringv1.ServiceMonitor:
			ix.checkServiceMonitor(o, report)
		}
	}
}

// checkSettings reports a key of a ConfigMap that a container named "broker" takes its environment from and that
// is not a broker setting: the broker ignores unknown variables, so a misspelt one would silently not apply.
func (ix *index) checkSettings(pod podTemplate, settings Settings, report *Report) {
	for _, c := range pod.spec.Containers {
		if c.Name != "broker" {
			continue
		}
		for _, from := range c.EnvFrom {
			if from.ConfigMapRef == nil {
				continue
			}
			cm, ok := ix.configMaps[key(pod.namespace, from.ConfigMapRef.Name)]
			if !ok {
				continue
			}
			for name := range cm.Data {
				if !settings.Allows(name) {
					report.problem("%s: ConfigMap %q sets %s, which is not a broker setting", pod.owner, cm.Name, name)
				}
			}
		}
	}
}

func (ix *index) checkPod(pod podTemplate, report *Report) {
	volumes := map[string]bool{}
	for name := range pod.claims {
		volumes[name] = true
	}
	for _, v := range pod.spec.Volumes {
		volumes[v.Name] = true
		if v.ConfigMap != nil {
			ix.checkConfigMapKeys(pod, v.ConfigMap.Name, v.ConfigMap.Items, v.ConfigMap.Optional, report)
		}
	}
	if sa := pod.spec.ServiceAccountName; sa != "" && sa != "default" && !ix.serviceAccounts[key(pod.namespace, sa)] {
		report.problem("%s: serviceAccountName %q is not in the manifests", pod.owner, sa)
	}
	for _, c := range append(append([]corev1.Container{}, pod.spec.InitContainers...), pod.spec.Containers...) {
		for _, probe := range []*corev1.Probe{c.StartupProbe, c.ReadinessProbe, c.LivenessProbe} {
			if port, ok := probePort(probe); ok && !hasNamedPort(c, port) {
				report.problem("%s: container %s probes port %q, which it does not have", pod.owner, c.Name, port)
			}
		}
		for _, m := range c.VolumeMounts {
			if !volumes[m.Name] {
				report.problem("%s: container %s mounts volume %q, which the pod does not have", pod.owner, c.Name, m.Name)
			}
		}
		for _, from := range c.EnvFrom {
			if from.ConfigMapRef != nil {
				ix.checkConfigMapKeys(pod, from.ConfigMapRef.Name, nil, from.ConfigMapRef.Optional, report)
			}
		}
		for _, env := range c.Env {
			if env.ValueFrom != nil && env.ValueFrom.ConfigMapKeyRef != nil {
				ref := env.ValueFrom.ConfigMapKeyRef
				ix.checkConfigMapKeys(pod, ref.Name, []corev1.KeyToPath{{Key: ref.Key}}, ref.Optional, report)
			}
		}
	}
}

func (ix *index) checkConfigMapKeys(pod podTemplate, name string, items []corev1.KeyToPath, optional *bool, report *Report) {
	if isTrue(optional) {
		return
	}
	cm, ok := ix.configMaps[key(pod.namespace, name)]
	if !ok {
		report.problem("%s: ConfigMap %q is not in the manifests", pod.owner, name)
		return
	}
	for _, item := range items {
		_, inData := cm.Data[item.Key]
		_, inBinary := cm.BinaryData[item.Key]
		if !inData && !inBinary {
			report.problem("%s: ConfigMap %q has no key %q", pod.owner, name, item.Key)
		}
	}
}

func (ix *index) selected(namespace string, selector labels.Selector) []podTemplate {
	var out []podTemplate
	for _, pod := range ix.pods {
		if pod.namespace == namespace && selector.Matches(labels.Set(pod.labels)) {
			out = append(out, pod)
		}
	}
	return out
}

func (ix *index) checkSelects(owner, namespace string, selector *metav1.LabelSelector, report *Report) {
	s, err := metav1.LabelSelectorAsSelector(selector)
	if err != nil || s.Empty() || len(ix.selected(namespace, s)) == 0 {
		report.problem("%s: its selector selects no pod of the manifests", owner)
	}
}

func (ix *index) checkService(svc *corev1.Service, report *Report) {
	if len(svc.Spec.Selector) == 0 {
		return
	}
	pods := ix.selected(svc.Namespace, labels.SelectorFromSet(svc.Spec.Selector))
	if len(pods) == 0 {
		report.problem("Service/%s: its selector selects no pod of the manifests", svc.Name)
		return
	}
	for _, port := range svc.Spec.Ports {
		if port.TargetPort.Type != intstr.String {
			continue
		}
		for _, pod := range pods {
			if !hasContainerPort(pod.spec, port.TargetPort.StrVal) {
				report.problem("Service/%s: targetPort %q is not a container port of %s", svc.Name, port.TargetPort.StrVal, pod.owner)
			}
		}
	}
}

func (ix *index) checkServiceMonitor(sm *monitoringv1.ServiceMonitor, report *Report) {
	s, err := metav1.LabelSelectorAsSelector(&sm.Spec.Selector)
	if err != nil {
		report.problem("ServiceMonitor/%s: %v", sm.Name, err)
		return
	}
	matched := 0
	for _, svc := range ix.services {
		if svc.Namespace != sm.Namespace || !s.Matches(labels.Set(svc.Labels)) {
			continue
		}
		matched++
		for _, ep := range sm.Spec.Endpoints {
			if ep.Port != "" && !hasServicePort(svc, ep.Port) {
				report.problem("ServiceMonitor/%s: Service/%s has no port named %q", sm.Name, svc.Name, ep.Port)
			}
		}
	}
	if matched == 0 {
		report.problem("ServiceMonitor/%s: its selector selects no Service of the manifests", sm.Name)
	}
}

// probePort is the port name an HTTP or TCP probe refers to, if it names one.
func probePort(probe *corev1.Probe) (string, bool) {
	switch {
	case probe == nil:
		return "", false
	case probe.HTTPGet != nil && probe.HTTPGet.Port.Type == intstr.String:
		return probe.HTTPGet.Port.StrVal, true
	case probe.TCPSocket != nil && probe.TCPSocket.Port.Type == intstr.String:
		return probe.TCPSocket.Port.StrVal, true
	}
	return "", false
}

func hasNamedPort(c corev1.Container, name string) bool {
	for _, p := range c.Ports {
		if p.Name == name {
			return true
		}
	}
	return false
}

func hasContainerPort(spec corev1.PodSpec, name string) bool {
	for _, c := range spec.Containers {
		for _, p := range c.Ports {
			if p.Name == name {
				return true
			}
		}
	}
	return false
}

func hasServicePort(svc *corev1.Service, name string) bool {
	for _, p := range svc.Spec.Ports {
		if p.Name == name {
			return true
		}
	}
	return false
}

func isTrue(b *bool) bool { return b != nil && *b }
