package schema

import (
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"sigs.k8s.io/yaml"

	"github.com/homelab-gitops/homelab/tools/schemas"
)

func TestValidate(t *testing.T) {
	v, err := New(schemas.Compiled)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		obj   string
		field string // "" = no issue expected
		msg   string
		kind  string // "unknown", "noschema"
	}{
		{name: "valid deployment", obj: `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: nginx}]`},
		{name: "unknown field in built-in", obj: `apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  ports: [{port: 80, targetPortt: 8080}]`, field: "spec.ports.0.targetPortt", msg: "unknown field"},
		{name: "wrong type in built-in", obj: `apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  ports: [{port: "eighty"}]`, field: "spec.ports.port", msg: "wrong type"},
		{name: "missing required container image", obj: `apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers: [{name: c}]`, field: "spec.containers.0", msg: `"spec.containers.0.image"`},
		{name: "valid custom resource", obj: `apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: c, namespace: n}
spec:
  secretName: c-tls
  dnsNames: [a.example.org]
  issuerRef: {name: le, kind: ClusterIssuer}`},
		// The API server drops a null the schema does not allow (Helm
		// users write "version:" for the latest chart) and applies
		// defaults before it validates a custom resource.
		{name: "null for a non-nullable field of a custom resource", obj: `apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: eck, namespace: default}
spec:
  interval: 1h
  chart:
    spec:
      chart: eck-operator
      version: null
      sourceRef: {kind: HelmRepository, name: elastic}`},
		{name: "a required field the schema defaults", obj: `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, namespace: n}
spec:
  parentRefs: [{name: gw}]
  rules: [{matches: [{path: {value: /api}}], backendRefs: [{name: api, port: 80}]}]`},
		{name: "missing required field in custom resource", obj: `apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: c, namespace: n}
spec:
  dnsNames: [a.example.org]
  issuerRef: {name: le}`, field: "spec.secretName", msg: "Required value"},
		{name: "unknown field in custom resource", obj: `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, namespace: n}
spec:
  parentRefs: [{name: gw, sectionNam: https}]`, field: "spec.parentRefs.0.sectionNam", msg: "unknown field"},
		{name: "enum violation in Flux resource", obj: `apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: k, namespace: flux-system}
spec:
  interval: 10m
  prune: true
  sourceRef: {kind: GitRepo, name: flux-system}`, field: "spec.sourceRef.kind", msg: "Unsupported value"},
		{name: "CEL rule in custom resource", obj: `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, namespace: n}
spec:
  rules:
    - filters:
        - type: RequestRedirect
          requestRedirect: {scheme: https}
        - type: URLRewrite
          urlRewrite: {hostname: example.org}`, field: "spec.rules.0.filters", msg: "May specify either httpRouteFilterRequestRedirect or httpRouteFilterRequestRewrite"},
		{name: "valid Flux Operator instance", obj: `apiVersion: fluxcd.controlplane.io/v1
kind: FluxInstance
metadata: {name: flux, namespace: flux-system}
spec:
  distribution: {version: "2.x", registry: registry.example.org/fluxcd}
  components: [source-controller, kustomize-controller, helm-controller, notification-controller]
  cluster: {type: kubernetes, size: medium, multitenant: false, networkPolicy: true, domain: cluster.local}
  sync: {kind: GitRepository, url: "https://git.example.org/fleet.git", ref: refs/heads/main, path: clusters/staging}`},
		{name: "enum violation in a Flux Operator instance", obj: `apiVersion: fluxcd.controlplane.io/v1
kind: FluxInstance
metadata: {name: flux, namespace: flux-system}
spec:
  distribution: {version: "2.x", registry: registry.example.org/fluxcd}
  cluster: {size: huge}`, field: "spec.cluster.size", msg: "Unsupported value"},
		{name: "unknown field in a ResourceSet", obj: `apiVersion: fluxcd.controlplane.io/v1
kind: ResourceSet
metadata: {name: apps, namespace: flux-system}
spec:
  input: [{tenant: team1}]`, field: "spec.input", msg: "unknown field"},
		{name: "unknown kind in a known group", obj: `apiVersion: traefik.io/v1alpha1
kind: Middlewares
metadata: {name: m}`, field: "kind", msg: "did you mean Middleware", kind: "unknown"},
		{name: "unknown version", obj: `apiVersion: rabbitmq.com/v2
kind: RabbitmqCluster
metadata: {name: r}`, field: "apiVersion", msg: "served versions: rabbitmq.com/v1beta1", kind: "unknown"},
		{name: "unknown group", obj: `apiVersion: example.com/v1
kind: Widget
metadata: {name: w}`, field: "apiVersion", msg: "no schema", kind: "noschema"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var obj map[string]any
			if err := yaml.Unmarshal([]byte(tt.obj), &obj); err != nil {
				t.Fatal(err)
			}
			issues := v.Validate(obj)
			if tt.field == "" {
				if len(issues) != 0 {
					t.Fatalf("unexpected issues: %+v", issues)
				}
				return
			}
			for _, is := range issues {
				if is.Field == tt.field && strings.Contains(is.Message, tt.msg) &&
					is.UnknownKind == (tt.kind == "unknown") && is.NoSchema == (tt.kind == "noschema") {
					return
				}
			}
			t.Fatalf("no issue at %s containing %q in %+v", tt.field, tt.msg, issues)
		})
	}
}

