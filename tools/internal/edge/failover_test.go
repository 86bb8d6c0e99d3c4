package edge

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/homelab-gitops/homelab/internal/tlstest"
)

// Timings of the failover test. retryWindow is how long after the kill a
// connection may still fail: one that the dead backend had already accepted.
// Every connection started later must succeed.
const (
	clients      = 8
	beforeKill   = 500 * time.Millisecond
	afterKill    = 2500 * time.Millisecond
	retryWindow  = 250 * time.Millisecond
	nginxStartup = 5 * time.Second
)

// TestFailover runs the edge configuration under nginx on loopback in front
// of two TLS backends per listener, kills one backend of each while clients
// keep connecting, and requires every connection started after the retry
// window to succeed on the survivor.
func TestFailover(t *testing.T) {
	nginx := nginxBinary(t)
	cert, roots := servingCert(t)
	serverTLS := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	clientTLS := &tls.Config{RootCAs: roots, ServerName: "edge.test", MinVersion: tls.VersionTLS12}

	apps := []*backend{startBackend(t, "apps-a", serverTLS), startBackend(t, "apps-b", serverTLS)}
	api := []*backend{startBackend(t, "api-a", serverTLS), startBackend(t, "api-b", serverTLS)}

	dir := t.TempDir()
	c := homelabConfig(t)
	c.Source = "the failover test"
	c.Includes = nil
	c.LoadModules = streamModules(t, nginx)
	c.User = currentUser(t)
	c.PIDFile = filepath.Join(dir, "nginx.pid")
	c.ErrorLog = filepath.Join(dir, "error.log")
	c.AccessLog = filepath.Join(dir, "access.log")
	// A dead server is tried again after failTimeout (whole seconds): keep it
	// short, so that the run after the kill spans such attempts, each of which
	// must be retried on the survivor without the client noticing.
	c.FailTimeout = "1s"
	c.Apps.Listen = freeAddr(t)
	c.Apps.Servers = []string{apps[0].addr(), apps[1].addr()}
	c.APIServer.Listen = freeAddr(t)
	c.Health = freeAddr(t)
	c.APIServer.Servers = []string{api[0].addr(), api[1].addr()}
	conf, err := Render(readTemplate(t), c)
	if err != nil {
		t.Fatal(err)
	}
	startNginx(t, []string{nginx}, dir, conf, c.ErrorLog, dialLoopback, c.Apps.Listen, c.APIServer.Listen, c.Health)

	tests := []struct {
		name          string
		listen        string
		backends      []*backend
		proxyProtocol bool
	}{
		{"apps via PROXY protocol", c.Apps.Listen, apps, true},
		{"kube-apiserver passthrough", c.APIServer.Listen, api, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			results, killedAt := runClients(t, tt.listen, clientTLS, tt.backends[0])
			var okBefore, failedInFlight, okAfter, failedAfter int
			servedBy := map[string]int{}
			for _, r := range results {
				switch {
				case r.start.Before(killedAt) && r.err == nil:
					okBefore++
					servedBy[r.backend]++
				case r.start.Before(killedAt.Add(retryWindow)):
					if r.err != nil {
						failedInFlight++
					}
				case r.err != nil:
					failedAfter++
					if failedAfter <= 5 {
						t.Errorf("connection started %v after the kill failed: %v", r.start.Sub(killedAt).Round(time.Millisecond), r.err)
					}
				default:
					okAfter++
					if r.backend != tt.backends[1].name {
						t.Errorf("connection after the kill served by %s", r.backend)
					}
				}
			}
			t.Logf("before kill: %d ok %v; in retry window: %d failed; after: %d ok, %d failed",
				okBefore, servedBy, failedInFlight, okAfter, failedAfter)
			if servedBy[tt.backends[0].name] == 0 || servedBy[tt.backends[1].name] == 0 {
				t.Errorf("before the kill both backends should serve: %v", servedBy)
			}
			if okAfter == 0 {
				t.Error("no connection succeeded after the kill")
			}
			for _, b := range tt.backends {
				served, headers := b.served.Load(), b.proxyHeaders.Load()
				if tt.proxyProtocol && headers != served {
					t.Errorf("%s: %d of %d answered connections carried a PROXY header, want all", b.name, headers, served)
				}
				if !tt.proxyProtocol && headers != 0 {
					t.Errorf("%s: %d answered connections carried a PROXY header, want none", b.name, headers)
				}
			}
		})
	}
}

