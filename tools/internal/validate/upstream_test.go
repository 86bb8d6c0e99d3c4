package validate

import (
	"context"
	"strings"
	"testing"

	"github.com/homelab-gitops/homelab/tools/internal/finding"
	"github.com/homelab-gitops/homelab/tools/internal/testfs"
)

// gatewayAPISource installs the Gateway API CRDs of a release tag the way
// clusters/homelab does, and the clean fixture's apps depend on it.
func gatewayAPISource(url, tag string) map[string]string {
	return map[string]string{
		"clusters/home/gateway-api.yaml": `apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: gateway-api
  namespace: flux-system
spec:
  interval: 12h
  url: ` + url + `
  ref:
    tag: ` + tag + `
  ignore: |
    /*
    !/config/crd/
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: gateway-api
  namespace: flux-system
spec:
  interval: 1h
  timeout: 5m
  sourceRef:
    kind: GitRepository
    name: gateway-api
  path: ./config/crd
  prune: false
`,
		// retry on HTTPRoute rules is in the standard channel from v1.6.
		"apps/web/route.yaml": `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: web
spec:
  parentRefs:
    - name: main
      namespace: cert-manager
      sectionName: https
  hostnames:
    - web.${DOMAIN}
  rules:
    - backendRefs:
        - name: web
          port: 80
      retry:
        attempts: 2
`,
	}
}

// A repository that installs the Gateway API CRDs from an upstream tag the
// validator embeds is validated against that release, not the newest.
func TestUpstreamGatewayAPIVersion(t *testing.T) {
	const url = "https://github.com/kubernetes-sigs/gateway-api"
	for _, tt := range []struct {
		url, tag   string
		rendered   bool
		retryError bool
	}{
		{url, "v1.5.1", true, true}, // embedded: its HTTPRoute has no retry
		{"git@GitHub.com:kubernetes-sigs/gateway-api.git", "v1.5.1", true, true}, // the same repository spelt otherwise
		{url, "v1.4.0", false, false},                                            // not embedded: the newest embedded CRDs
	} {
		t.Run(tt.url+"@"+tt.tag, func(t *testing.T) {
			dir := fixture(t, "")
			testfs.Write(t, dir, gatewayAPISource(tt.url, tt.tag))
			rep, err := Run(context.Background(), Options{Root: dir, Policies: policies(t)})
			if err != nil {
				t.Fatal(err)
			}
			unavailable, retry, crds := false, false, 0
			for _, f := range rep.Findings {
				if f.Rule == finding.RenderSource && strings.Contains(f.Message, "gateway-api") {
					unavailable = true
				}
				if f.Rule == finding.SchemaInvalid && strings.Contains(f.Message, "retry") {
					retry = true
				}
			}
			for _, o := range rep.Clusters[0].Objects {
				if o.U.GetKind() == "CustomResourceDefinition" && strings.HasPrefix(o.File, "github.com/kubernetes-sigs/gateway-api@v1.5.1/config/crd/standard/") {
					crds++
				}
			}
			if unavailable == tt.rendered || (crds > 0) != tt.rendered {
				logFindings(t, rep)
				t.Fatalf("rendered: source-unavailable %v, %d CRDs from the embedded tree; want rendered %v", unavailable, crds, tt.rendered)
			}
			if retry != tt.retryError {
				logFindings(t, rep)
				t.Errorf("schema error on spec.rules[0].retry: %v, want %v", retry, tt.retryError)
			}
		})
	}
}
