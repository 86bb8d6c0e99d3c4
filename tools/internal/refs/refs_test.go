package refs

import (
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/homelab-gitops/homelab/tools/internal/config"
	"github.com/homelab-gitops/homelab/tools/internal/finding"
	"github.com/homelab-gitops/homelab/tools/internal/render"
)

func cluster(t *testing.T, docs ...string) *render.Cluster {
	t.Helper()
	k := &render.Kustomization{Ref: render.Ref{Namespace: "flux-system", Name: "apps"}}
	c := &render.Cluster{Name: "home", Kustomizations: []*render.Kustomization{k}}
	for _, d := range docs {
		var m map[string]any
		if err := yaml.Unmarshal([]byte(d), &m); err != nil {
			t.Fatal(err)
		}
		c.Objects = append(c.Objects, &render.Object{U: &unstructured.Unstructured{Object: m}, File: "f.yaml", Owner: k})
	}
	return c
}

const pod = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: web}
spec:
  template:
    spec:
      serviceAccountName: web
      containers:
        - name: web
          image: nginx
          envFrom: [{secretRef: {name: web-env}}]
          env:
            - name: X
              valueFrom: {configMapKeyRef: {name: opt, key: x, optional: true}}
      volumes:
        - {name: tls, secret: {secretName: web-tls}}