func TestClusterScoped(t *testing.T) {
	v, err := New(schemas.Compiled)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		group, kind string
		want        bool
	}{
		{"", "Namespace", true}, {"", "Service", false}, {"cert-manager.io", "ClusterIssuer", true},
		{"cert-manager.io", "Issuer", false}, {"gateway.networking.k8s.io", "GatewayClass", true},
	} {
		if got := v.ClusterScoped(tt.group, tt.kind); got != tt.want {
			t.Errorf("ClusterScoped(%s, %s) = %v, want %v", tt.group, tt.kind, got, tt.want)
		}
	}
}

func TestFluxOperatorKinds(t *testing.T) {
	alert := map[string]any{"apiVersion": "notification.toolkit.fluxcd.io/v1beta3", "kind": "Alert",
		"metadata": map[string]any{"name": "a", "namespace": "flux-system"},
		"spec":     map[string]any{"providerRef": map[string]any{"name": "p"}, "eventSources": []any{map[string]any{"kind": "FluxInstance", "name": "flux"}}}}
	plain, err := New(schemas.Compiled)
	if err != nil {
		t.Fatal(err)
	}
	if issues := plain.Validate(alert); len(issues) == 0 {
		t.Error("plain Flux: FluxInstance event source accepted")
	}
	op, err := New(schemas.Compiled)
	if err != nil {
		t.Fatal(err)
	}
	op.FluxOperatorKinds()
	if issues := op.Validate(alert); len(issues) != 0 {
		t.Errorf("Flux Operator: %+v", issues)
	}
}

func TestAPIVersions(t *testing.T) {
	v, err := New(schemas.Compiled)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, s := range v.APIVersions() {
		got[s] = true
	}
	for _, want := range []string{"v1", "v1/ConfigMap", "apps/v1/Deployment", "gateway.networking.k8s.io/v1", "gateway.networking.k8s.io/v1/HTTPRoute", "cert-manager.io/v1/Certificate", "helm.toolkit.fluxcd.io/v2/HelmRelease"} {
		if !got[want] {
			t.Errorf("APIVersions lacks %s", want)
		}
	}
	if got["apps/__internal"] {
		t.Error("APIVersions lists an internal version")
	}
	// Gateway API v1.7 keeps TCPRoute v1alpha2 in its CRD but no longer serves it.
	if got["gateway.networking.k8s.io/v1alpha2/TCPRoute"] || !got["gateway.networking.k8s.io/v1/TCPRoute"] {
		t.Error("APIVersions must list TCPRoute v1 (served) and not v1alpha2 (not served)")
	}
}

