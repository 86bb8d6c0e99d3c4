package edge

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite infrastructure/edge/nginx/nginx.conf from its template and values")

const edgeDir = "infrastructure/edge"

func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the working directory")
		}
		dir = parent
	}
}

func readTemplate(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot(t), edgeDir, "nginx", "nginx.conf.tmpl"))
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

func homelabConfig(t *testing.T) Config {
	t.Helper()
	c, err := LoadConfig(filepath.Join(repoRoot(t), edgeDir, "nginx", "homelab.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestRenderedConfigUpToDate keeps the committed nginx.conf equal to the
// template rendered with homelab.yaml; -update rewrites it.
func TestRenderedConfigUpToDate(t *testing.T) {
	got, err := Render(readTemplate(t), homelabConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(repoRoot(t), edgeDir, "nginx", "nginx.conf")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s/nginx/nginx.conf is stale: run `go test ./tools/internal/edge -run TestRenderedConfigUpToDate -update`", edgeDir)
	}
}

func TestValidate(t *testing.T) {
	base := Config{
		PIDFile: "p", ErrorLog: "e", AccessLog: "a", WorkerConnections: 1, Health: "127.0.0.1:8081",
		MaxFails: 1, FailTimeout: "1s", ConnectTimeout: "1s", NextUpstreamTries: 2, NextUpstreamTimeout: "1s",
		APIServer: Listener{Listen: "6443", IdleTimeout: "1h", Servers: []string{"10.0.0.1:6443", "10.0.0.2:6443"}},
		Apps:      Listener{Listen: "443", IdleTimeout: "1m", Servers: []string{"10.0.0.3:30443", "10.0.0.4:30443"}},
	}
	tests := []struct {
		name    string
		mutate  func(*Config)
		wantErr string
	}{
		{"valid", func(*Config) {}, ""},
		{"single server", func(c *Config) { c.Apps.Servers = c.Apps.Servers[:1] }, "at least 2"},
		{"server without port", func(c *Config) { c.APIServer.Servers[0] = "10.0.0.1" }, "missing port"},
		{"bad port", func(c *Config) { c.Apps.Servers[1] = "10.0.0.4:http" }, "bad port"},
		{"no pid file", func(c *Config) { c.PIDFile = "" }, "pidFile is empty"},
		{"no retries", func(c *Config) { c.NextUpstreamTries = 0 }, "must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base
			c.APIServer.Servers = append([]string(nil), base.APIServer.Servers...)
			c.Apps.Servers = append([]string(nil), base.Apps.Servers...)
			tt.mutate(&c)
			err := c.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("Validate() = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

// nginxBinary finds Debian's nginx. Without it the nginx tests skip, except
// in CI (CI set), where its absence is a failure.
func nginxBinary(t *testing.T) string {
	t.Helper()
	for _, candidate := range []string{"nginx", "/usr/sbin/nginx"} {
		if p, err := exec.LookPath(candidate); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "" {
		t.Skip("nginx is not installed (Debian: apt-get install nginx libnginx-mod-stream)")
	}
	t.Fatal("nginx is not installed, and CI is set: install nginx and libnginx-mod-stream")
	return ""
}

var modulesPath = regexp.MustCompile(`--modules-path=(\S+)`)

// streamModules returns the load_module lines this nginx needs for the
// stream module: none when it is built in, the module file when dynamic.
func streamModules(t *testing.T, nginx string) []string {
	t.Helper()
	out, err := exec.Command(nginx, "-V").CombinedOutput()
	if err != nil {
		t.Fatalf("nginx -V: %v\n%s", err, out)
	}
	v := string(out)
	switch {
	case strings.Contains(v, "--with-stream=dynamic"):
		dir := "/usr/lib/nginx/modules"
		if m := modulesPath.FindStringSubmatch(v); m != nil {
			dir = m[1]
		}
		mod := filepath.Join(dir, "ngx_stream_module.so")
		if _, err := os.Stat(mod); err != nil {
			t.Fatalf("nginx builds the stream module as a dynamic module but %s is missing: install libnginx-mod-stream", mod)
		}
		return []string{mod}
	case strings.Contains(v, "--with-stream"):
		return nil
	}
	t.Fatal("this nginx has no stream module")
	return nil
}

// TestNginxAcceptsConfig runs `nginx -t` on the homelab configuration. Only
// the file locations (pid, logs) move into a temporary directory, so the
// test runs without root; everything else is rendered from homelab.yaml. The
// prefix stays nginx's default: Debian's modules-enabled snippets name their
// modules relative to it.
func TestNginxAcceptsConfig(t *testing.T) {
	nginx := nginxBinary(t)
	modules := streamModules(t, nginx) // fails early, and clearly, without the stream module
	dir := t.TempDir()
	c := homelabConfig(t)
	c.PIDFile = filepath.Join(dir, "nginx.pid")
	c.ErrorLog = filepath.Join(dir, "error.log")
	c.AccessLog = filepath.Join(dir, "access.log")
	if _, err := os.Stat("/etc/nginx/modules-enabled"); err != nil {
		// Not Debian's layout: load the module directly.
		c.Includes = nil
		c.LoadModules = modules
	}
	conf, err := Render(readTemplate(t), c)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, conf, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(nginx, "-t", "-c", path, "-e", c.ErrorLog).CombinedOutput()
	if err != nil {
		t.Fatalf("nginx -t: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "test is successful") {
		t.Errorf("nginx -t did not report success:\n%s", out)
	}
}

func TestCheckLocalTrafficUpstream(t *testing.T) {
	base := Config{
		MaxFails: 2, FailTimeout: "10s", ConnectTimeout: "1s", NextUpstreamTries: 3, NextUpstreamTimeout: "6s",
		Apps: Listener{ProxyProtocol: true, Servers: []string{"10.0.0.3:30443", "10.0.0.4:30443"}},
	}
	tests := []struct {
		name    string
		mutate  func(*Config)
		wantErr []string
	}{
		{"homelab-like", func(*Config) {}, nil},
		{"slow connect", func(c *Config) { c.ConnectTimeout = "5s" }, []string{"connectTimeout 5s: a node without a ready pod"}},
		{"one try", func(c *Config) { c.NextUpstreamTries = 1 }, []string{"nextUpstreamTries 1 is below apps's 2 servers"}},
		{"retry window too short", func(c *Config) { c.NextUpstreamTimeout = "1500ms" }, []string{"nextUpstreamTimeout 1500ms is shorter than trying apps's 2 servers"}},
		{"quick retry of a dead node", func(c *Config) { c.FailTimeout = "1s" }, []string{"failTimeout 1s: a node that failed"}},
		{"no PROXY header", func(c *Config) { c.Apps.ProxyProtocol = false }, []string{"apps sends no PROXY header"}},
		{"unparsable", func(c *Config) { c.ConnectTimeout = "1d" }, []string{`connectTimeout "1d" is not a positive duration`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base
			tt.mutate(&c)
			err := c.CheckLocalTrafficUpstream("apps", c.Apps)
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Errorf("CheckLocalTrafficUpstream() = %v, want nil", err)
				}
				return
			}
			for _, w := range tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("CheckLocalTrafficUpstream() = %v, want an error containing %q", err, w)
				}
			}
		})
	}
}