`

func TestCheck(t *testing.T) {
	tests := []struct {
		name  string
		docs  []string
		cfg   *config.Config
		want  map[string]int
		field string
		// rendered marks every HelmRelease's chart as rendered.
		rendered bool
	}{
		{name: "missing pod references", docs: []string{pod}, want: map[string]int{finding.RefMissing: 3}},
		{name: "made by cert-manager, declared ServiceAccount and external Secret", docs: []string{pod,
			"apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {name: web, namespace: web}\nspec: {secretName: web-tls}\n",
			"apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: web, namespace: web}\n"},
			cfg:  &config.Config{ExternalObjects: []config.ExternalObject{{Kind: "Secret", Namespace: "web", Name: "web-*"}}},
			want: map[string]int{}},
		{name: "chart-made objects are unknown, not missing", docs: []string{pod,
			"apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: web, namespace: web}\nspec: {chart: {spec: {chart: web}}}\n"},
			want: map[string]int{finding.RefUnknown: 3}},
		{name: "in a namespace whose charts were all rendered, what nothing makes is missing", docs: []string{pod,
			"apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: web, namespace: web}\nspec: {chart: {spec: {chart: web}}, values: {secretName: web-tls}}\n",
			"apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: r, namespace: web}\nspec:\n  parentRefs: [{name: gatway, namespace: web}]\n"},
			rendered: true,
			want:     map[string]int{finding.RefMissing: 4}},
		{name: "an issuer a chart's values name is unknown, another is missing", docs: []string{
			"apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {name: c, namespace: web}\nspec: {secretName: c, issuerRef: {name: letsencrypt-production, kind: ClusterIssuer}}\n",
			"apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {name: d, namespace: web}\nspec: {secretName: d, issuerRef: {name: letsencrypt-other, kind: ClusterIssuer}}\n",
			"apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: webhook-ovh, namespace: cert-manager}\nspec:\n  chart: {spec: {chart: cert-manager-webhook-ovh}}\n  values:\n    issuers: [{name: letsencrypt-production, kind: ClusterIssuer, create: true}]\n"},
			want: map[string]int{finding.RefUnknown: 1, finding.RefMissing: 1}},
		{name: "Services made by Tekton's EventListener and operator", docs: []string{
			"apiVersion: triggers.tekton.dev/v1beta1\nkind: EventListener\nmetadata: {name: build, namespace: cicd}\nspec: {}\n",
			"apiVersion: operator.tekton.dev/v1alpha1\nkind: TektonConfig\nmetadata: {name: config}\nspec: {dashboard: {readonly: false}}\n",
			"apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: hook, namespace: cicd}\nspec:\n  rules: [{backendRefs: [{name: el-build, port: 8080}, {name: el-other, port: 8080}]}]\n",
			"apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: dash, namespace: tekton-pipelines}\nspec:\n  rules: [{backendRefs: [{name: tekton-dashboard, port: 9097}]}]\n"},
			want: map[string]int{finding.RefMissing: 1}},
		{name: "an issuer in a valuesFrom ConfigMap of a resource chart is unknown", docs: []string{
			"apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {name: c, namespace: web}\nspec: {secretName: c, issuerRef: {name: letsencrypt-production, kind: ClusterIssuer}}\n",
			"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: issuer-values, namespace: cert-manager}\ndata:\n  values.yaml: |\n    resources:\n      - apiVersion: cert-manager.io/v1\n        kind: ClusterIssuer\n        metadata: {name: letsencrypt-production}\n",
			"apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: issuers, namespace: cert-manager}\nspec:\n  chart: {spec: {chart: k8s-resource}}\n  valuesFrom: [{kind: ConfigMap, name: issuer-values}, {kind: ConfigMap, name: absent}]\n"},
			// The issuer may come from the chart; the absent valuesFrom
			// ConfigMap fails the release.
			want: map[string]int{finding.RefUnknown: 1, finding.RefMissing: 1}},
		{name: "Istio's root certificate ConfigMap is made by istiod, when the cluster installs it", docs: []string{
			"apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: prod}\nspec:\n  containers: [{name: c, image: x}]\n  volumes: [{name: ca, configMap: {name: istio-ca-root-cert}}]\n",
			"apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: istiod, namespace: istio-system}\nspec: {chart: {spec: {chart: istiod}}}\n"},
			rendered: true,
			want:     map[string]int{}},
		{name: "without istiod it is missing", docs: []string{
			"apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: prod}\nspec:\n  containers: [{name: c, image: x}]\n  volumes: [{name: ca, configMap: {name: istio-ca-root-cert}}]\n"},
			want: map[string]int{finding.RefMissing: 1}},
		{name: "valuesFrom: present, optional, named in another release's values, missing", docs: []string{
			"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: present, namespace: web}\n",
			"apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: app, namespace: web}\nspec:\n  chart: {spec: {chart: app}}\n  valuesFrom:\n" +
				"    - {kind: ConfigMap, name: present}\n    - {kind: Secret, name: maybe, optional: true}\n    - {kind: ConfigMap, name: absent}\n",
			"apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: other, namespace: shared}\nspec:\n  chart: {spec: {chart: other}}\n  values: {configMaps: [from-other]}\n",
			"apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: user, namespace: shared}\nspec:\n  chart: {spec: {chart: user}}\n  valuesFrom: [{kind: ConfigMap, name: from-other}]\n"},
			want: map[string]int{finding.RefMissing: 1, finding.RefUnknown: 1}},
		{name: "Flux's own Services, and what a Flux Operator ResourceSet creates", docs: []string{
			"apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: r, namespace: flux-system}\nspec:\n  rules: [{backendRefs: [{name: webhook-receiver, port: 80}, {name: flux-operator, port: 9080}, {name: ui, port: 80}, {name: other, port: 80}]}]\n",
			"apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: flux-system}\nspec:\n  containers: [{name: c, image: x}]\n  volumes: [{name: v, configMap: {name: operator-settings}}]\n",
			"apiVersion: fluxcd.controlplane.io/v1\nkind: ResourceSet\nmetadata: {name: flux-operator, namespace: flux-system}\nspec:\n  resources:\n" +
				"    - {apiVersion: v1, kind: ConfigMap, metadata: {name: operator-settings}}\n" +
				"    - {apiVersion: v1, kind: Service, metadata: {name: \"<< inputs.name >>\"}}\n" +
				"    - {apiVersion: helm.toolkit.fluxcd.io/v2, kind: HelmRelease, metadata: {name: flux-operator, namespace: flux-system}, spec: {chartRef: {kind: OCIRepository, name: flux-operator}}}\n"},
			// webhook-receiver is Flux's; flux-operator, ui and other may
			// come from the ResourceSet's chart; operator-settings is made
			// by the ResourceSet.
			want: map[string]int{finding.RefUnknown: 3}},
		{name: "objects an unknown operator may make, named after its resource", docs: []string{
			"apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: r, namespace: mcp}\nspec:\n  rules: [{backendRefs: [{name: mcp-flux-mcp-proxy, port: 8080}, {name: other, port: 80}, {name: app-metrics, port: 80}]}]\n",
			"apiVersion: toolhive.stacklok.dev/v1beta1\nkind: MCPServer\nmetadata: {name: flux-mcp, namespace: mcp}\nspec: {}\n",
			// A ServiceMonitor makes nothing: app-metrics stays missing.
			"apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata: {name: app, namespace: mcp}\nspec: {}\n"},
			want: map[string]int{finding.RefUnknown: 1, finding.RefMissing: 2}},
		{name: "a HelmRelease without spec", docs: []string{
			"apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: broken, namespace: web}\n"},
			want: map[string]int{}},
		{name: "HTTPRoute to a Gateway listener and Service port", docs: []string{
			"apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: gw, namespace: edge}\nspec:\n  listeners: [{name: https, port: 443, protocol: HTTPS}]\n",
			"apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: web}\nspec: {ports: [{port: 80}]}\n",
			"apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: r, namespace: web}\nspec:\n  parentRefs: [{name: gw, namespace: edge, sectionName: http}]\n  rules:\n    - backendRefs: [{name: web, port: 8080}]\n      filters: [{type: ExtensionRef, extensionRef: {group: traefik.io, kind: Middleware, name: auth}}]\n"},
			want: map[string]int{finding.RefPort: 2, finding.RefMissing: 1}},
		{name: "issuer references", docs: []string{
			"apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {name: c, namespace: web}\nspec: {secretName: c, issuerRef: {name: le, kind: ClusterIssuer}}\n",
			"apiVersion: cert-manager.io/v1\nkind: ClusterIssuer\nmetadata: {name: le}\nspec: {}\n",
			"apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: i, namespace: web, annotations: {cert-manager.io/issuer: local}}\nspec: {}\n"},
			want: map[string]int{finding.RefMissing: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			if cfg == nil {
				cfg = &config.Config{}
			}
			got := map[string]int{}
			c := cluster(t, tt.docs...)
			if tt.rendered {
				c.Charts = map[*render.Object]string{}
				for _, o := range c.Objects {
					if o.U.GetKind() == "HelmRelease" {
						c.Charts[o] = "test chart"
					}
				}
			}
			for _, f := range Check(c, cfg) {
				got[f.Rule]++
				if f.Field == "" || f.Message == "" {
					t.Errorf("finding without field or message: %+v", f)
				}
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("got %v, want %v", got, tt.want)
				}
			}
		})
	}
}

// A ConfigMap or Secret that a Kustomization's substituteFrom requires is
// made in the cluster when it is not in the repository (Flux would not
// apply the Kustomization otherwise): other references to it are
// unverifiable, not missing. An optional one proves nothing.
func TestSubstituteFromObjectsExistInCluster(t *testing.T) {
	c := cluster(t, pod)
	var obj map[string]any
	if err := yaml.Unmarshal([]byte(`apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: apps, namespace: web}
