package hostprov

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/homelab-gitops/homelab/tools/internal/netnstest"
)

var (
	hostsDir    = filepath.Join("..", "..", "..", "infrastructure", "edge", "hosts")
	clusterVars = filepath.Join("..", "..", "..", "clusters", "homelab", "cluster-vars.yaml")
	roles       = []string{"edge", "node"}
)

// need returns the path of tool, or skips the test without it (fails under
// CI=true: scripts/install-deps.sh installs it).
func need(t *testing.T, tool string, root bool) string {
	t.Helper()
	var missing []string
	path, err := exec.LookPath(tool)
	if err != nil {
		missing = append(missing, tool)
	}
	if root && os.Geteuid() != 0 {
		missing = append(missing, "root (network namespaces)")
	}
	if len(missing) > 0 {
		if os.Getenv("CI") == "true" {
			t.Fatalf("needs %s, and CI is set: run scripts/install-deps.sh as root", strings.Join(missing, ", "))
		}
		t.Skipf("needs %s (scripts/install-deps.sh)", strings.Join(missing, ", "))
	}
	return path
}

func TestCloudInitSchema(t *testing.T) {
	ci := need(t, "cloud-init", false)
	for _, role := range roles {
		f := filepath.Join(hostsDir, "cloud-init-"+role+".yaml")
		out, err := exec.Command(ci, "schema", "--config-file", f).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "Valid cloud-config") {
			t.Errorf("cloud-init schema %s: %v\n%s", f, err, out)
		}
	}
}

type userData struct {
	Users []struct {
		Name       string   `yaml:"name"`
		LockPasswd *bool    `yaml:"lock_passwd"`
		Keys       []string `yaml:"ssh_authorized_keys"`
		Passwd     string   `yaml:"passwd"`
	} `yaml:"users"`
	DisableRoot *bool    `yaml:"disable_root"`
	SSHPwauth   *bool    `yaml:"ssh_pwauth"`
	Packages    []string `yaml:"packages"`
	WriteFiles  []struct {
		Path        string `yaml:"path"`
		Permissions string `yaml:"permissions"`
		Content     string `yaml:"content"`
	} `yaml:"write_files"`
}

// TestUserData checks what the hosts must get at provision: the firewall
// (the ruleset file itself), SSH with keys only and no root, fail2ban,
// unattended security upgrades, and for nodes the sysctls and kubeconfig
// modes Kubernetes needs.
func TestUserData(t *testing.T) {
	for _, role := range roles {
		t.Run(role, func(t *testing.T) {
			f := filepath.Join(hostsDir, "cloud-init-"+role+".yaml")
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(raw, []byte("#cloud-config\n")) {
				t.Errorf("%s: the first line must be #cloud-config, or cloud-init ignores the file", f)
			}
			var ud userData
			if err := yaml.Unmarshal(raw, &ud); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			files := map[string]string{}
			for _, w := range ud.WriteFiles {
				files[w.Path] = w.Content
				if w.Path == "/etc/nftables.conf" && w.Permissions != "0600" {
					t.Errorf("%s: /etc/nftables.conf permissions %q, want 0600", f, w.Permissions)
				}
			}
			ruleset, err := os.ReadFile(filepath.Join(hostsDir, "nftables-"+role+".nft"))
			if err != nil {
				t.Fatal(err)
			}
			if files["/etc/nftables.conf"] != string(ruleset) {
				t.Errorf("%s: /etc/nftables.conf differs from nftables-%s.nft; copy the ruleset into write_files", f, role)
			}
			if ud.DisableRoot == nil || !*ud.DisableRoot || ud.SSHPwauth == nil || *ud.SSHPwauth {
				t.Errorf("%s: want disable_root: true and ssh_pwauth: false", f)
			}
			if len(ud.Users) == 0 {
				t.Errorf("%s: no users", f)
			}
			for _, u := range ud.Users {
				if u.LockPasswd == nil || !*u.LockPasswd || u.Passwd != "" || len(u.Keys) == 0 {
					t.Errorf("%s: user %s must have lock_passwd: true, no passwd and at least one SSH key", f, u.Name)
				}
			}
			for _, p := range []string{"nftables", "unattended-upgrades", "fail2ban"} {
				if !slices.Contains(ud.Packages, p) {
					t.Errorf("%s: package %s missing", f, p)
				}
			}
			sshd := files["/etc/ssh/sshd_config.d/10-homelab.conf"]
			for _, line := range []string{"PermitRootLogin no", "PasswordAuthentication no", "KbdInteractiveAuthentication no", "AuthenticationMethods publickey"} {
				if !strings.Contains(sshd, line+"\n") {
					t.Errorf("%s: sshd drop-in lacks %q", f, line)
				}
			}
			if !strings.Contains(files["/etc/fail2ban/jail.d/sshd.local"], "enabled = true") {
				t.Errorf("%s: fail2ban's sshd jail is not enabled", f)
			}
			if !strings.Contains(files["/etc/apt/apt.conf.d/20auto-upgrades"], `APT::Periodic::Unattended-Upgrade "1";`) {
				t.Errorf("%s: unattended upgrades are not switched on", f)
			}
			if role == "node" {
				sysctl := files["/etc/sysctl.d/90-kubernetes.conf"]
				for _, s := range []string{"net.ipv4.ip_forward = 1", "net.bridge.bridge-nf-call-iptables = 1", "vm.overcommit_memory = 1", "kernel.panic = 10", "kernel.panic_on_oops = 1"} {
					if !strings.Contains(sysctl, s+"\n") {
						t.Errorf("%s: sysctl %q missing (kubelet with protectKernelDefaults refuses to start without it)", f, s)
					}
				}
				if !strings.Contains(files["/etc/tmpfiles.d/kubeconfig.conf"], "z /etc/kubernetes/*.conf 0600 root root") {
					t.Errorf("%s: kubeconfig files are not kept 0600", f)
				}
			} else if !strings.Contains(files["/etc/sysctl.d/90-homelab.conf"], "net.ipv4.ip_nonlocal_bind = 1\n") {
				t.Errorf("%s: net.ipv4.ip_nonlocal_bind = 1 missing (NGINX binds the VIP on the backup host)", f)
			}
		})
	}
}

