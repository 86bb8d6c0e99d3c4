// Package edge renders the NGINX stream configuration of the homelab's edge
// pool (infrastructure/edge/nginx) from its template and a values file.
//
// The same template serves the real pool (homelab.yaml) and the tests, which
// render it with loopback upstreams and run it under Debian's nginx.
package edge

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"text/template"
	"time"

	"sigs.k8s.io/yaml"
)

// Config holds the values of nginx.conf.tmpl.
type Config struct {
	// Source names the values file in the generated header.
	Source string `json:"source"`
	// LoadModules are module files loaded with load_module.
	LoadModules []string `json:"loadModules,omitempty"`
	// Includes are main-context include patterns (Debian's modules-enabled).
	Includes []string `json:"includes,omitempty"`
	// User runs the worker processes; empty keeps nginx's default.
	User string `json:"user,omitempty"`

	PIDFile           string `json:"pidFile"`
	ErrorLog          string `json:"errorLog"`
	AccessLog         string `json:"accessLog"`
	WorkerConnections int    `json:"workerConnections"`
	// Health is the address (host:port) of the stream server that answers
	// keepalived's health check.
	Health string `json:"health"`

	// MaxFails failed attempts within FailTimeout take a server out of
	// rotation for FailTimeout (passive health check and backoff).
	MaxFails    int    `json:"maxFails"`
	FailTimeout string `json:"failTimeout"`
	// ConnectTimeout bounds one connection attempt to an upstream server.
	ConnectTimeout string `json:"connectTimeout"`
	// NextUpstreamTries and NextUpstreamTimeout bound the retries of one
	// client connection over the servers of its upstream.
	NextUpstreamTries   int    `json:"nextUpstreamTries"`
	NextUpstreamTimeout string `json:"nextUpstreamTimeout"`

	APIServer Listener `json:"apiServer"`
	Apps      Listener `json:"apps"`
}

// Listener is one stream server and its upstream.
type Listener struct {
	// Listen is the listen directive's address: "6443" or "127.0.0.1:6443".
	Listen string `json:"listen"`
	// IdleTimeout is proxy_timeout: the longest silence on a session.
	IdleTimeout string `json:"idleTimeout"`
	// ProxyProtocol sends the client address in a PROXY protocol header.
	ProxyProtocol bool `json:"proxyProtocol,omitempty"`
	// Servers are the upstream addresses, host:port.
	Servers []string `json:"servers"`
}

// LoadConfig reads a values file, rejecting unknown fields.
func LoadConfig(path string) (Config, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("read edge values: %w", err)
	}
	var c Config
	if err := yaml.UnmarshalStrict(raw, &c); err != nil {
		return Config{}, fmt.Errorf("parse edge values %s: %w", path, err)
	}
	if err := c.Validate(); err != nil {
		return Config{}, fmt.Errorf("edge values %s: %w", path, err)
	}
	return c, nil
}

// Validate checks the values the template cannot do without.
func (c Config) Validate() error {
	var errs []error
	for name, v := range map[string]string{
		"pidFile": c.PIDFile, "errorLog": c.ErrorLog, "accessLog": c.AccessLog, "health": c.Health,
		"failTimeout": c.FailTimeout, "connectTimeout": c.ConnectTimeout, "nextUpstreamTimeout": c.NextUpstreamTimeout,
	} {
		if v == "" {
			errs = append(errs, fmt.Errorf("%s is empty", name))
		}
	}
	if c.WorkerConnections <= 0 || c.MaxFails <= 0 || c.NextUpstreamTries <= 0 {
		errs = append(errs, errors.New("workerConnections, maxFails and nextUpstreamTries must be positive"))
	}
	if c.Health != "" {
		if _, _, err := net.SplitHostPort(c.Health); err != nil {
			errs = append(errs, fmt.Errorf("health %q: %w", c.Health, err))
		}
	}
	for name, l := range map[string]Listener{"apiServer": c.APIServer, "apps": c.Apps} {
		if l.Listen == "" || l.IdleTimeout == "" {
			errs = append(errs, fmt.Errorf("%s: listen and idleTimeout are required", name))
		}
		if len(l.Servers) < 2 {
			errs = append(errs, fmt.Errorf("%s: %d servers, want at least 2 for failover", name, len(l.Servers)))
		}
		for _, s := range l.Servers {
			if _, port, err := net.SplitHostPort(s); err != nil {
				errs = append(errs, fmt.Errorf("%s: server %q: %w", name, s, err))
			} else if _, err := strconv.ParseUint(port, 10, 16); err != nil {
				errs = append(errs, fmt.Errorf("%s: server %q: bad port", name, s))
			}
		}
	}
	return errors.Join(errs...)
}

// Render executes the template text with c.
func Render(tmpl string, c Config) ([]byte, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	t, err := template.New("nginx.conf").Option("missingkey=error").Parse(tmpl)
	if err != nil {
		return nil, fmt.Errorf("parse nginx template: %w", err)
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, c); err != nil {
		return nil, fmt.Errorf("render nginx template: %w", err)
	}
	return buf.Bytes(), nil
}

// maxLocalConnectTimeout bounds the connect timeout towards NodePorts with
// externalTrafficPolicy Local: every connection NGINX sends to a node
// without a ready pod waits this long before it moves on.
const maxLocalConnectTimeout = 2 * time.Second

// CheckLocalTrafficUpstream reports what listener l's upstream lacks when
// its servers are NodePorts of a Service with externalTrafficPolicy Local.
// Such a node without a ready pod drops the connection, so NGINX must give
// up on it quickly, retry on another node within the same client
// connection, and skip it for a while (max_fails, fail_timeout).
func (c Config) CheckLocalTrafficUpstream(name string, l Listener) error {
	var errs []error
	durations := map[string]time.Duration{}
	for field, v := range map[string]string{
		"connectTimeout": c.ConnectTimeout, "nextUpstreamTimeout": c.NextUpstreamTimeout, "failTimeout": c.FailTimeout,
	} {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			errs = append(errs, fmt.Errorf("%s %q is not a positive duration such as 1s", field, v))
		}
		durations[field] = d
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	connect, servers := durations["connectTimeout"], len(l.Servers)
	if connect > maxLocalConnectTimeout {
		errs = append(errs, fmt.Errorf("connectTimeout %s: a node without a ready pod drops the connection, which then waits that long; keep it at %s or less", c.ConnectTimeout, maxLocalConnectTimeout))
	}
	if c.NextUpstreamTries < servers {
		errs = append(errs, fmt.Errorf("nextUpstreamTries %d is below %s's %d servers: a client connection may give up before it reaches a node with a ready pod", c.NextUpstreamTries, name, servers))
	}
	if next := durations["nextUpstreamTimeout"]; next < time.Duration(servers)*connect {
		errs = append(errs, fmt.Errorf("nextUpstreamTimeout %s is shorter than trying %s's %d servers (%d × connectTimeout %s)", c.NextUpstreamTimeout, name, servers, servers, c.ConnectTimeout))
	}
	if durations["failTimeout"] < 2*connect {
		errs = append(errs, fmt.Errorf("failTimeout %s: a node that failed is tried again so soon that clients keep paying its connect timeout; make it several connect timeouts (10s)", c.FailTimeout))
	}
	if !l.ProxyProtocol {
		errs = append(errs, fmt.Errorf("%s sends no PROXY header: with externalTrafficPolicy Local the pods see NGINX's address, and only the header carries the client's", name))
	}
	return errors.Join(errs...)
}
