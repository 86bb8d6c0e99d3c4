package helmadopt

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/homelab-gitops/homelab/tools/internal/finding"
	"github.com/homelab-gitops/homelab/tools/internal/validate"
)

var (
	treeOnce sync.Once
	treeRep  *validate.Report
	treeErr  error
)

// tree renders the repository once for the tests (policies and checks off).
func tree(t *testing.T) *validate.Report {
	t.Helper()
	treeOnce.Do(func() {
		skip := map[finding.Class]bool{
			finding.ClassSchema: true, finding.ClassGraph: true, finding.ClassReference: true,
			finding.ClassSecret: true, finding.ClassPolicy: true, finding.ClassFlow: true,
		}
		treeRep, treeErr = validate.Run(context.Background(), validate.Options{Root: filepath.Join("..", "..", ".."), Policies: "-", Skip: skip})
	})
	if treeErr != nil {
		t.Fatal(treeErr)
	}
	return treeRep
}

// The tree's Cilium release: every object owned by release kube-system/cilium,
// cluster-scoped ones without a namespace, and the agent configured the way
// the NetworkPolicies and the flow check assume (CIDR rules match nodes).
func TestCiliumFromTheTree(t *testing.T) {
	res, err := FromReport(tree(t), "homelab", "kube-system", "cilium")
	if err != nil {
		t.Fatal(err)
	}
	if res.ReleaseName != "cilium" || res.ReleaseNamespace != "kube-system" || res.Chart != "cilium-1.20.1" {
		t.Errorf("release %s/%s chart %s, want kube-system/cilium cilium-1.20.1", res.ReleaseNamespace, res.ReleaseName, res.Chart)
	}
	var config *unstructured.Unstructured
	kinds := res.Kinds()
	for _, u := range res.Objects {
		id := u.GetKind() + "/" + u.GetNamespace() + "/" + u.GetName()
		if u.GetLabels()[ManagedByLabel] != ManagedByHelm || u.GetAnnotations()[ReleaseNameAnnotation] != "cilium" || u.GetAnnotations()[ReleaseNSAnnotation] != "kube-system" {
			t.Errorf("%s lacks Helm's ownership metadata: labels %v annotations %v", id, u.GetLabels(), u.GetAnnotations())
		}
		switch u.GetKind() {
		case "ClusterRole", "ClusterRoleBinding", "Namespace":
			if u.GetNamespace() != "" {
				t.Errorf("%s: a cluster-scoped object keeps a namespace", id)
			}
		case "ConfigMap":
			if u.GetName() == "cilium-config" {
				config = u
			}
		}
	}
	if kinds["DaemonSet"] != 1 || kinds["Deployment"] < 2 {
		t.Errorf("want the agent DaemonSet, the operator and the relay Deployments: %v", res.KindNames())
	}
	if config == nil {
		t.Fatal("no ConfigMap cilium-config")
	}
	want := map[string]string{
		"policy-cidr-match-mode": "nodes", // ipBlock rules select nodes: the flow check's reading
		"kube-proxy-replacement": "true",
		"ipam":                   "kubernetes",
	}
	data, _, _ := unstructured.NestedStringMap(config.Object, "data")
	for k, v := range want {
		if data[k] != v {
			t.Errorf("cilium-config %s = %q, want %q", k, data[k], v)
		}
	}
	// The API server address is the VIP, substituted from cluster-vars:
	// the agents must not need the Service they implement.
	out, err := res.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "${EDGE_VIP}") || !strings.Contains(string(out), "value: 10.20.0.10") {
		t.Error("KUBERNETES_SERVICE_HOST is not the substituted VIP 10.20.0.10")
	}
	header, body, ok := strings.Cut(string(out), "---\n")
	if !ok || !strings.HasPrefix(header, "# Rendered from infrastructure/cni/release.yaml") {
		t.Fatalf("manifest header: %q", header)
	}
	var docs int
	for doc := range strings.SplitSeq(body, "\n---\n") {
		var m map[string]any
		if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
			t.Fatalf("manifest document does not parse: %v", err)
		}
		docs++
	}
	if docs != len(res.Objects) {
		t.Errorf("manifest has %d documents, want %d", docs, len(res.Objects))
	}
}

func TestFromReportRefuses(t *testing.T) {
	rep := tree(t)
	for _, tc := range []struct{ cluster, ns, name, want string }{
		{"homelab", "kube-system", "nope", "renders no HelmRelease kube-system/nope"},
		{"elsewhere", "kube-system", "cilium", `no cluster "elsewhere"`},
	} {
		if _, err := FromReport(rep, tc.cluster, tc.ns, tc.name); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("FromReport(%s, %s/%s): err = %v, want %q", tc.cluster, tc.ns, tc.name, err, tc.want)
		}
	}
	// A render error of the release's file stops the manifest.
	broken := *rep
	res, err := FromReport(rep, "homelab", "kube-system", "cilium")
	if err != nil {
		t.Fatal(err)
	}
	broken.Findings = append([]finding.Finding{{Rule: finding.HelmRenderFailed, Class: finding.ClassHelm, Severity: finding.Error, File: res.HelmRelease, Message: "chart does not render"}}, rep.Findings...)
	if _, err := FromReport(&broken, "homelab", "kube-system", "cilium"); err == nil || !strings.Contains(err.Error(), "does not render cleanly") {
		t.Errorf("a helm render error: err = %v", err)
	}
}
