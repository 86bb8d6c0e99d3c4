package treetest

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"
)

// crdKinds are the custom kinds this repository uses whose Go types are not
// in the module, by apiVersion. Their schemas are checked by the validator
// (tools/cmd/gitops-validate); here a kind outside this list is an error, so
// a typo in apiVersion or kind cannot pass unnoticed.
var crdKinds = map[string][]string{
	"traefik.io/v1alpha1":                    {"Middleware"},
	"cert-manager.io/v1":                     {"ClusterIssuer", "Certificate"},
	"rabbitmq.com/v1beta1":                   {"RabbitmqCluster", "User", "Permission"},
	"mongodbcommunity.mongodb.com/v1":        {"MongoDBCommunity"},
	"image.toolkit.fluxcd.io/v1":             {"ImageRepository", "ImagePolicy", "ImageUpdateAutomation"},
	"notification.toolkit.fluxcd.io/v1beta3": {"Provider", "Alert"},
	"notification.toolkit.fluxcd.io/v1":      {"Receiver"},
	"kustomize.config.k8s.io/v1beta1":        nil,
	"kustomize.config.k8s.io/v1alpha1":       nil,
	"apiextensions.k8s.io/v1":                {"CustomResourceDefinition"},
	"gateway.networking.k8s.io/v1alpha2":     nil,
	"gateway.networking.k8s.io/v1beta1":      nil,
	"admissionregistration.k8s.io/v1beta1":   nil,
}

func TestKustomizationsBuild(t *testing.T) {
	r := renderCluster(t)
	names := map[string]int{}
	for _, o := range r.Objects {
		names[o.Kustomization]++
	}
	for _, ks := range r.Kustomizations {
		t.Run(ks.Name, func(t *testing.T) {
			if slices.Contains(r.External, ks.Name) {
				t.Skipf("source %s/%s is not this repository", ks.Spec.SourceRef.Kind, ks.Spec.SourceRef.Name)
			}
			if names[ks.Name] == 0 {
				t.Errorf("Kustomization %s (path %s) renders no objects", ks.Name, ks.Spec.Path)
			}
		})
	}
	for _, want := range []string{"flux-system", "gateway-api", "infra-controllers", "infra-configs", "infra-backups", "apps"} {
		if !slices.ContainsFunc(r.Kustomizations, func(ks *kustomizev1.Kustomization) bool { return ks.Name == want }) {
			t.Errorf("Kustomization %s is missing from %s", want, clusterPath)
		}
	}
}

func TestObjectsDecodeStrictly(t *testing.T) {
	r := renderCluster(t)
	for _, o := range r.Objects {
		raw, err := yaml.Marshal(applied(o.Doc))
		if err != nil {
			t.Fatalf("%s: marshal: %v", o, err)
		}
		_, _, err = strictDecoder.Decode(raw, nil, nil)
		switch {
		case err == nil:
		case runtime.IsNotRegisteredError(err):
			kinds, ok := crdKinds[o.apiVersion()]
			if !ok || !slices.Contains(kinds, o.kind()) {
				t.Errorf("%s: unknown kind %s %s", o, o.apiVersion(), o.kind())
			}
		default:
			t.Errorf("%s: %v", o, err)
		}
	}
}

