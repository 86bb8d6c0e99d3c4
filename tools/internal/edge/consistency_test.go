package edge

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"

	yamlv3 "go.yaml.in/yaml/v3"
	"sigs.k8s.io/yaml"
)

// readYAMLDocs reads every document of a multi-document YAML file.
func readYAMLDocs(t *testing.T, path string) []map[string]any {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := yamlv3.NewDecoder(bytes.NewReader(raw))
	var docs []map[string]any
	for {
		var doc map[string]any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			t.Fatalf("parse %s: %v", path, err)
		}
		if doc != nil {
			docs = append(docs, doc)
		}
	}
}

func clusterVars(t *testing.T) map[string]string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot(t), "clusters", "homelab", "cluster-vars.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var cm struct {
		Data map[string]string `json:"data"`
	}
	if err := yaml.Unmarshal(raw, &cm); err != nil {
		t.Fatal(err)
	}
	return cm.Data
}

func prefix(t *testing.T, vars map[string]string, key string) netip.Prefix {
	t.Helper()
	p, err := netip.ParsePrefix(vars[key])
	if err != nil {
		t.Fatalf("cluster-vars %s: %v", key, err)
	}
	return p
}

func hostPort(s string) (netip.Addr, string, error) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return netip.Addr{}, "", err
	}
	addr, err := netip.ParseAddr(host)
	return addr, port, err
}

