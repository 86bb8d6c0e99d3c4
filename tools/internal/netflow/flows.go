// Package netflow checks the NetworkPolicies of a rendered cluster against
// a declared list of the flows the platform needs (from, to, port, why):
// every declared flow must be allowed, every flow that crosses a namespace
// or leaves the cluster and is not declared must be denied, and every
// workload must be one of the declared endpoints.
//
// Policies are evaluated as Kubernetes specifies them, with the CNI's
// choice where the specification leaves one: ipBlock peers match only
// addresses outside the pod network (Cilium's semantics: CIDR rules never
// select cluster endpoints), so pod-to-pod traffic is allowed only by pod
// and namespace selectors.
package netflow

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Endpoint is one side of a flow: pods (a namespace and labels their pods
// carry) or addresses outside the pod network (a CIDR).
type Endpoint struct {
	Name      string
	Namespace string            `yaml:"namespace"`
	Pods      map[string]string `yaml:"pods"`
	CIDR      string            `yaml:"cidr"`
	Why       string            `yaml:"why"`
	prefix    netip.Prefix
	line      int
}

// IsPods reports whether the endpoint is a set of pods.
func (e *Endpoint) IsPods() bool { return e.CIDR == "" }

// Port is a port number and protocol.
type Port struct {
	Number   int
	Protocol string // TCP, UDP or SCTP
}

func (p Port) String() string { return fmt.Sprintf("%d/%s", p.Number, p.Protocol) }

// Flow is one declared flow.
type Flow struct {
	From  []string
	To    []string
	Ports []Port
	Why   string
	Line  int
}

// File is a parsed flow file.
type File struct {
	Path      string
	Endpoints map[string]*Endpoint
	Flows     []Flow
}

type rawFlow struct {
	From  yaml.Node `yaml:"from"`
	To    yaml.Node `yaml:"to"`
	Ports []string  `yaml:"ports"`
	Why   string    `yaml:"why"`
}

var variable = regexp.MustCompile(`\$\{([A-Za-z0-9_]+)\}`)

// Load reads a flow file, replacing ${VAR} with vars (the cluster's
// postBuild values), and returns it or an error naming the file and line.
func Load(path string, vars map[string]string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read flows: %w", err)
	}
	var missing []string
	data = variable.ReplaceAllFunc(data, func(m []byte) []byte {
		name := string(variable.FindSubmatch(m)[1])
		v, ok := vars[name]
		if !ok {
			missing = append(missing, name)
		}
		return []byte(v)
	})
	if len(missing) > 0 {
		return nil, fmt.Errorf("%s: variables without a value: %s", path, strings.Join(missing, ", "))
	}
	var doc struct {
		Endpoints yaml.Node   `yaml:"endpoints"`
		Flows     []yaml.Node `yaml:"flows"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	f := &File{Path: path, Endpoints: map[string]*Endpoint{}}
	at := func(line int, format string, args ...any) error {
		return fmt.Errorf("%s:%d: %s", path, line, fmt.Sprintf(format, args...))
	}
	if doc.Endpoints.Kind != yaml.MappingNode {
		return nil, at(doc.Endpoints.Line, "endpoints must be a mapping of names to endpoints")
	}
	for i := 0; i+1 < len(doc.Endpoints.Content); i += 2 {
		name, node := doc.Endpoints.Content[i], doc.Endpoints.Content[i+1]
		var e Endpoint
		if err := strictDecode(node, &e); err != nil {
			return nil, at(node.Line, "endpoint %s: %v", name.Value, err)
		}
		e.Name, e.line = name.Value, name.Line
		switch {
		case e.CIDR != "" && (e.Namespace != "" || len(e.Pods) > 0):
			return nil, at(name.Line, "endpoint %s: give either cidr or namespace and pods, not both", e.Name)
		case e.CIDR != "":
			p, err := netip.ParsePrefix(e.CIDR)
			if err != nil {
				return nil, at(name.Line, "endpoint %s: cidr: %v", e.Name, err)
			}
			e.prefix = p.Masked()
		case e.Namespace == "" || len(e.Pods) == 0:
			return nil, at(name.Line, "endpoint %s: pods need a namespace and at least one label under pods", e.Name)
		}
		if _, dup := f.Endpoints[e.Name]; dup {
			return nil, at(name.Line, "endpoint %s is defined twice", e.Name)
		}
		f.Endpoints[e.Name] = &e
	}
	for _, node := range doc.Flows {
		var r rawFlow
		if err := strictDecode(&node, &r); err != nil {
			return nil, at(node.Line, "flow: %v", err)
		}
		fl := Flow{Why: r.Why, Line: node.Line}
		if strings.TrimSpace(r.Why) == "" {
			return nil, at(node.Line, "flow without why: say what needs it")
		}
		for _, side := range []struct {
			node *yaml.Node
			dst  *[]string
			key  string
		}{{&r.From, &fl.From, "from"}, {&r.To, &fl.To, "to"}} {
			names, err := nameList(side.node)
			if err != nil || len(names) == 0 {
				return nil, at(node.Line, "flow: %s must be an endpoint name or a list of them", side.key)
			}
			for _, n := range names {
				if _, ok := f.Endpoints[n]; !ok {
					return nil, at(node.Line, "flow: %s names endpoint %q, which endpoints does not define", side.key, n)
				}
			}
			*side.dst = names
		}
		if len(r.Ports) == 0 {
			return nil, at(node.Line, "flow: ports is empty")
		}
		for _, s := range r.Ports {
			p, err := parsePort(s)
			if err != nil {
				return nil, at(node.Line, "flow: port %q: %v", s, err)
			}
			fl.Ports = append(fl.Ports, p)
		}
		f.Flows = append(f.Flows, fl)
	}
	return f, nil
}

// strictDecode decodes n into v, rejecting fields v does not have (a
// yaml.Node's own Decode ignores them).
func strictDecode(n *yaml.Node, v any) error {
	raw, err := yaml.Marshal(n)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	return dec.Decode(v)
}

func nameList(n *yaml.Node) ([]string, error) {
	switch n.Kind {
	case yaml.ScalarNode:
		return []string{n.Value}, nil
	case yaml.SequenceNode:
		var out []string
		err := n.Decode(&out)
		return out, err
	}
	return nil, fmt.Errorf("not a name or a list")
}

// parsePort reads "8080" (TCP) or "53/UDP".
func parsePort(s string) (Port, error) {
	num, proto, ok := strings.Cut(s, "/")
	if !ok {
		proto = "TCP"
	}
	proto = strings.ToUpper(proto)
	if !slices.Contains([]string{"TCP", "UDP", "SCTP"}, proto) {
		return Port{}, fmt.Errorf("protocol %s, want TCP, UDP or SCTP", proto)
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 1 || n > 65535 {
		return Port{}, fmt.Errorf("port number %q, want 1-65535", num)
	}
	return Port{Number: n, Protocol: proto}, nil
}

// declared reports whether from -> to on port is among the declared flows.
func (f *File) declared(from, to string, p Port) bool {
	for _, fl := range f.Flows {
		if slices.Contains(fl.From, from) && slices.Contains(fl.To, to) && slices.Contains(fl.Ports, p) {
			return true
		}
	}
	return false
}

// names returns the endpoint names in order.
func (f *File) names() []string {
	out := make([]string, 0, len(f.Endpoints))
	for n := range f.Endpoints {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