var define = regexp.MustCompile(`(?m)^define ([A-Z_]+) = (\S+)$`)

// TestRulesetAddresses: every address or port a ruleset defines is the
// value of the same name in cluster-vars, so the firewall follows the
// cluster's addresses.
func TestRulesetAddresses(t *testing.T) {
	raw, err := os.ReadFile(clusterVars)
	if err != nil {
		t.Fatal(err)
	}
	var cm struct {
		Data map[string]string `yaml:"data"`
	}
	if err := yaml.Unmarshal(raw, &cm); err != nil {
		t.Fatal(err)
	}
	for _, role := range roles {
		f := filepath.Join(hostsDir, "nftables-"+role+".nft")
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		defs := define.FindAllStringSubmatch(string(src), -1)
		if len(defs) == 0 {
			t.Errorf("%s: no defines", f)
		}
		for _, d := range defs {
			if want, ok := cm.Data[d[1]]; !ok || want != d[2] {
				t.Errorf("%s: define %s = %s, but cluster-vars has %s = %q", f, d[1], d[2], d[1], want)
			}
		}
	}
}

func TestNftCheck(t *testing.T) {
	nft := need(t, "nft", true)
	for _, role := range roles {
		f := filepath.Join(hostsDir, "nftables-"+role+".nft")
		if out, err := exec.Command(nft, "-c", "-f", f).CombinedOutput(); err != nil {
			t.Errorf("nft -c -f %s: %v\n%s", f, err, out)
		}
	}
}

