package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoad(t *testing.T) {
	tests := []struct {
		name    string
		content string // "" = no file
		err     string
		check   func(t *testing.T, c *Config)
	}{
		{name: "no file gives an empty config", check: func(t *testing.T, c *Config) {
			if len(c.EntryPoints)+len(c.ExternalObjects) != 0 {
				t.Errorf("not empty: %+v", c)
			}
		}},
		{name: "full config", content: "entryPoints: [clusters/a]\npolicies: rego\ncrds: [schemas]\nbootstrapCRDs: ['*']\nexternalObjects:\n  - {kind: Secret, namespace: 'flux-*', name: sops-age, reason: bootstrap}\n",
			check: func(t *testing.T, c *Config) {
				if !c.IsExternal("Secret", "flux-system", "sops-age") || c.IsExternal("Secret", "apps", "sops-age") || c.IsExternal("ConfigMap", "flux-system", "sops-age") {
					t.Error("externalObjects matching is wrong")
				}
				if c.Policies != "rego" || c.BootstrapCRDs[0] != "*" {
					t.Errorf("fields not read: %+v", c)
				}
			}},
		{name: "unknown field is an error", content: "entries: [x]\n", err: "unknown field"},
		{name: "external object needs kind and name", content: "externalObjects: [{kind: Secret}]\n", err: "kind and name are required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			if tt.content != "" {
				if err := os.WriteFile(filepath.Join(root, FileName), []byte(tt.content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			c, err := Load(root, "")
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
	if _, err := Load(t.TempDir(), "/nonexistent/config.yaml"); err == nil {
		t.Error("an explicit missing config file must be an error")
	}
}