// A version the embedded CRDs no longer serve is validated against the
// legacy schema of the last release that served it, strictly: its own
// fields pass, a typo does not; a version no release served stays unknown.
func TestLegacyVersions(t *testing.T) {
	v, err := New(schemas.Compiled)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.AddLegacy(schemas.Legacy); err != nil {
		t.Fatal(err)
	}
	hr := func(version, chartField string) map[string]any {
		var obj map[string]any
		doc := `apiVersion: helm.toolkit.fluxcd.io/` + version + `
kind: HelmRelease
metadata: {name: podinfo, namespace: apps}
spec:
  interval: 10m
  chart:
    spec:
      chart: podinfo
      ` + chartField + `: {kind: HelmRepository, name: podinfo}
`
		if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
			t.Fatal(err)
		}
		return obj
	}
	if issues := v.Validate(hr("v2beta1", "sourceRef")); len(issues) != 0 {
		t.Errorf("v2beta1 HelmRelease: %+v", issues)
	}
	if issues := v.Validate(hr("v2beta2", "sourceReff")); len(issues) != 2 || !strings.Contains(issues[1].Message, `unknown field "spec.chart.spec.sourceReff"`) {
		t.Errorf("v2beta2 HelmRelease with a misspelt field: %+v", issues)
	}
	if issues := v.Validate(hr("v2alpha9", "sourceRef")); len(issues) != 1 || !issues[0].UnknownKind {
		t.Errorf("v2alpha9 HelmRelease: %+v, want an unknown version", issues)
	}
	// A Gateway API version of the experimental channel that the embedded
	// standard CRDs do not serve (installed from a chart).
	var route map[string]any
	if err := yaml.Unmarshal([]byte(`apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TCPRoute
metadata: {name: ssh, namespace: default}
spec:
  parentRefs: [{name: gateway, sectionName: ssh}]
  rules: [{backendRefs: [{name: forgejo, port: 22}]}]
`), &route); err != nil {
		t.Fatal(err)
	}
	if issues := v.Validate(route); len(issues) != 0 {
		t.Errorf("v1alpha2 TCPRoute: %+v", issues)
	}
	plain, err := New(schemas.Compiled)
	if err != nil {
		t.Fatal(err)
	}
	if issues := plain.Validate(route); len(issues) != 1 || !issues[0].UnknownKind {
		t.Errorf("without legacy schemas, v1alpha2 TCPRoute: %+v, want an unknown version", issues)
	}
	if issues := plain.Validate(hr("v2beta1", "sourceRef")); len(issues) != 1 || !issues[0].UnknownKind {
		t.Errorf("without legacy schemas, v2beta1 HelmRelease: %+v, want an unknown version", issues)
	}
}

// TestAPIVersionsWhileLoading: the list does not depend on which kinds are
// being loaded when it is made (the validator preloads kinds in the
// background while charts are rendered). A kind whose document was taken
// from the pending ones and not compiled yet was missing, and a chart's
// .Capabilities with it.
func TestAPIVersionsWhileLoading(t *testing.T) {
	set := func(vs []string) []string {
		slices.Sort(vs)
		return slices.Compact(vs)
	}
	v, err := New(schemas.Compiled)
	if err != nil {
		t.Fatal(err)
	}
	want := set(v.APIVersions())
	kinds := [][2]string{
		{"gateway.networking.k8s.io/v1", "HTTPRoute"}, {"gateway.networking.k8s.io/v1", "Gateway"},
		{"cert-manager.io/v1", "Certificate"}, {"kustomize.toolkit.fluxcd.io/v1", "Kustomization"},
		{"helm.toolkit.fluxcd.io/v2", "HelmRelease"}, {"source.toolkit.fluxcd.io/v1", "GitRepository"},
	}
	for i := range 8 {
		v, err := New(schemas.Compiled)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for _, k := range kinds {
			wg.Go(func() { v.PreloadKind(k[0], k[1]) })
		}
		got := set(v.APIVersions())
		wg.Wait()
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("run %d: API versions while kinds load (-idle +loading):\n%s", i, diff)
		}
	}
}