// TestFirewallInNetns loads each ruleset into a network namespace playing
// the host and connects from a second namespace with addresses in the
// LAN, the NGINX pool and the node range: what the ruleset opens answers,
// what it does not open stays silent (dropped, so the connect times out).
func TestFirewallInNetns(t *testing.T) {
	nft := need(t, "nft", true)
	need(t, "ip", true)
	const (
		lanHost  = "10.20.0.20" // an admin's machine: LAN, not the pool, not a node
		poolHost = "10.20.0.3"  // an NGINX host: LAN and EDGE_POOL_CIDR
		nodeHost = "10.20.1.50" // a node: LAN and NODE_CIDR
		podHost  = "10.244.3.7" // a pod on another node: POD_CIDR (Prometheus)
	)
	tests := []struct {
		role   string
		addrs  []string // the host's addresses (/16, the LAN)
		checks []check
	}{
		// A node also holds an address of its pod range (the CNI's
		// gateway), through which it answers pods.
		{"node", []string{"10.20.1.11", "10.244.0.1"}, []check{
			{poolHost, "10.20.1.11:30443", true},
			{lanHost, "10.20.1.11:30443", false},
			{poolHost, "10.20.1.11:6443", true},
			{nodeHost, "10.20.1.11:10250", true},
			{poolHost, "10.20.1.11:10250", false},
			{nodeHost, "10.20.1.11:2379", true},
			{lanHost, "10.20.1.11:2379", false},
			{lanHost, "10.20.1.11:22", true},
			{nodeHost, "10.20.1.11:8080", false},
			{podHost, "10.20.1.11:9100", true},
			{nodeHost, "10.20.1.11:9100", false},
			{lanHost, "10.20.1.11:9100", false},
			{podHost, "10.20.1.11:2379", false},
		}},
		{"edge", []string{"10.20.0.2", "10.20.0.10"}, []check{
			{lanHost, "10.20.0.10:443", true},
			{nodeHost, "10.20.0.10:6443", true},
			{lanHost, "10.20.0.2:443", false},
			{lanHost, "10.20.0.10:8081", false},
			{lanHost, "10.20.0.2:22", true},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.role, func(t *testing.T) {
			host, client := lab(t, tt.addrs, []string{lanHost, poolHost, nodeHost, podHost})
			ruleset := filepath.Join(hostsDir, "nftables-"+tt.role+".nft")
			if out, err := exec.Command("ip", "netns", "exec", host, nft, "-f", ruleset).CombinedOutput(); err != nil {
				t.Fatalf("load %s into %s: %v\n%s", ruleset, host, err, out)
			}
			// Listen on every port the checks try, on all addresses.
			ports := map[string]bool{}
			for _, c := range tt.checks {
				_, port, _ := net.SplitHostPort(c.dst)
				ports[port] = true
			}
			for port := range ports {
				listen(t, host, ":"+port)
			}
			for _, c := range tt.checks {
				err := dial(client, c.src, c.dst)
				switch {
				case c.open && err != nil:
					t.Errorf("%s -> %s: %v, want it to answer", c.src, c.dst, err)
				case !c.open && err == nil:
					t.Errorf("%s -> %s answered, want it closed", c.src, c.dst)
				}
			}
		})
	}
}

type check struct {
	src, dst string
	open     bool
}

// lab creates a host namespace and a client namespace joined by a veth
// pair, with the given addresses as /16s (the LAN, the pod network); both
// go at the end of the test.
func lab(t *testing.T, hostAddrs, clientAddrs []string) (host, client string) {
	t.Helper()
	id := make([]byte, 3)
	if _, err := rand.Read(id); err != nil {
		t.Fatal(err)
	}
	prefix := "hostprov-" + hex.EncodeToString(id)
	host, client = prefix+"-h", prefix+"-c"
	for _, ns := range []string{host, client} {
		netnstest.IP(t, "netns", "add", ns)
		t.Cleanup(func() {
			if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
				t.Errorf("ip netns del %s: %v: %s", ns, err, out)
			}
		})
		netnstest.IP(t, "-n", ns, "link", "set", "lo", "up")
	}
	netnstest.IP(t, "-n", host, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", client)
	for ns, addrs := range map[string][]string{host: hostAddrs, client: clientAddrs} {
		for _, a := range addrs {
			netnstest.IP(t, "-n", ns, "addr", "add", a+"/16", "dev", "eth0")
		}
		netnstest.IP(t, "-n", ns, "link", "set", "eth0", "up")
	}
	return host, client
}

// listen accepts and closes connections on addr inside ns until the test ends.
func listen(t *testing.T, ns, addr string) {
	t.Helper()
	var l net.Listener
	if err := netnstest.In(ns, func() (err error) {
		l, err = net.Listen("tcp", addr)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
}

// dial connects from src to dst inside ns; a dropped SYN gives up after
// half a second.
func dial(ns, src, dst string) error {
	return netnstest.In(ns, func() error {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 500 * time.Millisecond}
		c, err := d.Dial("tcp", dst)
		if err != nil {
			return err
		}
		return c.Close()
	})
}
