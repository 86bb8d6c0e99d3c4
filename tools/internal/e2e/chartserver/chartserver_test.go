package chartserver

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"
	helmregistry "helm.sh/helm/v3/pkg/registry"
	"helm.sh/helm/v3/pkg/repo"
)

// mirror writes a chart archive and the index `helm repo index` makes for
// it, and returns the directory and the archive's bytes.
func mirror(t *testing.T) (string, []byte) {
	t.Helper()
	dir := t.TempDir()
	c := &chart.Chart{
		Metadata:  &chart.Metadata{APIVersion: chart.APIVersionV2, Name: "demo", Version: "1.2.3", AppVersion: "v1"},
		Templates: []*chart.File{{Name: "templates/cm.yaml", Data: []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: demo\n")}},
	}
	archive, err := chartutil.Save(c, dir)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := repo.IndexDirectory(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := idx.WriteFile(filepath.Join(dir, "index.yaml"), 0o644); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(archive)
	if err != nil {
		t.Fatal(err)
	}
	return dir, data
}

func get(t *testing.T, url string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}

func TestServesTheArchivesOverHTTPAndOCI(t *testing.T) {
	dir, archive := mirror(t)
	s, err := Start(dir, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	if got := s.Charts(); len(got) != 1 || got[0] != (Chart{Name: "demo", Version: "1.2.3", File: "demo-1.2.3.tgz"}) {
		t.Fatalf("Charts() = %+v", got)
	}
	code, body := get(t, s.HelmURL()+"index.yaml")
	if code != http.StatusOK || !strings.Contains(string(body), "demo-1.2.3.tgz") {
		t.Fatalf("index.yaml: %d\n%s", code, body)
	}
	code, body = get(t, s.HelmURL()+"demo-1.2.3.tgz")
	if code != http.StatusOK || !bytes.Equal(body, archive) {
		t.Fatalf("archive: status %d, %d bytes, want the %d bytes of the file", code, len(body), len(archive))
	}
	if code, _ := get(t, s.HelmURL()); code != http.StatusNotFound {
		t.Errorf("directory listing: status %d, want 404", code)
	}

	url, err := s.PushOCI(context.Background(), dir, "/mirror/")
	if err != nil {
		t.Fatal(err)
	}
	ref := strings.TrimPrefix(url, "oci://") + "/demo:1.2.3"
	client, err := helmregistry.NewClient(helmregistry.ClientOptPlainHTTP(), helmregistry.ClientOptWriter(io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	pulled, err := client.Pull(ref)
	if err != nil {
		t.Fatalf("pull %s: %v", ref, err)
	}
	if !bytes.Equal(pulled.Chart.Data, archive) {
		t.Errorf("the chart pulled from %s is not the archive of the directory", ref)
	}
	if pulled.Chart.Meta.Name != "demo" || pulled.Chart.Meta.Version != "1.2.3" {
		t.Errorf("pulled chart metadata = %+v", pulled.Chart.Meta)
	}
}

func TestRejectsAnIndexThatPointsElsewhere(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(string) string
		wantErr string
	}{
		{
			name: "absolute URL",
			edit: func(s string) string {
				return strings.ReplaceAll(s, "- demo-1.2.3.tgz", "- https://charts.invalid/demo-1.2.3.tgz")
			},
			wantErr: `url "https://charts.invalid/demo-1.2.3.tgz" is not the name of an archive beside the index`,
		},
		{
			name:    "missing archive",
			edit:    func(s string) string { return strings.ReplaceAll(s, "- demo-1.2.3.tgz", "- demo-9.9.9.tgz") },
			wantErr: "demo-9.9.9.tgz: no such file",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, _ := mirror(t)
			p := filepath.Join(dir, "index.yaml")
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(tt.edit(string(data))), 0o644); err != nil {
				t.Fatal(err)
			}
			s, err := Start(dir, slog.New(slog.DiscardHandler))
			if err == nil {
				s.Close()
				t.Fatal("Start succeeded")
			}
			if !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "index.yaml") {
				t.Errorf("err = %v, want it to name index.yaml and say %q", err, tt.wantErr)
			}
		})
	}
}