type result struct {
	start   time.Time
	backend string
	err     error
}

// runClients keeps clients connecting through listen for beforeKill, kills
// victim, continues for afterKill, and returns every connection's result.
func runClients(t *testing.T, listen string, clientTLS *tls.Config, victim *backend) ([]result, time.Time) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var (
		mu      sync.Mutex
		results []result
		wg      sync.WaitGroup
	)
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				start := time.Now()
				name, err := ping(ctx, listen, clientTLS)
				if ctx.Err() != nil {
					return // cut off by the end of the run, not by the proxy
				}
				mu.Lock()
				results = append(results, result{start: start, backend: name, err: err})
				mu.Unlock()
			}
		}()
	}
	time.Sleep(beforeKill)
	killedAt := time.Now()
	victim.kill()
	time.Sleep(afterKill)
	cancel()
	wg.Wait()
	return results, killedAt
}

// ping opens one TLS connection through the proxy and returns the name of
// the backend that answered.
func ping(ctx context.Context, addr string, clientTLS *tls.Config) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", fmt.Errorf("dial: %w", err)
	}
	defer raw.Close()
	if deadline, ok := ctx.Deadline(); ok {
		_ = raw.SetDeadline(deadline)
	}
	conn := tls.Client(raw, clientTLS)
	if err := conn.HandshakeContext(ctx); err != nil {
		return "", fmt.Errorf("handshake: %w", err)
	}
	if _, err := conn.Write([]byte("ping\n")); err != nil {
		return "", fmt.Errorf("write: %w", err)
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("read: %w", err)
	}
	name, ok := strings.CutPrefix(strings.TrimSpace(line), "pong ")
	if !ok {
		return "", fmt.Errorf("unexpected answer %q", line)
	}
	return name, nil
}

// backend is a TLS server that answers "ping" with "pong <name>" to
// connections from peer, after an optional PROXY protocol v1 header that
// must name client as the source.
type backend struct {
	name   string
	ln     net.Listener
	tls    *tls.Config
	client string
	peer   string

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	killed bool
	wg     sync.WaitGroup

	// served counts answered pings; proxyHeaders those that came with a
	// PROXY protocol header.
	served       atomic.Int64
	proxyHeaders atomic.Int64
}

// startBackend serves a backend on loopback, whose clients are local too.
func startBackend(t *testing.T, name string, conf *tls.Config) *backend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return serveBackend(t, name, ln, conf, "127.0.0.1", "127.0.0.1")
}

// serveBackend serves a backend on ln until the test ends. Connections must
// come from peer, and PROXY headers must name client as the source.
func serveBackend(t *testing.T, name string, ln net.Listener, conf *tls.Config, peer, client string) *backend {
	t.Helper()
	b := &backend{name: name, ln: ln, tls: conf, peer: peer, client: client, conns: map[net.Conn]struct{}{}}
	b.wg.Add(1)
	go b.serve()
	t.Cleanup(b.kill)
	return b
}

func (b *backend) addr() string { return b.ln.Addr().String() }

func (b *backend) serve() {
	defer b.wg.Done()
	for {
		c, err := b.ln.Accept()
		if err != nil {
			return
		}
		b.mu.Lock()
		if b.killed {
			b.mu.Unlock()
			c.Close()
			return
		}
		b.conns[c] = struct{}{}
		b.wg.Add(1)
		b.mu.Unlock()
		go func() {
			defer b.wg.Done()
			defer func() {
				b.mu.Lock()
				delete(b.conns, c)
				b.mu.Unlock()
				c.Close()
			}()
			if withHeader, err := b.handle(c); err == nil {
				b.served.Add(1)
				if withHeader {
					b.proxyHeaders.Add(1)
				}
			}
		}()
	}
}