// TestEdgeAgreesWithCluster checks that the host-level configuration (NGINX,
// keepalived, cloudflared, kubeadm) names the same addresses as the values
// Flux substitutes into the cluster (clusters/homelab/cluster-vars.yaml).
func TestEdgeAgreesWithCluster(t *testing.T) {
	root := repoRoot(t)
	vars := clusterVars(t)
	nodes := prefix(t, vars, "NODE_CIDR")
	pool := prefix(t, vars, "EDGE_POOL_CIDR")
	lan := prefix(t, vars, "LAN_CIDR")
	vip, err := netip.ParseAddr(vars["EDGE_VIP"])
	if err != nil {
		t.Fatalf("cluster-vars EDGE_VIP: %v", err)
	}
	nginx := homelabConfig(t)

	var clusterCfg, initCfg map[string]any
	for _, doc := range readYAMLDocs(t, filepath.Join(root, edgeDir, "kubeadm", "cluster-configuration.yaml")) {
		switch doc["kind"] {
		case "ClusterConfiguration":
			clusterCfg = doc
		case "InitConfiguration":
			initCfg = doc
		}
	}
	if clusterCfg == nil || initCfg == nil {
		t.Fatal("kubeadm configuration lacks ClusterConfiguration or InitConfiguration")
	}
	networking, _ := clusterCfg["networking"].(map[string]any)
	apiServer, _ := clusterCfg["apiServer"].(map[string]any)
	localEndpoint, _ := initCfg["localAPIEndpoint"].(map[string]any)

	keepalived := homelabKeepalived(t)
	var traefikValues map[string]any
	for _, doc := range readYAMLDocs(t, filepath.Join(root, "infrastructure", "controllers", "traefik", "release.yaml")) {
		if doc["kind"] == "HelmRelease" {
			spec, _ := doc["spec"].(map[string]any)
			traefikValues, _ = spec["values"].(map[string]any)
		}
	}
	if traefikValues == nil {
		t.Fatal("infrastructure/controllers/traefik/release.yaml has no HelmRelease values")
	}

	tests := []struct {
		name  string
		check func() error
	}{
		{"kubeadm controlPlaneEndpoint is the VIP", func() error {
			if got, want := fmt.Sprint(clusterCfg["controlPlaneEndpoint"]), net.JoinHostPort(vip.String(), "6443"); got != want {
				return fmt.Errorf("controlPlaneEndpoint %s, want %s", got, want)
			}
			return nil
		}},
		{"kubeadm certSANs name the VIP", func() error {
			sans, _ := apiServer["certSANs"].([]any)
			if !slices.Contains(sans, any(vip.String())) {
				return fmt.Errorf("certSANs %v lack %s", sans, vip)
			}
			return nil
		}},
		{"kubeadm subnets match cluster-vars", func() error {
			var errs []error
			if networking["podSubnet"] != vars["POD_CIDR"] {
				errs = append(errs, fmt.Errorf("podSubnet %v, POD_CIDR %s", networking["podSubnet"], vars["POD_CIDR"]))
			}
			if networking["serviceSubnet"] != vars["SERVICE_CIDR"] {
				errs = append(errs, fmt.Errorf("serviceSubnet %v, SERVICE_CIDR %s", networking["serviceSubnet"], vars["SERVICE_CIDR"]))
			}
			return errors.Join(errs...)
		}},
		{"NGINX forwards 6443 to the control-plane nodes", func() error {
			var errs []error
			var hosts []string
			for _, s := range nginx.APIServer.Servers {
				addr, port, err := hostPort(s)
				switch {
				case err != nil:
					errs = append(errs, err)
				case !nodes.Contains(addr) || port != "6443":
					errs = append(errs, fmt.Errorf("API server %s is not a node address in %s on port 6443", s, nodes))
				}
				hosts = append(hosts, addr.String())
			}
			if len(hosts) != 3 {
				errs = append(errs, fmt.Errorf("%d API servers, want the 3 control-plane nodes", len(hosts)))
			}
			if adv := fmt.Sprint(localEndpoint["advertiseAddress"]); !slices.Contains(hosts, adv) {
				errs = append(errs, fmt.Errorf("kubeadm advertiseAddress %s is not an NGINX API server", adv))
			}
			return errors.Join(errs...)
		}},
		{"NGINX forwards 443 to Traefik's NodePort", func() error {
			var errs []error
			for _, s := range nginx.Apps.Servers {
				addr, port, err := hostPort(s)
				switch {
				case err != nil:
					errs = append(errs, err)
				case !nodes.Contains(addr) || port != vars["TRAEFIK_HTTPS_NODEPORT"]:
					errs = append(errs, fmt.Errorf("apps server %s is not a node address in %s on TRAEFIK_HTTPS_NODEPORT %s", s, nodes, vars["TRAEFIK_HTTPS_NODEPORT"]))
				}
			}
			if !nginx.Apps.ProxyProtocol {
				errs = append(errs, errors.New("apps listener without PROXY protocol: Traefik would see NGINX's address, not the client's"))
			}
			return errors.Join(errs...)
		}},
		{"Traefik keeps client addresses and NGINX skips workers without it", func() error {
			var errs []error
			service, _ := traefikValues["service"].(map[string]any)
			spec, _ := service["spec"].(map[string]any)
			if policy := spec["externalTrafficPolicy"]; policy != "Local" {
				errs = append(errs, fmt.Errorf("Traefik's Service has externalTrafficPolicy %v: kube-proxy would SNAT NGINX's connections to a node address, Traefik would ignore the PROXY header and every client would look like a node; set Local (docs/edge.md)", policy))
			}
			if err := nginx.CheckLocalTrafficUpstream("apps", nginx.Apps); err != nil {
				errs = append(errs, fmt.Errorf("NGINX apps upstream to a NodePort with externalTrafficPolicy Local: %w", err))
			}
			ports, _ := traefikValues["ports"].(map[string]any)
			websecure, _ := ports["websecure"].(map[string]any)
			for _, setting := range []string{"proxyProtocol", "forwardedHeaders"} {
				s, _ := websecure[setting].(map[string]any)
				if trusted := fmt.Sprint(s["trustedIPs"]); trusted != "[${EDGE_POOL_CIDR}]" {
					errs = append(errs, fmt.Errorf("websecure %s.trustedIPs %s, want only ${EDGE_POOL_CIDR}: NGINX's own addresses are the only source of the header", setting, trusted))
				}
			}
			return errors.Join(errs...)
		}},
		{"keepalived holds the VIP between pool hosts", func() error {
			var errs []error
			if p, err := netip.ParsePrefix(keepalived.VIP); err != nil || p.Addr() != vip || p.Bits() != lan.Bits() {
				errs = append(errs, fmt.Errorf("keepalived vip %s is not EDGE_VIP %s with LAN_CIDR's prefix length /%d", keepalived.VIP, vip, lan.Bits()))
			}
			for _, h := range keepalived.Hosts {
				if a, err := netip.ParseAddr(h.Address); err != nil || !pool.Contains(a) {
					errs = append(errs, fmt.Errorf("keepalived host %s address %s is not in EDGE_POOL_CIDR %s", h.Name, h.Address, pool))
				}
			}
			if keepalived.Health != nginx.Health {
				errs = append(errs, fmt.Errorf("keepalived checks %s but nginx's health listener is %s", keepalived.Health, nginx.Health))
			}
			return errors.Join(errs...)
		}},
		{"cloudflared publishes no hostname and routes WARP", func() error {
			docs := readYAMLDocs(t, filepath.Join(root, edgeDir, "cloudflared", "config.yml"))
			if len(docs) != 1 {
				return fmt.Errorf("%d documents in cloudflared config", len(docs))
			}
			cfg := docs[0]
			warp, _ := cfg["warp-routing"].(map[string]any)
			if warp["enabled"] != true {
				return errors.New("warp-routing is not enabled")
			}
			rules, _ := cfg["ingress"].([]any)
			for _, r := range rules {
				if rule, _ := r.(map[string]any); rule["hostname"] != nil {
					return fmt.Errorf("ingress rule publishes hostname %v", rule["hostname"])
				}
			}
			return nil
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.check(); err != nil {
				t.Error(err)
			}
		})
	}
}
