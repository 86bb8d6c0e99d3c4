package validate

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/homelab-gitops/homelab/tools/internal/config"
	"github.com/homelab-gitops/homelab/tools/internal/finding"
)

// fixture copies testdata/repos/clean into a temporary directory and lays
// the overlay testdata/cases/<name> over it (a file named X.delete removes X).
func fixture(t *testing.T, overlay string) string {
	t.Helper()
	dir := t.TempDir()
	copyTree(t, filepath.Join("testdata", "repos", "clean"), dir)
	if overlay != "" {
		src := filepath.Join("testdata", "cases", overlay)
		err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(src, p)
			if target, ok := strings.CutSuffix(rel, ".delete"); ok {
				return os.Remove(filepath.Join(dir, target))
			}
			return copyFile(p, filepath.Join(dir, rel))
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		return copyFile(p, filepath.Join(dst, rel))
	})
	if err != nil {
		t.Fatal(err)
	}
}

func copyFile(src, dst string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return os.WriteFile(dst, data, 0o644)
}

func policies(t *testing.T) string {
	abs, err := filepath.Abs(filepath.Join("testdata", "policies"))
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

func TestCleanFixturePasses(t *testing.T) {
	rep, err := Run(context.Background(), Options{Root: fixture(t, ""), Policies: policies(t)})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range rep.Findings {
		if f.Severity != finding.Info {
			t.Errorf("unexpected finding on the clean fixture: %s: %s %s %s", f.Position(), f.Severity, f.Rule, f.Message)
		}
	}
	if rep.Stats.Kustomizations != 4 || rep.Stats.Objects < 20 {
		t.Errorf("rendered %d Kustomizations and %d objects, want 4 and at least 20", rep.Stats.Kustomizations, rep.Stats.Objects)
	}
}

func TestFixturePerRule(t *testing.T) {
	tests := []struct {
		overlay string
		rule    string
		file    string
		line    int // 0: any
		message string
	}{
		{"parse-syntax", finding.ParseSyntax, "apps/web/namespace.yaml", 5, ""},
		{"parse-duplicate-key", finding.ParseDuplicateKey, "apps/web/namespace.yaml", 5, `"name"`},
		{"render-failed", finding.RenderFailed, "apps/web/kustomization.yaml", 10, "missing.yaml"},
		{"render-variable-missing", finding.RenderVarMissing, "apps/web/deployment.yaml", 25, "${UNDEFINED_DOMAIN}"},
		{"schema-invalid", finding.SchemaInvalid, "apps/web/deployment.yaml", 8, `"spec.replicas": expected int32`},
		{"schema-field-dropped", finding.SchemaFieldDropped, "apps/web/deployment.yaml", 8, `"spec.replica"`},
		{"schema-unknown-kind", finding.SchemaUnknownKind, "apps/web/deployment.yaml", 0, "did you mean Certificate"},
		{"graph-dependson-missing", finding.GraphDependsOn, "clusters/home/apps.yaml", 8, "flux-system/infra-config"},
		{"graph-dependson-cycle", finding.GraphCycle, "clusters/home/apps.yaml", 0, "cycle"},
		{"graph-path-missing", finding.GraphPath, "clusters/home/apps.yaml", 1, "./apps/production"},
		{"graph-source-missing", finding.GraphSource, "clusters/home/apps.yaml", 1, "apps-repo"},
		{"graph-crd-order", finding.GraphCRDOrder, "infrastructure/configs/cluster-issuer.yaml", 1, "cert-manager"},
		{"graph-duplicate-object", finding.GraphDuplicate, "", 0, "Namespace/web"},
		{"graph-timeout-short", finding.GraphTimeout, "clusters/home/infrastructure.yaml", 9, "cert-manager/cert-manager install 10m × 4 attempt(s) = 40m"},
		{"graph-wait-unbound-volume", finding.GraphWaitVolume, "apps/web/cache-claim.yaml", 3, "waits for PersistentVolumeClaim web/cache (spec.wait), but nothing in it mounts the claim"},
		{"graph-health-expression-current", finding.GraphHealthCurrent, "clusters/home/infrastructure.yaml", 36, "an empty condition list"},
		{"graph-health-expression-invalid", finding.GraphHealthInvalid, "clusters/home/infrastructure.yaml", 37, "does not parse"},
		{"reference-missing", finding.RefMissing, "apps/web/deployment.yaml", 0, "web-tokens"},
		{"reference-port-missing", finding.RefPort, "apps/web/route.yaml", 0, "no port 8080"},
		{"secret-unencrypted", finding.SecretPlain, "apps/web/token.yaml", 1, "plain text"},
		{"helm-source-missing", finding.HelmSourceMissing, "infrastructure/controllers/cert-manager.yaml", 0, "jetstak"},
		{"helm-version-unpinned", finding.HelmVersion, "infrastructure/controllers/cert-manager.yaml", 0, "1.x"},
		{"policy", "security-image-pinned", "apps/web/deployment.yaml", 1, ":latest"},
		{"policy-combined", "network-default-deny", "apps/web/deployment.yaml", 1, "no NetworkPolicy"},
		{"flow-blocked", finding.FlowBlocked, "flows.yaml", 5, "declared flow lan -> web 8080/TCP (users) is blocked: ingress of web restricted by [NetworkPolicy/web/default-deny]"},
	}
	for _, tt := range tests {
		t.Run(tt.overlay, func(t *testing.T) {
			rep, err := Run(context.Background(), Options{Root: fixture(t, tt.overlay), Policies: policies(t)})
			if err != nil {
				t.Fatal(err)
			}
			var got *finding.Finding
			for i, f := range rep.Findings {
				if f.Rule == tt.rule && (tt.file == "" || f.File == tt.file) && strings.Contains(f.Message, tt.message) {
					got = &rep.Findings[i]
					break
				}
			}
			if got == nil {
				for _, f := range rep.Findings {
					t.Logf("%s: %s %s %s", f.Position(), f.Severity, f.Rule, f.Message)
				}
				t.Fatalf("no %s finding in %s mentioning %q", tt.rule, tt.file, tt.message)
			}
			if tt.line != 0 && got.Line != tt.line {
				t.Errorf("%s at line %d, want %d (%s)", tt.rule, got.Line, tt.line, got.Message)
			}
			if got.Severity == finding.Info || got.Message == "" || got.Class == "" {
				t.Errorf("finding %+v lacks severity, class or message", got)
			}
			if rep.Stats.Counts.Errors == 0 && got.Severity == finding.Error {
				t.Errorf("error finding not counted")
			}
		})
	}
}

// kustomize-controller converts an object of a client-go kind to its Go
// type before applying it (fluxcd/pkg/ssa normalize, non-strict), which
// drops an unknown field: the apply succeeds, the field has no effect. A
// field without a value loses nothing (a warning); Role and ClusterRole
// are not converted, so the API server's apply rejects the field.
func TestDroppedFields(t *testing.T) {
	rep, err := Run(context.Background(), Options{Root: fixture(t, "schema-field-dropped"), Policies: policies(t)})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		`schema-field-dropped error "spec.replica"`:                                        "",
		`schema-field-dropped warning "spec.template.spec.containers[0].imagePullPolicyy"`: "",
		`schema-invalid error "rule"`:                                                      "",
	}
	for _, f := range rep.Findings {
		if f.Class != finding.ClassSchema {
			continue
		}
		for k := range want {
			parts := strings.SplitN(k, " ", 3)
			if f.Rule == parts[0] && string(f.Severity) == parts[1] && strings.Contains(f.Message, parts[2]) {
				want[k] = f.Position()
			}
		}
	}
	for k, at := range want {
		if at == "" {
			for _, f := range rep.Findings {
				t.Logf("%s: %s %s %s", f.Position(), f.Severity, f.Rule, f.Message)
			}
			t.Errorf("no finding %s", k)
		}
	}
	// What kustomize-controller does with the Deployment: the same
	// conversion drops the field.
	dep := map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": map[string]any{"name": "web"},
		"spec": map[string]any{"replica": int64(2), "selector": map[string]any{}}}
	var typed appsv1.Deployment
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(dep, &typed); err != nil {
		t.Fatalf("the conversion fails on an unknown field: %v", err)
	}
	back, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&typed)
	if err != nil {
		t.Fatal(err)
	}
	if _, kept := back["spec"].(map[string]any)["replica"]; kept {
		t.Error("the conversion kept the unknown field")
	}
}