func TestKustomizationSettings(t *testing.T) {
	r := renderCluster(t)
	for _, ks := range r.Kustomizations {
		t.Run(ks.Name, func(t *testing.T) {
			s := ks.Spec
			external := slices.Contains(r.External, ks.Name)
			if s.Interval.Duration == 0 {
				t.Error("interval is not set")
			}
			if s.RetryInterval == nil || s.RetryInterval.Duration == 0 {
				t.Error("retryInterval is not set")
			}
			if s.Timeout == nil || s.Timeout.Duration == 0 {
				t.Error("timeout is not set")
			}
			if !s.Prune {
				t.Error("prune is not true")
			}
			if s.SourceRef.Namespace == "" {
				t.Error("sourceRef.namespace is not explicit")
			}
			if !s.Wait && len(s.HealthChecks) == 0 {
				t.Error("neither wait nor healthChecks")
			}
			if s.Decryption == nil && !external {
				t.Error("no SOPS decryption")
			} else if d := s.Decryption; d != nil && (d.Provider != "sops" || d.SecretRef == nil || d.SecretRef.Name != "sops-age") {
				t.Errorf("decryption = %+v, want provider sops with secretRef sops-age", d)
			}
			if ks.Name == "flux-system" || external {
				// flux-system applies only cluster-level objects and no variables;
				// upstream content (gateway-api) is applied as published.
				return
			}
			if s.PostBuild == nil {
				t.Fatal("no postBuild")
			}
			var from []string
			for _, ref := range s.PostBuild.SubstituteFrom {
				from = append(from, ref.Kind+"/"+ref.Name)
			}
			for _, want := range []string{"ConfigMap/cluster-vars", "Secret/cluster-secrets"} {
				if !slices.Contains(from, want) {
					t.Errorf("postBuild.substituteFrom lacks %s", want)
				}
			}
		})
	}
}

func TestDependencyOrder(t *testing.T) {
	r := renderCluster(t)
	want := map[string]string{
		"infra-controllers": "gateway-api",
		"infra-configs":     "infra-controllers",
		"apps":              "infra-configs",
		"infra-backups":     "infra-configs",
	}
	for _, ks := range r.Kustomizations {
		dep, ok := want[ks.Name]
		if !ok {
			continue
		}
		var got []string
		for _, d := range ks.Spec.DependsOn {
			got = append(got, d.Name)
		}
		if !slices.Contains(got, dep) {
			t.Errorf("Kustomization %s dependsOn %v, want %s", ks.Name, got, dep)
		}
	}
}

func TestNothingForbidden(t *testing.T) {
	r := renderCluster(t)
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			for _, o := range r.Objects {
				for _, p := range c.fn(o) {
					t.Errorf("%s: %s", o, p)
				}
			}
		})
	}
}

// TestAdminMiddlewaresExist checks that every Middleware an HTTPRoute names
// exists in the route's namespace, and that admin-auth really authenticates.
func TestAdminMiddlewaresExist(t *testing.T) {
	r := renderCluster(t)
	middlewares := map[string]object{}
	for _, o := range r.Objects {
		if o.kind() == "Middleware" {
			middlewares[o.meta("namespace")+"/"+o.meta("name")] = o
		}
	}
	for _, o := range r.Objects {
		if o.kind() != "HTTPRoute" {
			continue
		}
		for _, rule := range list(dig(o.Doc, "spec"), "rules") {
			for _, f := range list(rule, "filters") {
				ref, _ := f["extensionRef"].(map[string]any)
				if f["type"] != "ExtensionRef" || ref["kind"] != "Middleware" {
					continue
				}
				key := o.meta("namespace") + "/" + ref["name"].(string)
				mw, ok := middlewares[key]
				if !ok {
					t.Errorf("%s: Middleware %s does not exist", o, key)
					continue
				}
				if ref["name"] == "admin-auth" {
					spec := dig(mw.Doc, "spec")
					if spec["basicAuth"] == nil && spec["forwardAuth"] == nil {
						t.Errorf("%s: admin-auth has neither basicAuth nor forwardAuth", mw)
					}
				}
			}
		}
	}
}

