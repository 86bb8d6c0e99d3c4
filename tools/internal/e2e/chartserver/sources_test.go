package chartserver

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"
	helmregistry "helm.sh/helm/v3/pkg/registry"
	"helm.sh/helm/v3/pkg/repo"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/homelab-gitops/homelab/tools/internal/e2e/kube"
)

func TestPointSources(t *testing.T) {
	charts := t.TempDir()
	c := &chart.Chart{Metadata: &chart.Metadata{APIVersion: chart.APIVersionV2, Name: "operator", Version: "0.6.5"}}
	if _, err := chartutil.Save(c, charts); err != nil {
		t.Fatal(err)
	}
	idx, err := repo.IndexDirectory(charts, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := idx.WriteFile(filepath.Join(charts, "index.yaml"), 0o644); err != nil {
		t.Fatal(err)
	}
	srv, err := Start(charts, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()

	tree := t.TempDir()
	files := map[string]string{
		"infrastructure/a/repository.yaml": "# Traefik's charts\napiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmRepository\nmetadata:\n  name: traefik\n  namespace: traefik\nspec:\n  url: https://traefik.github.io/charts\n",
		"infrastructure/b/repository.yaml": "apiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmRepository\nmetadata:\n  name: cloudpirates\n  namespace: rabbitmq-system\nspec:\n  type: oci\n  url: oci://registry-1.docker.io/cloudpirates\n",
		"tools/testdata/repository.yaml":   "apiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmRepository\nmetadata:\n  name: untouched\nspec:\n  url: https://charts.invalid\n",
	}
	for name, data := range files {
		p := filepath.Join(tree, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rewritten, err := srv.PointSources(context.Background(), charts, tree)
	if err != nil {
		t.Fatal(err)
	}
	if len(rewritten) != 2 {
		t.Fatalf("rewritten = %q, want the two sources outside tools/", rewritten)
	}

	http, err := yaml.ReadFile(filepath.Join(tree, "infrastructure/a/repository.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if got := kube.FieldString(http, "spec", "url"); got != srv.HelmURL() {
		t.Errorf("HTTP source url = %q, want %q", got, srv.HelmURL())
	}
	oci, err := yaml.ReadFile(filepath.Join(tree, "infrastructure/b/repository.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	url := kube.FieldString(oci, "spec", "url")
	if !strings.HasPrefix(url, "oci://127.0.0.1:") || !strings.HasSuffix(url, "/cloudpirates") || kube.FieldString(oci, "spec", "insecure") != "true" || kube.FieldString(oci, "spec", "type") != "oci" {
		t.Errorf("OCI source after the rewrite:\n%s", oci.MustString())
	}
	raw, err := os.ReadFile(filepath.Join(tree, "infrastructure/b/repository.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), "insecure: true\n") {
		t.Errorf("spec.insecure is not the boolean true:\n%s", raw)
	}
	client, err := helmregistry.NewClient(helmregistry.ClientOptPlainHTTP(), helmregistry.ClientOptWriter(io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.Pull(strings.TrimPrefix(url, "oci://") + "/operator:0.6.5"); err != nil {
		t.Errorf("the chart is not in the registry the source points at: %v", err)
	}
	untouched, err := os.ReadFile(filepath.Join(tree, "tools/testdata/repository.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if string(untouched) != files["tools/testdata/repository.yaml"] {
		t.Errorf("a source under tools/ was rewritten:\n%s", untouched)
	}
	data, err := os.ReadFile(filepath.Join(tree, "infrastructure/a/repository.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(data), "# Traefik's charts") {
		t.Errorf("the comment was lost:\n%s", data)
	}
}
