package schema

import (
	"fmt"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// required checks the required fields that the Go types cannot express and
// that the API server's validation rejects, for the built-in kinds that
// repositories commonly hold.
func required(gvk schema.GroupVersionKind, obj map[string]any) []Issue {
	var issues []Issue
	need := func(m map[string]any, path []string, keys ...string) {
		for _, k := range keys {
			v, ok := m[k]
			if !ok || v == nil || v == "" {
				p := strings.Join(append(append([]string{}, path...), k), ".")
				issues = append(issues, Issue{Field: strings.Join(path, "."), Message: fmt.Sprintf("missing required field %q", p)})
			}
		}
	}
	spec, _ := obj["spec"].(map[string]any)
	podSpec := func(ps map[string]any, path []string) {
		if ps == nil {
			issues = append(issues, Issue{Field: strings.Join(path[:len(path)-1], "."), Message: fmt.Sprintf("missing required field %q", strings.Join(path, "."))})
			return
		}
		containers, _ := ps["containers"].([]any)
		if len(containers) == 0 {
			need(ps, path, "containers")
		}
		for _, list := range []string{"initContainers", "containers"} {
			cs, _ := ps[list].([]any)
			for i, c := range cs {
				cm, _ := c.(map[string]any)
				if cm == nil {
					continue
				}
				cp := append(append([]string{}, path...), list, strconv.Itoa(i))
				need(cm, cp, "name", "image")
				ports, _ := cm["ports"].([]any)
				for j, p := range ports {
					if pm, _ := p.(map[string]any); pm != nil {
						need(pm, append(append([]string{}, cp...), "ports", strconv.Itoa(j)), "containerPort")
					}
				}
				env, _ := cm["env"].([]any)
				for j, e := range env {
					if em, _ := e.(map[string]any); em != nil {
						need(em, append(append([]string{}, cp...), "env", strconv.Itoa(j)), "name")
					}
				}
			}
		}
		vols, _ := ps["volumes"].([]any)
		for i, v := range vols {
			if vm, _ := v.(map[string]any); vm != nil {
				need(vm, append(append([]string{}, path...), "volumes", strconv.Itoa(i)), "name")
			}
		}
	}
	template := func(s map[string]any, path []string) {
		t, _ := s["template"].(map[string]any)
		if t == nil {
			need(s, path, "template")
			return
		}
		ps, _ := t["spec"].(map[string]any)
		podSpec(ps, append(append([]string{}, path...), "template", "spec"))
	}
	switch {
	case gvk.Group == "apps" && (gvk.Kind == "Deployment" || gvk.Kind == "StatefulSet" || gvk.Kind == "DaemonSet" || gvk.Kind == "ReplicaSet"):
		if spec == nil {
			need(obj, nil, "spec")
			break
		}
		need(spec, []string{"spec"}, "selector")
		template(spec, []string{"spec"})
	case gvk.Group == "batch" && gvk.Kind == "Job":
		if spec == nil {
			need(obj, nil, "spec")
			break
		}
		template(spec, []string{"spec"})
	case gvk.Group == "batch" && gvk.Kind == "CronJob":
		if spec == nil {
			need(obj, nil, "spec")
			break
		}
		need(spec, []string{"spec"}, "schedule")
		jt, _ := spec["jobTemplate"].(map[string]any)
		if jt == nil {
			need(spec, []string{"spec"}, "jobTemplate")
			break
		}
		js, _ := jt["spec"].(map[string]any)
		if js == nil {
			need(jt, []string{"spec", "jobTemplate"}, "spec")
			break
		}
		template(js, []string{"spec", "jobTemplate", "spec"})
	case gvk.Group == "" && gvk.Kind == "Pod":
		podSpec(spec, []string{"spec"})
	case gvk.Group == "" && gvk.Kind == "Service":
		if spec == nil {
			break
		}
		ports, _ := spec["ports"].([]any)
		for i, p := range ports {
			if pm, _ := p.(map[string]any); pm != nil {
				need(pm, []string{"spec", "ports", strconv.Itoa(i)}, "port")
			}
		}
	case gvk.Group == "rbac.authorization.k8s.io" && (gvk.Kind == "RoleBinding" || gvk.Kind == "ClusterRoleBinding"):
		rr, _ := obj["roleRef"].(map[string]any)
		if rr == nil {
			need(obj, nil, "roleRef")
			break
		}
		need(rr, []string{"roleRef"}, "kind", "name")
		subs, _ := obj["subjects"].([]any)
		for i, s := range subs {
			if sm, _ := s.(map[string]any); sm != nil {
				need(sm, []string{"subjects", strconv.Itoa(i)}, "kind", "name")
			}
		}
	case gvk.Group == "rbac.authorization.k8s.io" && (gvk.Kind == "Role" || gvk.Kind == "ClusterRole"):
		rules, _ := obj["rules"].([]any)
		for i, r := range rules {
			if rm, _ := r.(map[string]any); rm != nil {
				need(rm, []string{"rules", strconv.Itoa(i)}, "verbs")
			}
		}
	}
	return issues
}
