package render

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
