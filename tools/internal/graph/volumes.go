package graph

import (
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/homelab-gitops/homelab/tools/internal/finding"
	"github.com/homelab-gitops/homelab/tools/internal/render"
)

// podTemplatePaths locates the pod spec of the kinds whose pods a
// Kustomization's apply creates at once. A CronJob is left out on purpose:
// its pods come at the schedule, possibly hours after the health check gave
// up.
var podTemplatePaths = map[string][]string{
	"Pod":         {"spec"},
	"Deployment":  {"spec", "template", "spec"},
	"StatefulSet": {"spec", "template", "spec"},
	"DaemonSet":   {"spec", "template", "spec"},
	"ReplicaSet":  {"spec", "template", "spec"},
	"Job":         {"spec", "template", "spec"},
}

// waitedVolumes reports a PersistentVolumeClaim that a Kustomization waits
// for (spec.wait, or the claim listed in spec.healthChecks) while no
// workload of that Kustomization mounts it. kstatus counts a Pending claim
// as in progress, and a WaitForFirstConsumer StorageClass (local-path and
// most local provisioners) binds a claim only once a pod that uses it is
// scheduled: a claim used only by a CronJob, or by a workload another
// Kustomization applies after this one is Ready, keeps the Kustomization
// and everything that depends on it from ever becoming Ready.
func waitedVolumes(c *render.Cluster) []finding.Finding {
	type claimKey struct {
		owner    *render.Kustomization
		ns, name string
	}
	mounted := map[claimKey][]string{} // claim -> kinds/names of the workloads that mount it
	classes := map[string]string{}     // StorageClass name -> volumeBindingMode
	for _, o := range c.Objects {
		kind := o.U.GetKind()
		if kind == "StorageClass" && o.U.GroupVersionKind().Group == "storage.k8s.io" {
			mode, _, _ := unstructured.NestedString(o.U.Object, "volumeBindingMode")
			classes[o.U.GetName()] = mode
		}
		path, ok := podTemplatePaths[kind]
		if kind == "CronJob" {
			path, ok = []string{"spec", "jobTemplate", "spec", "template", "spec"}, true
		}
		if !ok {
			continue
		}
		volumes, _, _ := unstructured.NestedSlice(o.U.Object, append(slices.Clone(path), "volumes")...)
		for _, v := range volumes {
			claim, _, _ := unstructured.NestedString(asMap(v), "persistentVolumeClaim", "claimName")
			if claim == "" {
				continue
			}
			k := claimKey{o.Owner, o.U.GetNamespace(), claim}
			mounted[k] = append(mounted[k], kind+"/"+o.U.GetName())
		}
	}
	var out []finding.Finding
	for _, o := range c.Objects {
		if o.Chart != nil || o.U.GetKind() != "PersistentVolumeClaim" || o.U.GroupVersionKind().Group != "" {
			continue // a chart's claim is Helm's to wait for, not kstatus's
		}
		k := o.Owner
		if k == nil || k.Obj == nil || k.Synthetic {
			continue
		}
		how := waitsFor(k, o)
		if how == "" {
			continue
		}
		if name, ok, _ := unstructured.NestedString(o.U.Object, "spec", "volumeName"); ok && name != "" {
			continue // bound to a named volume, no provisioning to wait for
		}
		class, set, _ := unstructured.NestedString(o.U.Object, "spec", "storageClassName")
		if set && class == "" {
			continue // static binding: binds as soon as a matching volume exists
		}
		mode, declared := classes[class]
		if declared && mode != "WaitForFirstConsumer" {
			continue // Immediate (the default): the provisioner binds it at once
		}
		users := mounted[claimKey{k, o.U.GetNamespace(), o.U.GetName()}]
		if slices.ContainsFunc(users, func(u string) bool { return !strings.HasPrefix(u, "CronJob/") }) {
			continue
		}
		used := "nothing in it mounts the claim"
		if len(users) > 0 {
			used = "only " + strings.Join(users, ", ") + " mounts the claim, and a CronJob's pods come at its schedule"
		}
		classText := "a WaitForFirstConsumer StorageClass (local-path and most local provisioners)"
		if declared {
			classText = fmt.Sprintf("StorageClass %s, which binds on first consumer,", class)
		} else if class != "" {
			classText = fmt.Sprintf("StorageClass %s, if it binds on first consumer as local-path and most local provisioners do,", class)
		}
		msg := fmt.Sprintf("Kustomization %s waits for PersistentVolumeClaim %s (%s), but %s: under %s the claim stays Pending until a pod uses it, kstatus counts Pending as in progress, and %s and every Kustomization that depends on it never become Ready",
			k.Ref, render.NamespacedName(o.U.GetNamespace(), o.U.GetName()), how, used, classText, k.Ref)
		f := finding.New(finding.GraphWaitVolume, o.File, 0, 0, o.FindingObject(), msg)
		if declared {
			f.Severity = finding.Error
		}
		f.Kustomization = k.Ref.String()
		out = append(out, f)
	}
	return out
}

// waitsFor says how k health-checks o: "spec.wait", "spec.healthChecks",
// or "" when it does not.
func waitsFor(k *render.Kustomization, o *render.Object) string {
	if wait, _, _ := unstructured.NestedBool(k.Obj.Object, "spec", "wait"); wait {
		return "spec.wait"
	}
	checks, _, _ := unstructured.NestedSlice(k.Obj.Object, "spec", "healthChecks")
	for _, c := range checks {
		m := asMap(c)
		ns, _ := m["namespace"].(string)
		if ns == "" {
			ns = k.Namespace
		}
		if m["kind"] == "PersistentVolumeClaim" && m["name"] == o.U.GetName() && ns == o.U.GetNamespace() {
			return "spec.healthChecks"
		}
	}
	return ""
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}
