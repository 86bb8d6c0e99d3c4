package edge

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/homelab-gitops/homelab/tools/internal/netnstest"
)

var vipFull = flag.Bool("vip-full", false, "run TestVIPFailover with the homelab's own preempt delay instead of a short one")

// The VIP failover test's LAN lives in its own namespaces only, on the
// benchmarking range (RFC 2544).
const (
	lb1Addr    = "198.18.0.2"
	lb2Addr    = "198.18.0.3"
	clientAddr = "198.18.0.100"
	vipAddr    = "198.18.0.10"
	labPrefix  = "/24"

	// shortPreemptDelay replaces the homelab's delay unless -vip-full.
	shortPreemptDelay = 5
	// loadInterval is the gap between two requests of the client.
	loadInterval = 20 * time.Millisecond
	// requestTimeout bounds one request; a VIP nobody holds makes the
	// client's ARP go unanswered, which only a timeout ends.
	requestTimeout = time.Second
	// settle is how long the load runs on a stable VIP before and after each move.
	settle = 1500 * time.Millisecond
)

// TestVIPFailover runs the pool as the repository configures it: two edge
// hosts in network namespaces, each with nginx rendered from nginx.conf.tmpl
// and keepalived rendered from keepalived.conf.tmpl (the real values, with
// the test's addresses and file locations), and the repository's
// check_nginx.sh run by keepalived as the unprivileged user nobody. A client
// in a third namespace sends a TLS request through the VIP every 20 ms;
// behind each nginx, TLS backends answer with their host's name and check
// that the PROXY header names the client.
//
// It kills nginx on the master and measures how long until the VIP answers
// from the backup, then restores nginx and measures the move back, which
// must wait for the preemption delay. -vip-full uses the homelab's own
// delay (make test-vip); the short run uses a few seconds.
func TestVIPFailover(t *testing.T) {
	requireNetLab(t, "keepalived", "bash")
	nginx := nginxBinary(t)
	modules := streamModules(t, nginx)
	root := repoRoot(t)

	k, err := LoadKeepalived(filepath.Join(root, edgeDir, "keepalived", "homelab.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !*vipFull {
		k.PreemptDelay = shortPreemptDelay
	}
	k.Source = "the VIP failover test"
	k.ScriptUser = "nobody"
	k.VIP = vipAddr + labPrefix
	k.Hosts = []VRRPHost{
		{Name: "lb1", Address: lb1Addr, Priority: 110},
		{Name: "lb2", Address: lb2Addr, Priority: 100},
	}
	tmpl, err := os.ReadFile(filepath.Join(root, edgeDir, "keepalived", "keepalived.conf.tmpl"))
	if err != nil {
		t.Fatal(err)
	}
	script, err := os.ReadFile(filepath.Join(root, edgeDir, "keepalived", "check_nginx.sh"))
	if err != nil {
		t.Fatal(err)
	}

	lab := newNetLab(t)
	client := lab.addHost(t, "client", clientAddr+labPrefix)
	cert, roots := servingCert(t)
	serverTLS := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	clientTLS := &tls.Config{RootCAs: roots, ServerName: "edge.test", MinVersion: tls.VersionTLS12}

	hosts := map[string]*edgeHost{}
	for _, h := range k.Hosts {
		eh := &edgeHost{name: h.Name, ns: lab.addHost(t, h.Name, h.Address+labPrefix), dir: hostDir(t, h.Name)}
		eh.renderNginx(t, modules, serverTLS)
		eh.startNginx(t, nginx)
		hosts[h.Name] = eh
	}
	// The check script must be executable by nobody, from a path only root
	// can write (keepalived's script security).
	k.CheckScript = filepath.Join(hostDir(t, "keepalived"), "check_nginx.sh")
	if err := os.WriteFile(k.CheckScript, script, 0o755); err != nil {
		t.Fatal(err)
	}
	conf := map[string][]byte{}
	for _, h := range k.Hosts {
		if conf[h.Name], err = RenderKeepalived(string(tmpl), k, h.Name); err != nil {
			t.Fatal(err)
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	load := startLoad(ctx, client, net.JoinHostPort(vipAddr, "443"), clientTLS, requestTimeout)
	defer func() {
		cancel()
		load.wait()
	}()

	// lb1 starts first and becomes master; lb2, started once lb1 holds the
	// VIP, stays backup. Started together, either could win the first
	// election, and lb1 would then wait for the preemption delay.
	start := time.Now()
	hosts["lb1"].startKeepalived(t, conf["lb1"])
	if _, err := load.firstFrom("lb1", start, 15*time.Second); err != nil {
		t.Fatalf("the VIP never answered from lb1: %v", err)
	}
	hosts["lb2"].startKeepalived(t, conf["lb2"])
	time.Sleep(settle)
	steady := time.Now()
	time.Sleep(settle)
	load.requireStable(t, "before the kill", "lb1", steady, time.Now())

	// Failover: nginx on the master dies; the check fails `fall` times, lb1
	// goes to FAULT and lb2 takes the VIP without waiting for any delay.
	killed := time.Now()
	hosts["lb1"].nginx.crash()
	// The checks that fail, one more interval for where the kill falls in
	// it, and three advertisements: a failover that waited for the
	// preemption delay (a check with a weight) takes longer.
	failoverLimit := time.Duration((k.Fall+1)*k.CheckInterval+3*k.AdvertInterval) * time.Second
	failover, err := load.firstFrom("lb2", killed, failoverLimit)
	if err != nil {
		t.Fatalf("the VIP did not move to lb2 after nginx died on lb1: %v", err)
	}
	time.Sleep(settle) // longer than requestTimeout: every request of the move has ended
	failoverFailed, failoverTotal := load.failures(killed, failover.end)
	load.requireStable(t, "after the failover", "lb2", failover.end, time.Now())

	// Move back: nginx returns on lb1, its check passes `rise` times, lb1
	// becomes BACKUP and takes the VIP back only after the preemption delay.
	restored := time.Now()
	hosts["lb1"].startNginx(t, nginx)
	delay := time.Duration(k.PreemptDelay) * time.Second
	back, err := load.firstFrom("lb1", restored, delay+time.Duration(k.Rise*k.CheckInterval+15)*time.Second)
	if err != nil {
		t.Fatalf("the VIP did not move back to lb1 after nginx returned: %v", err)
	}
	time.Sleep(settle)
	backFailed, backTotal := load.failures(restored, back.end)
	load.requireStable(t, "after the move back", "lb1", back.end, time.Now())

	moveBack := back.end.Sub(restored)
	t.Logf("failover: nginx killed on lb1, VIP answered from lb2 after %.2f s; %d of %d requests failed meanwhile",
		failover.end.Sub(killed).Seconds(), failoverFailed, failoverTotal)
	t.Logf("move back: nginx restored on lb1, VIP answered from lb1 after %.2f s (preempt_delay %d s); %d of %d requests failed meanwhile",
		moveBack.Seconds(), k.PreemptDelay, backFailed, backTotal)
	if moveBack < delay {
		t.Errorf("the VIP moved back after %.2f s, before the preemption delay of %d s", moveBack.Seconds(), k.PreemptDelay)
	}
}

// edgeHost is one namespace of the pool with its nginx and keepalived.
type edgeHost struct {
	name, ns, dir string
	nginxValues   Config
	nginxConf     []byte
	nginx         *nginxProcess
}

// hostDir makes a directory only root can write (keepalived's script
// security) that nobody can traverse (to run the check script).
func hostDir(t *testing.T, name string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for d := dir; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// renderNginx starts this host's two TLS backends inside its namespace and
// renders the homelab's nginx configuration in front of them.
func (h *edgeHost) renderNginx(t *testing.T, modules []string, serverTLS *tls.Config) {
	t.Helper()
	var servers []string
	for range 2 {
		var ln net.Listener
		if err := netnstest.In(h.ns, func() (err error) {
			ln, err = net.Listen("tcp", "127.0.0.1:0")
			return err
		}); err != nil {
			t.Fatal(err)
		}
		servers = append(servers, serveBackend(t, h.name, ln, serverTLS, "127.0.0.1", clientAddr).addr())
	}
	c := homelabConfig(t)
	c.Source = "the VIP failover test"
	c.Includes = nil
	c.LoadModules = modules
	c.User = currentUser(t)
	c.PIDFile = filepath.Join(h.dir, "nginx.pid")
	c.ErrorLog = filepath.Join(h.dir, "error.log")
	c.AccessLog = filepath.Join(h.dir, "access.log")
	c.Apps.Servers = servers
	c.APIServer.Servers = servers
	conf, err := Render(readTemplate(t), c)
	if err != nil {
		t.Fatal(err)
	}
	h.nginxValues, h.nginxConf = c, conf
}

// startNginx starts (or restarts) nginx in the host's namespace and waits
// until it accepts connections on the apps and health listeners.
func (h *edgeHost) startNginx(t *testing.T, nginx string) {
	t.Helper()
	c := h.nginxValues
	dial := func(addr string) error { return netnstest.In(h.ns, func() error { return dialLoopback(addr) }) }
	h.nginx = startNginx(t, []string{"ip", "netns", "exec", h.ns, nginx}, h.dir, h.nginxConf, c.ErrorLog, dial,
		net.JoinHostPort("127.0.0.1", c.Apps.Listen), c.Health)
}

// startKeepalived runs keepalived's VRRP process with conf in the host's
// namespace until the test ends; its log is printed if the test fails.
func (h *edgeHost) startKeepalived(t *testing.T, conf []byte) {
	t.Helper()
	path := filepath.Join(h.dir, "keepalived.conf")
	if err := os.WriteFile(path, conf, 0o644); err != nil {
		t.Fatal(err)
	}
	log, err := os.Create(filepath.Join(h.dir, "keepalived.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { log.Close() })
	cmd := exec.Command("ip", "netns", "exec", h.ns, "keepalived",
		"--dont-fork", "--log-console", "--log-detail", "--no-syslog", "--vrrp",
		"--use-file", path,
		"--pid", filepath.Join(h.dir, "keepalived.pid"),
		"--vrrp_pid", filepath.Join(h.dir, "vrrp.pid"))
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start keepalived on %s: %v", h.name, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		stopGroup(t, cmd.Process.Pid, exited)
		if t.Failed() {
			out, _ := os.ReadFile(log.Name())
			t.Logf("keepalived on %s:\n%s", h.name, out)
		}
	})
}

// answer is the outcome of one request of the load.
type answer struct {
	start, end time.Time
	host       string // the edge host whose backend answered
	err        error
}

// load sends a request to an address every loadInterval from the client
// namespace until its context ends.
type load struct {
	mu      sync.Mutex
	answers []answer
	wg      sync.WaitGroup
}

func startLoad(ctx context.Context, ns, addr string, clientTLS *tls.Config, timeout time.Duration) *load {
	l := &load{}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		tick := time.NewTicker(loadInterval)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			l.wg.Add(1)
			go func() {
				defer l.wg.Done()
				a := answer{start: time.Now()}
				a.err = netnstest.In(ns, func() (err error) {
					rctx, cancel := context.WithTimeout(ctx, timeout)
					defer cancel()
					a.host, err = ping(rctx, addr, clientTLS)
					return err
				})
				a.end = time.Now()
				if ctx.Err() != nil {
					return // cut off by the end of the run
				}
				l.mu.Lock()
				l.answers = append(l.answers, a)
				l.mu.Unlock()
			}()
		}
	}()
	return l
}

func (l *load) wait() { l.wg.Wait() }

// between returns the answers to requests started in [from, to).
func (l *load) between(from, to time.Time) []answer {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []answer
	for _, a := range l.answers {
		if !a.start.Before(from) && a.start.Before(to) {
			out = append(out, a)
		}
	}
	return out
}

// firstFrom waits until host answers a request started at or after since,
// for at most limit, and returns the earliest such answer.
func (l *load) firstFrom(host string, since time.Time, limit time.Duration) (answer, error) {
	deadline := time.Now().Add(limit)
	for {
		var first *answer
		for _, a := range l.between(since, time.Now()) {
			if a.err == nil && a.host == host && (first == nil || a.end.Before(first.end)) {
				first = &a
			}
		}
		if first != nil {
			return *first, nil
		}
		if time.Now().After(deadline) {
			return answer{}, fmt.Errorf("no answer from %s within %v: %s", host, limit, l.summary(since, time.Now()))
		}
		time.Sleep(loadInterval)
	}
}

// failures counts the failed requests started in [from, to), and all of them.
func (l *load) failures(from, to time.Time) (failed, total int) {
	for _, a := range l.between(from, to) {
		total++
		if a.err != nil {
			failed++
		}
	}
	return failed, total
}

// requireStable fails the test unless every request started in [from, to)
// was answered by host.
func (l *load) requireStable(t *testing.T, phase, host string, from, to time.Time) {
	t.Helper()
	answers := l.between(from, to)
	if len(answers) == 0 {
		t.Fatalf("%s: no request completed", phase)
	}
	var bad []string
	for _, a := range answers {
		if a.err != nil || a.host != host {
			bad = append(bad, fmt.Sprintf("%s: %s %v", a.start.Sub(from).Round(time.Millisecond), a.host, a.err))
		}
	}
	if len(bad) > 0 {
		t.Fatalf("%s: %d of %d requests not answered by %s, e.g. %v", phase, len(bad), len(answers), host, bad[:min(5, len(bad))])
	}
}

// summary counts the answers in [from, to) by host and error.
func (l *load) summary(from, to time.Time) string {
	counts := map[string]int{}
	for _, a := range l.between(from, to) {
		key := a.host
		if a.err != nil {
			key = a.err.Error()
		}
		counts[key]++
	}
	return fmt.Sprint(counts)
}