// handle serves one connection and reports whether it began with a PROXY
// protocol header.
func (b *backend) handle(c net.Conn) (withHeader bool, err error) {
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if host, _, _ := net.SplitHostPort(c.RemoteAddr().String()); host != b.peer {
		return false, fmt.Errorf("connection from %s, want %s", host, b.peer)
	}
	r := bufio.NewReader(c)
	if head, err := r.Peek(6); err == nil && string(head) == "PROXY " {
		line, err := r.ReadString('\n')
		if err != nil {
			return false, err
		}
		// PROXY TCP4 <client> <proxy> <client port> <proxy port>\r\n
		if f := strings.Fields(line); len(f) != 6 || f[1] != "TCP4" || f[2] != b.client {
			return false, fmt.Errorf("bad PROXY header %q", line)
		}
		withHeader = true
	}
	conn := tls.Server(&bufferedConn{Conn: c, r: r}, b.tls)
	if err := conn.Handshake(); err != nil {
		return withHeader, err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return withHeader, err
	}
	if strings.TrimSpace(line) != "ping" {
		return withHeader, fmt.Errorf("unexpected request %q", line)
	}
	_, err = fmt.Fprintf(conn, "pong %s\n", b.name)
	return withHeader, err
}

// kill makes the backend vanish like a crashed process: the listener closes
// (new connections are refused) and open connections are cut.
func (b *backend) kill() {
	b.mu.Lock()
	if b.killed {
		b.mu.Unlock()
		return
	}
	b.killed = true
	b.ln.Close()
	for c := range b.conns {
		c.Close()
	}
	b.mu.Unlock()
	b.wg.Wait()
}

// bufferedConn reads through the reader that consumed the PROXY header.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// servingCert issues the TLS certificate of edge.test and returns it with
// the pool of its CA.
func servingCert(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	ca, err := tlstest.NewCA("edge test CA")
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Issue(tlstest.LeafOptions{CommonName: "edge.test", Usage: tlstest.Server, Hosts: []string{"edge.test"}})
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(leaf.CertPEM, leaf.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca.PEM) {
		t.Fatal("the CA certificate does not parse")
	}
	return cert, pool
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// currentUser names the user and group nginx's workers run as: the test's
// own, so that nothing needs a system account.
func currentUser(t *testing.T) string {
	t.Helper()
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	g, err := user.LookupGroupId(u.Gid)
	if err != nil {
		t.Fatal(err)
	}
	return u.Username + " " + g.Name
}

// nginxProcess is an nginx master process, with its workers in its process
// group.
type nginxProcess struct {
	pgid int
	// exited is closed when the master process has exited.
	exited chan struct{}
}

// crash kills nginx's whole process group at once, as a crash or the OOM
// killer would: the listeners vanish without a graceful shutdown.
func (p *nginxProcess) crash() {
	_ = syscall.Kill(-p.pgid, syscall.SIGKILL)
	<-p.exited
}

// startNginx runs argv (nginx, or a command that execs it, such as ip netns
// exec) in the foreground in its own process group with the given
// configuration, waits until dial reaches every address, and stops the
// whole group when the test ends.
func startNginx(t *testing.T, argv []string, dir string, conf []byte, errorLog string, dial func(addr string) error, addrs ...string) *nginxProcess {
	t.Helper()
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, conf, 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	args := append(argv[1:len(argv):len(argv)], "-p", dir, "-c", path, "-e", errorLog, "-g", "daemon off;")
	cmd := exec.Command(argv[0], args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start nginx: %v", err)
	}
	p := &nginxProcess{pgid: cmd.Process.Pid, exited: make(chan struct{})}
	var waitErr error // set before exited is closed
	go func() {
		waitErr = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() { stopGroup(t, p.pgid, p.exited) })

	deadline := time.Now().Add(nginxStartup)
	for _, addr := range addrs {
		for dial(addr) != nil {
			select {
			case <-p.exited:
				log, _ := os.ReadFile(errorLog)
				t.Fatalf("nginx exited at start: %v\n%s%s", waitErr, out.String(), log)
			default:
			}
			if time.Now().After(deadline) {
				log, _ := os.ReadFile(errorLog)
				t.Fatalf("nginx does not listen on %s after %v\n%s%s", addr, nginxStartup, out.String(), log)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return p
}

// dialLoopback is startNginx's dial for addresses of the test's own
// network namespace.
func dialLoopback(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
	if err != nil {
		return err
	}
	return c.Close()
}

// stopGroup stops a process group's leader (fast shutdown for nginx), then
// makes sure no process of its group is left.
func stopGroup(t *testing.T, pgid int, exited <-chan struct{}) {
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-exited
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		err := syscall.Kill(-pgid, 0)
		if errors.Is(err, syscall.ESRCH) {
			return
		}
		if time.Now().After(deadline) {
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			t.Errorf("processes of group %d still running after shutdown", pgid)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}