// A repository without policies of its own gets the built-in pack, its
// findings one severity lower; the flag turns it off.
func TestBuiltinPolicies(t *testing.T) {
	dir := fixture(t, "")
	if _, err := os.Stat(filepath.Join(dir, "policies")); err == nil {
		t.Fatal("the fixture must not have a policies/ directory")
	}
	for _, off := range []bool{false, true} {
		rep, err := Run(context.Background(), Options{Root: dir, NoBuiltinPolicies: off})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, f := range rep.Findings {
			if f.Class != finding.ClassPolicy {
				continue
			}
			n++
			if f.Severity == finding.Error || !strings.Contains(f.Hint, "Built-in policy pack") {
				t.Errorf("built-in pack finding %s %s %q: want at most a warning that says where it comes from", f.Severity, f.Rule, f.Hint)
			}
		}
		if off && n != 0 {
			t.Errorf("--builtin-policies=false: %d policy findings", n)
		}
		if !off && n == 0 {
			t.Error("the built-in pack found nothing on the fixture (its Deployment has no probes, one replica, ...)")
		}
	}
}

// graph-timeout-short is a warning on a repository without a config of its
// own, as the built-in pack's convention rules are lowered, and an error
// on one that carries .gitops-validate.yaml.
func TestGraphTimeoutSeverityFollowsTheConfig(t *testing.T) {
	for _, tt := range []struct {
		name   string
		config string // "" = no .gitops-validate.yaml
		want   finding.Severity
	}{
		{"foreign repository", "", finding.Warning},
		{"repository with its config", "requireCharts: false\n", finding.Error},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := fixture(t, "graph-timeout-short")
			if tt.config != "" {
				if err := os.WriteFile(filepath.Join(dir, config.FileName), []byte(tt.config), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			rep, err := Run(context.Background(), Options{Root: dir, Policies: policies(t)})
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, f := range rep.Findings {
				if f.Rule != finding.GraphTimeout {
					continue
				}
				n++
				if f.Severity != tt.want {
					t.Errorf("%s: severity %s, want %s", f.Position(), f.Severity, tt.want)
				}
				if foreign := strings.Contains(f.Hint, "no "+config.FileName); foreign != (tt.config == "") {
					t.Errorf("hint %q: says the repository has no config: %v, want %v", f.Hint, foreign, tt.config == "")
				}
			}
			if n == 0 {
				t.Fatalf("no %s finding", finding.GraphTimeout)
			}
		})
	}
}