// TestChecksCatchViolations feeds each check an object that breaks its rule,
// so that a check that never fires cannot pass the tree.
func TestChecksCatchViolations(t *testing.T) {
	tests := []struct {
		check   string
		fixture string
	}{
		{"secret-encrypted", "plain-secret.yaml"},
		{"image-digest", "tag-only-image.yaml"},
		{"image-digest", "helmrelease-image-without-digest.yaml"},
		{"image-digest", "zero-digest-image.yaml"},
		{"image-digest", "helmrelease-zero-digest.yaml"},
		{"no-loadbalancer", "loadbalancer-service.yaml"},
		{"no-http01", "http01-issuer.yaml"},
		{"not-privileged", "privileged-pod.yaml"},
		{"admin-route-auth", "dashboard-route-without-auth.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.check+"/"+tt.fixture, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("testdata", "violations", tt.fixture))
			if err != nil {
				t.Fatal(err)
			}
			var doc map[string]any
			if err := yaml.Unmarshal(raw, &doc); err != nil {
				t.Fatalf("parse %s: %v", tt.fixture, err)
			}
			o := object{Kustomization: "fixture", Encrypted: doc, Doc: doc}
			for _, c := range checks {
				problems := c.fn(o)
				if c.name == tt.check && len(problems) == 0 {
					t.Errorf("check %s found nothing wrong in %s", c.name, tt.fixture)
				}
				if c.name != tt.check && len(problems) > 0 {
					t.Errorf("check %s also fired on %s: %v", c.name, tt.fixture, problems)
				}
			}
		})
	}
}

// TestNoHTTP01Anywhere scans the manifest directories as text, so that an
// HTTP-01 solver cannot hide in a file kustomize does not include.
func TestNoHTTP01Anywhere(t *testing.T) {
	root := repoRoot(t)
	for _, dir := range []string{"clusters", "infrastructure", "apps"} {
		err := filepath.WalkDir(filepath.Join(root, dir), func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".yaml") {
				return err
			}
			raw, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			if strings.Contains(string(raw), "http01:") {
				rel, _ := filepath.Rel(root, path)
				t.Errorf("%s: HTTP-01 solver", rel)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestNoZeroDigestAnywhere scans the manifest directories as text for the
// all-zero sha256 digest, so that a placeholder digest cannot hide in a file
// kustomize does not include, nor in a kustomization's images: list whose
// entry no object uses. Test fixtures live under testdata/, outside these
// directories.
func TestNoZeroDigestAnywhere(t *testing.T) {
	root := repoRoot(t)
	for _, dir := range []string{"clusters", "infrastructure", "apps"} {
		err := filepath.WalkDir(filepath.Join(root, dir), func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			raw, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for i, line := range strings.Split(string(raw), "\n") {
				if strings.Contains(line, zeroDigest) {
					rel, _ := filepath.Rel(root, path)
					t.Errorf("%s:%d: all-zero placeholder digest: pin the digest of a real build (scripts/pin-images.sh for the fitness images)", rel, i+1)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestFluxComponentsMatchTheE2EVersion checks that gotk-components.yaml is
// Flux's install manifest of the release the end-to-end test runs, with
// bootstrap's components (scripts/flux-components.sh reproduces it).
func TestFluxComponentsMatchTheE2EVersion(t *testing.T) {
	root := repoRoot(t)
	env, err := os.ReadFile(filepath.Join(root, "tools/e2e/versions.env"))
	if err != nil {
		t.Fatal(err)
	}
	var version string
	for _, line := range strings.Split(string(env), "\n") {
		if v, ok := strings.CutPrefix(line, "FLUX_VERSION="); ok {
			version = v
		}
	}
	data, err := os.ReadFile(filepath.Join(root, "clusters/homelab/flux-system/gotk-components.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	header := string(data[:min(len(data), 512)])
	if want := "# Flux Version: " + version + "\n"; version == "" || !strings.Contains(header, want) {
		t.Errorf("gotk-components.yaml header %q lacks %q (tools/e2e/versions.env)", header, want)
	}
	if want := "# Components: source-controller,kustomize-controller,helm-controller,notification-controller,image-reflector-controller,image-automation-controller\n"; !strings.Contains(header, want) {
		t.Errorf("gotk-components.yaml header %q lacks bootstrap's components %q", header, want)
	}
}
