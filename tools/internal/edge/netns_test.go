package edge

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/homelab-gitops/homelab/tools/internal/netnstest"
)

// netLab is a LAN of network namespaces created for one test: a switch
// namespace holding a bridge, and hosts each joined to it by a veth pair
// whose host end is eth0. Nothing is created in the test's own namespace,
// so deleting the namespaces removes every link and address, and the
// addresses used inside cannot collide with the machine's.
type netLab struct {
	prefix string // unique per run, so parallel runs do not collide
	sw     string // the switch namespace
}

// requireNetLab checks for root and the tools the namespace tests run.
// Without them the test skips, except in CI (CI set), where it fails.
func requireNetLab(t *testing.T, tools ...string) {
	t.Helper()
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root (network namespaces)")
	}
	for _, tool := range append([]string{"ip"}, tools...) {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) == 0 {
		return
	}
	if os.Getenv("CI") == "" {
		t.Skipf("needs %s (scripts/install-deps.sh installs the packages)", strings.Join(missing, ", "))
	}
	t.Fatalf("needs %s, and CI is set: run scripts/install-deps.sh as root", strings.Join(missing, ", "))
}

// newNetLab creates the switch namespace and its bridge; the namespaces go
// when the test ends, after the processes in them (cleanups run last-in,
// first-out, and the processes are started later).
func newNetLab(t *testing.T) *netLab {
	t.Helper()
	id := make([]byte, 3)
	if _, err := rand.Read(id); err != nil {
		t.Fatal(err)
	}
	l := &netLab{prefix: "edgetest-" + hex.EncodeToString(id)}
	l.sw = l.addNamespace(t, "sw")
	netnstest.IP(t, "-n", l.sw, "link", "add", "br0", "type", "bridge")
	netnstest.IP(t, "-n", l.sw, "link", "set", "br0", "up")
	return l
}

// addNamespace creates a namespace with loopback up and deletes it at the
// end of the test.
func (l *netLab) addNamespace(t *testing.T, role string) string {
	t.Helper()
	ns := l.prefix + "-" + role
	netnstest.IP(t, "netns", "add", ns)
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", ns, err, out)
		}
	})
	netnstest.IP(t, "-n", ns, "link", "set", "lo", "up")
	return ns
}

// addHost creates a namespace for role with eth0 on the bridge at addr
// (with its prefix length) and returns the namespace's name.
func (l *netLab) addHost(t *testing.T, role, addr string) string {
	t.Helper()
	ns := l.addNamespace(t, role)
	netnstest.IP(t, "-n", l.sw, "link", "add", role, "type", "veth", "peer", "name", "eth0", "netns", ns)
	netnstest.IP(t, "-n", l.sw, "link", "set", role, "master", "br0", "up")
	netnstest.IP(t, "-n", ns, "addr", "add", addr, "dev", "eth0")
	netnstest.IP(t, "-n", ns, "link", "set", "eth0", "up")
	return ns
}
