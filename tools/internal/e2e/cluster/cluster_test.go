package cluster

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/homelab-gitops/homelab/tools/internal/e2e/proc"
)

// TestStatusSimulatorRetry checks that a status simulator that exits at
// once (kwok, when the API server's discovery does not list a kind yet) is
// started again, and that the log keeps both attempts. The "kwok" here is
// a script that fails on its first run and stays up on the next.
func TestStatusSimulatorRetry(t *testing.T) {
	dir := t.TempDir()
	script := "#!/bin/sh\nif [ ! -e " + filepath.Join(dir, "ran") + " ]; then touch " + filepath.Join(dir, "ran") + "; echo 'no matches for kind'; exit 1; fi\necho running; exec sleep 60\n"
	if err := os.WriteFile(filepath.Join(dir, "kwok"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	logs := t.TempDir()
	g := proc.NewGroup(logs, slog.New(slog.DiscardHandler))
	defer g.Stop()
	cl := &Cluster{name: "test", Kubeconfig: filepath.Join(dir, "kubeconfig")}
	if err := cl.StartStatusSimulator(context.Background(), g, dir, filepath.Join(dir, "stages.yaml")); err != nil {
		t.Fatalf("the second attempt stays up, yet: %v", err)
	}
	log, err := os.ReadFile(filepath.Join(logs, "test-kwok-status.log"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(log), "no matches for kind") || !strings.Contains(string(log), "running") {
		t.Errorf("log of both attempts:\n%s", log)
	}
}
