package edge

import (
	"context"
	"crypto/tls"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/homelab-gitops/homelab/tools/internal/netnstest"
)

// Workers of the local-traffic test, on the failover test's LAN.
const (
	worker1Addr = "198.18.0.21"
	worker2Addr = "198.18.0.22"
	// localRun is how long the client sends requests; shorter than the
	// homelab's failTimeout, so a skipped worker stays skipped throughout.
	localRun = 3 * time.Second
)

// TestUpstreamSkipsWorkerWithoutTraefik runs the homelab's nginx (rendered
// from nginx.conf.tmpl with homelab.yaml's timeouts and retries) in front of
// two workers as externalTrafficPolicy Local makes them look when only one
// has a ready Traefik pod: worker2 serves the NodePort, and worker1's
// address belongs to no namespace, so connections to it get no answer at
// all, as kube-proxy drops them on a node without a local endpoint.
//
// Every request must succeed; the ones that nginx sent to worker1 before
// max_fails took it out of rotation wait one connect timeout, and none
// after. Behind nginx the Traefik stand-in must see what Traefik sees with
// Local: the NGINX host's own address as the peer, and the client's in the
// PROXY header.
func TestUpstreamSkipsWorkerWithoutTraefik(t *testing.T) {
	requireNetLab(t)
	nginx := nginxBinary(t)
	modules := streamModules(t, nginx)

	c := homelabConfig(t)
	_, nodePort, err := net.SplitHostPort(c.Apps.Servers[0])
	if err != nil {
		t.Fatal(err)
	}
	connect, err := time.ParseDuration(c.ConnectTimeout)
	if err != nil {
		t.Fatal(err)
	}

	lab := newNetLab(t)
	client := lab.addHost(t, "client", clientAddr+labPrefix)
	lb := lab.addHost(t, "lb1", lb1Addr+labPrefix)
	worker := lab.addHost(t, "worker2", worker2Addr+labPrefix)

	cert, roots := servingCert(t)
	serverTLS := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	clientTLS := &tls.Config{RootCAs: roots, ServerName: "edge.test", MinVersion: tls.VersionTLS12}
	var ln net.Listener
	if err := netnstest.In(worker, func() (err error) {
		ln, err = net.Listen("tcp", net.JoinHostPort(worker2Addr, nodePort))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	traefik := serveBackend(t, "worker2", ln, serverTLS, lb1Addr, clientAddr)

	dir := hostDir(t, "lb1")
	c.Source = "the local-traffic test"
	c.Includes = nil
	c.LoadModules = modules
	c.User = currentUser(t)
	c.PIDFile = filepath.Join(dir, "nginx.pid")
	c.ErrorLog = filepath.Join(dir, "error.log")
	c.AccessLog = filepath.Join(dir, "access.log")
	c.Apps.Servers = []string{net.JoinHostPort(worker1Addr, nodePort), net.JoinHostPort(worker2Addr, nodePort)}
	c.APIServer.Servers = c.Apps.Servers
	conf, err := Render(readTemplate(t), c)
	if err != nil {
		t.Fatal(err)
	}
	dial := func(addr string) error { return netnstest.In(lb, func() error { return dialLoopback(addr) }) }
	startNginx(t, []string{"ip", "netns", "exec", lb, nginx}, dir, conf, c.ErrorLog, dial,
		net.JoinHostPort("127.0.0.1", c.Apps.Listen), c.Health)

	ctx, cancel := context.WithCancel(context.Background())
	start := time.Now()
	load := startLoad(ctx, client, net.JoinHostPort(lb1Addr, c.Apps.Listen), clientTLS, time.Duration(c.NextUpstreamTries)*connect+time.Second)
	time.Sleep(localRun)
	cancel()
	load.wait()

	answers := load.between(start, start.Add(localRun))
	var failed, delayed int
	var slowest, lastDelayed time.Duration
	for _, a := range answers {
		latency := a.end.Sub(a.start)
		slowest = max(slowest, latency)
		switch {
		case a.err != nil:
			failed++
			if failed <= 5 {
				t.Errorf("request started %v into the run failed: %v", a.start.Sub(start).Round(time.Millisecond), a.err)
			}
		case latency >= connect:
			delayed++
			lastDelayed = max(lastDelayed, a.start.Sub(start))
		}
	}
	t.Logf("%d requests through nginx with worker1 dropping connections: %d failed, %d waited the %s connect timeout (the last started %v into the run), slowest %v; worker2 answered %d",
		len(answers), failed, delayed, c.ConnectTimeout, lastDelayed.Round(time.Millisecond), slowest.Round(time.Millisecond), traefik.served.Load())
	if len(answers) == 0 {
		t.Fatal("no request completed")
	}
	if slowest >= 2*connect {
		t.Errorf("slowest request took %v: a connection waited on worker1 more than once", slowest)
	}
	// The first max_fails connect timeouts end one timeout after the start;
	// from then on worker1 is skipped for failTimeout, longer than the run.
	if limit := connect + 500*time.Millisecond; lastDelayed > limit {
		t.Errorf("a request started %v into the run still waited on worker1; max_fails should have taken it out by %v", lastDelayed, limit)
	}
	if served := traefik.served.Load(); served != traefik.proxyHeaders.Load() {
		t.Errorf("worker2 answered %d connections but only %d carried a PROXY header", served, traefik.proxyHeaders.Load())
	}
}