spec:
  postBuild:
    substituteFrom:
      - {kind: Secret, name: web-env}
      - {kind: Secret, name: web-tls, optional: true}
`), &obj); err != nil {
		t.Fatal(err)
	}
	c.Kustomizations = append(c.Kustomizations, &render.Kustomization{Ref: render.Ref{Namespace: "web", Name: "apps"}, Obj: &unstructured.Unstructured{Object: obj}})
	got := map[string][]string{}
	for _, f := range Check(c, &config.Config{}) {
		got[f.Rule] = append(got[f.Rule], f.Message)
	}
	// web-env is required by the Kustomization; web-tls (optional) and
	// the ServiceAccount stay missing.
	if len(got[finding.RefUnknown]) != 1 || len(got[finding.RefMissing]) != 2 {
		t.Fatalf("findings %v, want 1 unverifiable (web-env) and 2 missing", got)
	}
	if msg := got[finding.RefUnknown][0]; !strings.Contains(msg, "web-env") || !strings.Contains(msg, "Kustomization web/apps requires it for postBuild.substituteFrom") {
		t.Errorf("unverifiable: %s", msg)
	}
}

// A missing valuesFrom object is an error in a repository that carries its
// own .gitops-validate.yaml (where externalObjects lists what is made by
// hand) and a warning in a foreign one, where values Secrets made outside
// Git are common; an object a substituteFrom requires is unverifiable.
func TestValuesFromSeverity(t *testing.T) {
	docs := []string{"apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: app, namespace: web}\nspec:\n  chart: {spec: {chart: app}}\n" +
		"  valuesFrom: [{kind: Secret, name: app-values}, {kind: Secret, name: web-vars}]\n"}
	for _, tc := range []struct {
		file string
		want finding.Severity
	}{{"", finding.Warning}, {".gitops-validate.yaml", finding.Error}} {
		c := cluster(t, docs...)
		c.Kustomizations[0].Ref = render.Ref{Namespace: "web", Name: "apps"}
		c.Kustomizations[0].Obj = &unstructured.Unstructured{Object: map[string]any{"spec": map[string]any{"postBuild": map[string]any{
			"substituteFrom": []any{map[string]any{"kind": "Secret", "name": "web-vars"}}}}}}
		var got []string
		for _, f := range Check(c, &config.Config{File: tc.file}) {
			got = append(got, string(f.Severity)+" "+f.Rule+" "+f.Field)
		}
		want := []string{string(tc.want) + " " + finding.RefMissing + " spec.valuesFrom.0", "info " + finding.RefUnknown + " spec.valuesFrom.1"}
		if !slices.Equal(got, want) {
			t.Errorf("config %q: %v, want %v", tc.file, got, want)
		}
	}
}

// A RoleBinding or ClusterRoleBinding subject that names a ServiceAccount
// not in the manifests is a warning: the API server accepts it and nothing
// fails (flux install binds controllers that are not installed).
func TestBindingSubjectIsAWarning(t *testing.T) {
	c := cluster(t, "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: crd-controller}\n"+
		"roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: crd-controller}\n"+
		"subjects: [{kind: ServiceAccount, name: image-reflector-controller, namespace: flux-system}, {kind: ServiceAccount, name: default, namespace: flux-system}]\n")
	fs := Check(c, &config.Config{})
	if len(fs) != 1 || fs[0].Rule != finding.RefMissing || fs[0].Severity != finding.Warning || fs[0].Field != "subjects.0" {
		t.Fatalf("findings %+v, want one reference-missing warning on subjects.0", fs)
	}
}
