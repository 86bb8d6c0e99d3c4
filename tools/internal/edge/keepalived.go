package edge

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"text/template"

	"sigs.k8s.io/yaml"
)

// Keepalived holds the values of keepalived.conf.tmpl: one VRRP instance
// that keeps the VIP on a healthy host of the pool.
type Keepalived struct {
	// Source names the values file in the generated header.
	Source string `json:"source"`
	// ScriptUser runs the health check; it must not be root.
	ScriptUser string `json:"scriptUser"`
	// CheckScript is the absolute path of check_nginx.sh on the host.
	CheckScript string `json:"checkScript"`
	// Health is nginx's stream health listener, host:port (Config.Health).
	Health string `json:"health"`

	// The check runs every CheckInterval seconds and is killed after
	// CheckTimeout; Fall failures in a row mark the host faulty, Rise
	// successes healthy again.
	CheckInterval int `json:"checkInterval"`
	CheckTimeout  int `json:"checkTimeout"`
	Fall          int `json:"fall"`
	Rise          int `json:"rise"`

	Interface       string `json:"interface"`
	VirtualRouterID int    `json:"virtualRouterID"`
	AdvertInterval  int    `json:"advertInterval"`
	// PreemptDelay is how long, in seconds, a recovered host with the higher
	// priority waits before it takes the VIP back.
	PreemptDelay int `json:"preemptDelay"`
	// VIP is the virtual address with its prefix length, e.g. 10.20.0.10/16.
	VIP   string     `json:"vip"`
	Hosts []VRRPHost `json:"hosts"`
}

// VRRPHost is one host of the pool.
type VRRPHost struct {
	Name     string `json:"name"`
	Address  string `json:"address"`
	Priority int    `json:"priority"`
}

// LoadKeepalived reads a keepalived values file, rejecting unknown fields.
func LoadKeepalived(path string) (Keepalived, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return Keepalived{}, fmt.Errorf("read keepalived values: %w", err)
	}
	var k Keepalived
	if err := yaml.UnmarshalStrict(raw, &k); err != nil {
		return Keepalived{}, fmt.Errorf("parse keepalived values %s: %w", path, err)
	}
	if err := k.Validate(); err != nil {
		return Keepalived{}, fmt.Errorf("keepalived values %s: %w", path, err)
	}
	return k, nil
}

// Validate checks the values the template and VRRP cannot do without.
func (k Keepalived) Validate() error {
	var errs []error
	for name, v := range map[string]string{
		"scriptUser": k.ScriptUser, "checkScript": k.CheckScript, "interface": k.Interface,
	} {
		if v == "" {
			errs = append(errs, fmt.Errorf("%s is empty", name))
		}
	}
	if k.ScriptUser == "root" {
		errs = append(errs, errors.New("scriptUser is root: run the check as an unprivileged user"))
	}
	if _, _, err := net.SplitHostPort(k.Health); err != nil {
		errs = append(errs, fmt.Errorf("health %q: %w", k.Health, err))
	}
	if _, err := netip.ParsePrefix(k.VIP); err != nil {
		errs = append(errs, fmt.Errorf("vip: %w", err))
	}
	if k.CheckInterval <= 0 || k.CheckTimeout <= 0 || k.Fall <= 0 || k.Rise <= 0 || k.AdvertInterval <= 0 {
		errs = append(errs, errors.New("checkInterval, checkTimeout, fall, rise and advertInterval must be positive"))
	}
	if k.CheckTimeout > k.CheckInterval {
		errs = append(errs, fmt.Errorf("checkTimeout %ds exceeds checkInterval %ds: checks would overlap", k.CheckTimeout, k.CheckInterval))
	}
	if k.VirtualRouterID < 1 || k.VirtualRouterID > 255 {
		errs = append(errs, fmt.Errorf("virtualRouterID %d is outside 1-255", k.VirtualRouterID))
	}
	// keepalived's own bounds for preempt_delay.
	if k.PreemptDelay < 0 || k.PreemptDelay > 1000 {
		errs = append(errs, fmt.Errorf("preemptDelay %d is outside 0-1000", k.PreemptDelay))
	}
	if len(k.Hosts) < 2 {
		errs = append(errs, fmt.Errorf("%d hosts, want at least 2 for failover", len(k.Hosts)))
	}
	names, priorities := map[string]bool{}, map[int]string{}
	for i, h := range k.Hosts {
		if h.Name == "" || names[h.Name] {
			errs = append(errs, fmt.Errorf("hosts[%d]: name %q is empty or repeated", i, h.Name))
		}
		names[h.Name] = true
		if _, err := netip.ParseAddr(h.Address); err != nil {
			errs = append(errs, fmt.Errorf("hosts[%d] %s: address: %w", i, h.Name, err))
		}
		// 255 is reserved for the address owner, which would ignore preemption.
		if h.Priority < 1 || h.Priority > 254 {
			errs = append(errs, fmt.Errorf("hosts[%d] %s: priority %d is outside 1-254", i, h.Name, h.Priority))
		}
		if other, dup := priorities[h.Priority]; dup {
			errs = append(errs, fmt.Errorf("hosts[%d] %s: priority %d is also %s's: the election would fall back to comparing addresses", i, h.Name, h.Priority, other))
		}
		priorities[h.Priority] = h.Name
	}
	return errors.Join(errs...)
}

// Host returns the values of the named host.
func (k Keepalived) Host(name string) (VRRPHost, error) {
	for _, h := range k.Hosts {
		if h.Name == name {
			return h, nil
		}
	}
	return VRRPHost{}, fmt.Errorf("no keepalived host %q", name)
}

// keepalivedData is what the template sees for one host.
type keepalivedData struct {
	Keepalived
	Host                   VRRPHost
	Peers                  []string
	HealthHost, HealthPort string
}

// RenderKeepalived executes the keepalived template text for one host of k.
func RenderKeepalived(tmpl string, k Keepalived, host string) ([]byte, error) {
	if err := k.Validate(); err != nil {
		return nil, err
	}
	h, err := k.Host(host)
	if err != nil {
		return nil, err
	}
	d := keepalivedData{Keepalived: k, Host: h}
	d.HealthHost, d.HealthPort, _ = net.SplitHostPort(k.Health) // checked by Validate
	for _, peer := range k.Hosts {
		if peer.Name != host {
			d.Peers = append(d.Peers, peer.Address)
		}
	}
	t, err := template.New("keepalived.conf").Option("missingkey=error").Parse(tmpl)
	if err != nil {
		return nil, fmt.Errorf("parse keepalived template: %w", err)
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, d); err != nil {
		return nil, fmt.Errorf("render keepalived template for %s: %w", host, err)
	}
	return buf.Bytes(), nil
}
