package render

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/homelab-gitops/homelab/tools/internal/finding"
)

// TestKustomizeWarningsLogged: kustomize's deprecation warnings (written
// straight to os.Stderr) go to the renderer's logger, not to stderr.
func TestKustomizeWarningsLogged(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "app"), 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"app/kustomization.yaml": "commonLabels: {team: web}\nresources: [cm.yaml]\n",
		"app/cm.yaml":            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app}\n",
	}
	for p, data := range files {
		if err := os.WriteFile(filepath.Join(root, p), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	saved := os.Stderr
	os.Stderr = w
	var logged bytes.Buffer
	res := New(slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{Level: slog.LevelDebug}))).
		Render(context.Background(), kustomization(t, "  path: ./app\n  sourceRef: {kind: GitRepository, name: flux-system}\n"), Source{Root: root}, nil)
	os.Stderr = saved
	w.Close()
	leaked, _ := io.ReadAll(r)
	r.Close()
	if len(res.Objects) != 1 {
		t.Fatalf("objects %d, findings %+v", len(res.Objects), res.Findings)
	}
	if len(leaked) > 0 {
		t.Errorf("kustomize wrote to stderr: %s", leaked)
	}
	if !strings.Contains(logged.String(), "commonLabels") || !strings.Contains(logged.String(), "level=DEBUG") {
		t.Errorf("the deprecation warning is not logged at debug level: %q", logged.String())
	}
}

// A directory without a kustomization.yaml whose files do not all decode
// fails as kustomize-controller fails it: with the generator's message for
// the first such file in walk order, although the patched generator leaves
// the decoding to the build. A nested directory with its own kustomization
// is built, not decoded.
func TestGeneratedKustomizationDecodeError(t *testing.T) {
	const cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: %s, namespace: apps}\n"
	for _, tt := range []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"bad indentation", map[string]string{"a.yaml": fmt.Sprintf(cm, "a"), "b.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n namespace: apps\n", "c.yaml": "a: [\n"},
			"failed to decode Kubernetes YAML from {dir}/b.yaml: MalformedYAMLError: yaml: line 4: did not find expected key"},
		{"not an object", map[string]string{"a.yaml": fmt.Sprintf(cm, "a"), "sub/values.yaml": "replicas: 2\n"},
			"failed to decode Kubernetes YAML from {dir}/sub/values.yaml: missing Resource metadata"},
		{"a nested kustomization is built, not decoded", map[string]string{"a.yaml": fmt.Sprintf(cm, "a"), "sub/kustomization.yaml": "resources: [missing.yaml]\n"},
			"accumulating resources"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			for name, text := range tt.files {
				p := filepath.Join(root, "app", filepath.FromSlash(name))
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			k := kustomization(t, "  path: ./app\n  sourceRef: {kind: GitRepository, name: flux-system}\n")
			res := New(nil).Render(context.Background(), k, Source{Root: root}, nil)
			if len(res.Findings) != 1 || res.Findings[0].Rule != finding.RenderFailed {
				t.Fatalf("findings %+v, want one render-failed", res.Findings)
			}
			want := strings.ReplaceAll(tt.want, "{dir}", "app")
			if msg := res.Findings[0].Message; !strings.Contains(msg, want) {
				t.Errorf("message %q\nwant it to contain %q", msg, want)
			}
		})
	}
}
