package edge

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func homelabKeepalived(t *testing.T) Keepalived {
	t.Helper()
	k, err := LoadKeepalived(filepath.Join(repoRoot(t), edgeDir, "keepalived", "homelab.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func readKeepalivedTemplate(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot(t), edgeDir, "keepalived", "keepalived.conf.tmpl"))
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

func renderedKeepalivedPath(t *testing.T, host string) string {
	return filepath.Join(repoRoot(t), edgeDir, "keepalived", "keepalived-"+host+".conf")
}

// TestKeepalivedUpToDate keeps the committed keepalived-<host>.conf files
// equal to the template rendered with homelab.yaml; -update rewrites them.
func TestKeepalivedUpToDate(t *testing.T) {
	k := homelabKeepalived(t)
	tmpl := readKeepalivedTemplate(t)
	for _, h := range k.Hosts {
		got, err := RenderKeepalived(tmpl, k, h.Name)
		if err != nil {
			t.Fatal(err)
		}
		path := renderedKeepalivedPath(t, h.Name)
		if *update {
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is stale: run `go test ./tools/internal/edge -run TestKeepalivedUpToDate -update`", path)
		}
	}
}

// repoScripts reads a check script by its installed path from the
// repository's keepalived directory (bootstrap.md installs it there).
func repoScripts(dir string) func(string) ([]byte, error) {
	return func(path string) ([]byte, error) {
		return os.ReadFile(filepath.Join(dir, filepath.Base(path)))
	}
}

// TestKeepalivedChecks runs CheckKeepalived on the committed configuration
// of every host, and requires every host to start as BACKUP with its own
// priority.
func TestKeepalivedChecks(t *testing.T) {
	k := homelabKeepalived(t)
	dir := filepath.Join(repoRoot(t), edgeDir, "keepalived")
	for _, h := range k.Hosts {
		path := renderedKeepalivedPath(t, h.Name)
		conf, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := CheckKeepalived(filepath.Base(path), conf, repoScripts(dir)); err != nil {
			t.Errorf("%v", err)
		}
		top, err := parseKeepalived(conf)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range top {
			if d.name != "vrrp_instance" {
				continue
			}
			if s := d.child("state"); s == nil || s.args[0] != "BACKUP" {
				t.Errorf("%s: vrrp_instance does not start as BACKUP", path)
			}
			if p := d.child("priority"); p == nil || p.args[0] != fmt.Sprint(h.Priority) {
				t.Errorf("%s: priority is not %s's %d", path, h.Name, h.Priority)
			}
		}
	}
}

// TestCheckKeepalivedFindsDefects runs the checks on configurations with the
// defects they exist for; testdata/keepalived-master-kill0.conf and its
// script are the pool's configuration before the checks existed.
func TestCheckKeepalivedFindsDefects(t *testing.T) {
	scripts := map[string]string{
		"/etc/keepalived/check_nginx.sh": "#!/bin/sh\nexec nc -z 127.0.0.1 8081\n",
		"/etc/keepalived/check_pid.sh":   "#!/bin/sh\n# kill -0 in a comment is fine\nkill -0 \"$(cat /run/nginx.pid)\"\n",
	}
	readScript := func(path string) ([]byte, error) {
		if s, ok := scripts[path]; ok {
			return []byte(s), nil
		}
		return nil, fmt.Errorf("open %s: %w", path, fs.ErrNotExist)
	}
	const good = `global_defs {
    enable_script_security
    script_user keepalived_script
}
vrrp_script chk {
    script "/etc/keepalived/check_nginx.sh 127.0.0.1 8081"
    timeout 1
}
vrrp_instance VI {
    state BACKUP
    priority 110
    preempt_delay 60
    track_script {
        chk
    }
}
`
	tests := []struct {
		name string
		conf string
		want []string // substrings of the findings, in any order; none for a clean config
	}{
		{"clean", good, nil},
		{"state MASTER with preempt_delay", strings.Replace(good, "state BACKUP", "state MASTER", 1),
			[]string{":10: vrrp_instance VI has preempt_delay but state MASTER"}},
		{"no state with preempt_delay", strings.Replace(good, "    state BACKUP\n", "", 1),
			[]string{":9: vrrp_instance VI has preempt_delay but no state"}},
		{"script signals nginx", strings.Replace(good, "check_nginx.sh 127.0.0.1 8081", "check_pid.sh", 1),
			[]string{":6: vrrp_script chk runs /etc/keepalived/check_pid.sh, whose line 3 signals a process", "as keepalived_script it cannot signal root's nginx (EPERM)"}},
		{"inline kill -0", strings.Replace(good, `"/etc/keepalived/check_nginx.sh 127.0.0.1 8081"`, `"/bin/kill -0 1234"`, 1),
			[]string{`signals a process ("/bin/kill -0 1234")`}},
		{"script runs as root", strings.Replace(good, "script_user keepalived_script", "script_user root", 1),
			[]string{":3: script_user root runs the checks with every privilege"}},
		{"no script user", strings.Replace(good, "    script_user keepalived_script\n", "", 1),
			[]string{"no script_user in global_defs"}},
		{"no script security", strings.Replace(good, "    enable_script_security\n", "", 1),
			[]string{"no enable_script_security"}},
		{"weighted check with preempt_delay", strings.Replace(good, "    timeout 1\n", "    timeout 1\n    weight -30\n", 1),
			[]string{":15: vrrp_instance VI tracks chk with weight -30 and has preempt_delay 60: a failing check only lowers the master's priority"}},
		{"weight set in track_script", strings.Replace(good, "        chk\n", "        chk weight -20\n", 1),
			[]string{"tracks chk with weight -20"}},
		{"weighted check without preempt_delay", strings.Replace(strings.Replace(good, "    timeout 1\n", "    timeout 1\n    weight -30\n", 1), "    preempt_delay 60\n", "", 1), nil},
		{"no timeout", strings.Replace(good, "    timeout 1\n", "", 1),
			[]string{":5: vrrp_script chk has no timeout"}},
		{"missing script", strings.Replace(good, "check_nginx.sh", "gone.sh", 1),
			[]string{"vrrp_script chk: open /etc/keepalived/gone.sh: file does not exist"}},
		{"brace on its own line", strings.Replace(good, "vrrp_instance VI {", "vrrp_instance VI\n{", 1), nil},
		{"unclosed block", strings.TrimSuffix(good, "}\n"), []string{"test.conf: line 9: vrrp_instance block is not closed"}},
		{"unbalanced brace", good + "}\n", []string{"test.conf: line 17: unbalanced }"}},
		{"unterminated quote", strings.Replace(good, `8081"`, "8081", 1), []string{"line 6: unterminated quoted string"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckKeepalived("test.conf", []byte(tt.conf), readScript)
			if len(tt.want) == 0 {
				if err != nil {
					t.Errorf("CheckKeepalived() = %v, want no findings", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("CheckKeepalived() found nothing, want %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("findings lack %q:\n%v", w, err)
				}
			}
		})
	}

	t.Run("the pool before the checks", func(t *testing.T) {
		conf, err := os.ReadFile(filepath.Join("testdata", "keepalived-master-kill0.conf"))
		if err != nil {
			t.Fatal(err)
		}
		err = CheckKeepalived("keepalived.conf", conf, func(string) ([]byte, error) {
			return os.ReadFile(filepath.Join("testdata", "check_nginx_kill0.sh"))
		})
		var lines []string
		for _, e := range unwrapAll(err) {
			lines = append(lines, e.Error())
		}
		want := []string{
			`keepalived.conf:22: vrrp_script chk_nginx runs /etc/keepalived/check_nginx.sh, whose line 6 signals a process ("kill -0 \"$pid\" 2>/dev/null || exit 1"): as keepalived_script it cannot signal root's nginx (EPERM), so the check always fails and the VIP never moves for nginx; probe nginx's health listener over TCP`,
			`keepalived.conf:31: vrrp_instance EDGE_VIP has preempt_delay but state MASTER: keepalived honours the delay only when the initial state is BACKUP; start every host as BACKUP and let the priority elect the holder`,
			`keepalived.conf:47: vrrp_instance EDGE_VIP tracks chk_nginx with weight -30 and has preempt_delay 60: a failing check only lowers the master's priority, and the backup then waits the preemption delay before it takes the VIP; track the check without a weight so that a failure means FAULT`,
		}
		if strings.Join(lines, "\n") != strings.Join(want, "\n") {
			t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
		}
	})
}

func unwrapAll(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	if err == nil {
		return nil
	}
	return []error{err}
}

func TestKeepalivedValidate(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*Keepalived)
		wantErr string
	}{
		{"homelab", func(*Keepalived) {}, ""},
		{"root script user", func(k *Keepalived) { k.ScriptUser = "root" }, "scriptUser is root"},
		{"same priority", func(k *Keepalived) { k.Hosts[1].Priority = k.Hosts[0].Priority }, "is also lb1's"},
		{"address owner priority", func(k *Keepalived) { k.Hosts[0].Priority = 255 }, "outside 1-254"},
		{"one host", func(k *Keepalived) { k.Hosts = k.Hosts[:1] }, "at least 2"},
		{"repeated name", func(k *Keepalived) { k.Hosts[1].Name = "lb1" }, "empty or repeated"},
		{"bad address", func(k *Keepalived) { k.Hosts[1].Address = "lb2" }, "hosts[1] lb2: address"},
		{"vip without prefix", func(k *Keepalived) { k.VIP = "10.20.0.10" }, "vip:"},
		{"health without port", func(k *Keepalived) { k.Health = "127.0.0.1" }, "health"},
		{"overlapping checks", func(k *Keepalived) { k.CheckTimeout = 3 }, "checks would overlap"},
		{"long preempt delay", func(k *Keepalived) { k.PreemptDelay = 1001 }, "outside 0-1000"},
		{"router id", func(k *Keepalived) { k.VirtualRouterID = 0 }, "outside 1-255"},
		{"no fall", func(k *Keepalived) { k.Fall = 0 }, "must be positive"},
		{"no interface", func(k *Keepalived) { k.Interface = "" }, "interface is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := homelabKeepalived(t)
			tt.mutate(&k)
			err := k.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("Validate() = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
	if _, err := RenderKeepalived(readKeepalivedTemplate(t), homelabKeepalived(t), "lb3"); err == nil || !strings.Contains(err.Error(), `no keepalived host "lb3"`) {
		t.Errorf("RenderKeepalived for an unknown host = %v", err)
	}
}

// TestKeepalivedAcceptsConfig runs keepalived's own configuration test on
// the homelab configuration of every host. Only the script user (nobody:
// keepalived_script exists on the edge hosts, not here) and the script's
// location change; keepalived rejects a script user that does not exist.
func TestKeepalivedAcceptsConfig(t *testing.T) {
	bin, err := exec.LookPath("keepalived")
	if err != nil {
		if os.Getenv("CI") == "" {
			t.Skip("keepalived is not installed (Debian: apt-get install keepalived)")
		}
		t.Fatal("keepalived is not installed, and CI is set: run scripts/install-deps.sh")
	}
	dir := hostDir(t, "keepalived")
	k := homelabKeepalived(t)
	k.ScriptUser = "nobody"
	k.CheckScript = filepath.Join(dir, "check_nginx.sh")
	script, err := os.ReadFile(filepath.Join(repoRoot(t), edgeDir, "keepalived", "check_nginx.sh"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(k.CheckScript, script, 0o755); err != nil {
		t.Fatal(err)
	}
	tmpl := readKeepalivedTemplate(t)
	for _, h := range k.Hosts {
		conf, err := RenderKeepalived(tmpl, k, h.Name)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, h.Name+".conf")
		if err := os.WriteFile(path, conf, 0o644); err != nil {
			t.Fatal(err)
		}
		// keepalived 2.2 ends its configuration test by signalling itself
		// (SIGTERM) whether or not it found errors: its output is the verdict.
		out, err := exec.Command(bin, "--config-test", "--use-file", path).CombinedOutput()
		var exit *exec.ExitError
		if errors.As(err, &exit) && exit.Sys().(syscall.WaitStatus).Signal() == syscall.SIGTERM {
			err = nil
		}
		if err != nil || len(bytes.TrimSpace(out)) > 0 {
			t.Errorf("keepalived --config-test for %s: %v\n%s", h.Name, err, out)
		}
	}
}
